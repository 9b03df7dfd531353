"""The closing lesson's quiz and the runnable XMPP contrast: the quiz widget checks as it is answered, every quiz
answer is explained and follows the simulator, chat fails at once where mail queues and retries."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from mailhops import lesson_checks as lc
from mailhops import scenarios as sc
from mailhops import widgets as w
from mailhops.widgets.xmpp import POSTFIX_QUEUE, STANZAS_NS, retry_times


# ------------------------------------------------------------------------------------------ the quiz data
def test_the_quiz_asks_at_least_ten_why_questions_each_answer_explained() -> None:
    questions = lc.quiz_questions()
    assert len(questions) >= 10 and len({q.key for q in questions}) == len(questions)
    for q in questions:
        assert "why" in q.prompt.lower() and q.prompt.endswith("?"), q.prompt
        assert q.right in q.options and len(q.options) >= 3 and set(q.why) == set(q.options)
        assert len(set(q.why.values())) == len(q.options), f"{q.key}: two options share an explanation"
        right = lc.check_quiz(q.key, q.right)
        assert right.ok and str(right).startswith("✓ Right")
        for option in q.options:
            if option != q.right:
                verdict = lc.check_quiz(q.key, option)
                assert not verdict.ok and verdict.answered and q.why[option] in verdict.message


def test_the_right_option_is_not_always_the_first() -> None:
    positions = {q.options.index(q.right) for q in lc.quiz_questions()}
    assert len(positions) >= 3


def test_quiz_answers_follow_the_simulator() -> None:
    questions = {q.key: q for q in lc.quiz_questions()}
    assert str(len(sc.run("enterprise").hops)) in questions["enterprise"].prompt
    assert str(len(sc.run("forwarding-loop").hops)) in questions["loop"].prompt
    assert sc.run("mx-fallback").hops[1].by_name in questions["fallback"].prompt
    assert sc.run("dmarc-reject").bounce.envelope_to in questions["envelope"].prompt
    down, _ = w.run_with("three-hops", w.Knobs(primary_mx_down=True))
    assert down.outcome.kind in questions["queue"].right
    assert sc.run("webmail").hops[0].with_ in questions["webmail"].prompt


def test_quiz_answers_by_letter_and_blank_and_unknown() -> None:
    q = lc.quiz_questions()[0]
    letter = "abcdefgh"[q.options.index(q.right)]
    assert lc.check_quiz(q.key, letter).ok and lc.check_quiz(q.key, letter.upper()).ok
    assert not lc.check_quiz(q.key, ...).answered
    assert "not one of the options" in str(lc.check_quiz(q.key, "something else"))
    assert "no quiz question" in str(lc.check_quiz("nope", "a"))


# ------------------------------------------------------------------------------------------ the quiz widget
def test_quiz_widget_checks_each_answer_and_counts() -> None:
    quiz = w.Quiz(lc.quiz_questions(), lc.check_quiz)
    assert quiz.score == (0, 0) and "0 of" in quiz.total.value
    assert "mailhops-quiz" in quiz._dom_classes
    first = lc.quiz_questions()[0]
    wrong = next(o for o in first.options if o != first.right)
    quiz.choices[first.key].value = wrong
    assert quiz.score == (0, 1) and first.why[wrong].split(":")[0][:20] in quiz.feedback[first.key].value
    quiz.choices[first.key].value = first.right
    assert quiz.score == (1, 1)
    assert "Not answered yet" not in str(lc.check_quiz_done(quiz)) and not lc.check_quiz_done(quiz).ok
    for q in lc.quiz_questions():
        quiz.choices[q.key].value = q.right
    assert lc.check_quiz_done(quiz).ok
    for q in lc.quiz_questions()[:3]:
        quiz.choices[q.key].value = next(o for o in q.options if o != q.right)
    assert not lc.check_quiz_done(quiz).ok and lc.check_quiz_done(quiz).answered


def test_quiz_widget_takes_any_questions_and_check() -> None:
    question = SimpleNamespace(key="k", prompt="Why?", options=["x", "y"])
    quiz = w.Quiz([question], lambda key, answer: SimpleNamespace(ok=answer == "x", message=f"said {answer}"))
    quiz.choices["k"].value = "y"
    assert "said y" in quiz.feedback["k"].value and quiz.score == (0, 1)


# ------------------------------------------------------------------------------------------ XMPP versus SMTP
def test_chat_to_a_down_server_fails_at_once_with_an_error_stanza() -> None:
    _, topology = w.run_with("deferred")
    chat = w.send_xmpp(topology, "alice@example.org", "bob@example.net")
    assert not chat.delivered and chat.seconds < 1 and chat.condition == "remote-server-not-found"
    stanza = ET.fromstring(chat.stanza)
    assert stanza.tag == "message" and stanza.get("type") == "error" and stanza.get("from") == "bob@example.net"
    error = stanza.find("error")
    assert error is not None and error.get("type") == "cancel"
    assert error.find(f"{{{STANZAS_NS}}}remote-server-not-found") is not None
    assert any("_xmpp-server._tcp.example.net" in line.text for line in chat.lines)


def test_chat_to_a_running_server_is_direct() -> None:
    _, topology = w.run_with("three-hops")
    chat = w.send_xmpp(topology, "alice@example.org", "bob@example.net")
    assert chat.delivered and not chat.stored and chat.condition is None
    offline = w.send_xmpp(topology, "alice@example.org", "bob@example.net", recipient_online=False)
    assert offline.delivered and offline.stored
    refused = w.send_xmpp(topology, "alice@example.org", "bob@example.net", recipient_online=False,
                          offline_storage=False)
    assert not refused.delivered and refused.condition == "service-unavailable"


def test_retry_times_follow_postfix_backoff() -> None:
    times = retry_times()
    waits = [b - a for a, b in zip(times[:-1], times[1:], strict=True)]
    assert times[0] == 0 and all(POSTFIX_QUEUE["minimal_backoff_time"] <= x <= POSTFIX_QUEUE["maximal_backoff_time"]
                                 for x in waits)
    assert times[-1] <= POSTFIX_QUEUE["maximal_queue_lifetime"] < times[-1] + POSTFIX_QUEUE["maximal_backoff_time"]
    assert waits[:4] == [300, 300, 600, 1200]


@settings(max_examples=20, deadline=None)
@given(down_for=st.integers(0, 6 * 86400))
def test_mail_is_delivered_at_the_first_try_after_the_outage(down_for: int) -> None:
    result = w.send_smtp_with_retries("three-hops", down_for_s=down_for)
    tries = [t for t in retry_times()]
    later = [t for t in tries if t >= down_for]
    if later:
        assert result.delivered and result.attempts[-1].at_s == later[0]
        assert all(a.result == "deferred" for a in result.attempts[:-1])
        assert result.journey.outcome.kind == "delivered"
    else:
        assert not result.delivered and result.attempts[-1].result == "bounced"


def test_bad_outage_gets_a_sentence() -> None:
    import pytest

    from mailhops.errors import MailhopsError

    with pytest.raises(MailhopsError, match="negative"):
        w.send_smtp_with_retries(down_for_s=-1)


def test_chat_vs_mail_widget_follows_the_slider() -> None:
    widget = w.ChatVsMail()
    widget.outage.value = 0
    assert widget.chat.delivered and widget.mail.delivered and len(widget.mail.attempts) == 1
    widget.outage.value = 6 * 3600
    assert widget.chat.condition == "remote-server-not-found" and widget.mail.delivered
    assert "remote-server-not-found" in widget.view.value and "queue" in widget.view.value
    assert "Bob's server down for 1 hour\n" in w.compare_text(3600)


def test_the_reasons_diagram_numbers_every_reason() -> None:
    graph = w.hop_reasons()
    assert len(w.HOP_REASONS) == 6
    for n, name, _ in w.HOP_REASONS:
        assert f"({n}) {name}" in graph.source
    assert graph.graph_attr["mh_desc"].count("(") >= 6
