"""A multiple-choice quiz: one question after another, each answered by picking an option, with the verdict's
sentence right under it and a score at the bottom.

The quiz knows nothing about the answers: it is given the questions (anything with ``key``, ``prompt`` and
``options``) and a ``check(key, answer)`` function returning a verdict with ``ok`` and a sentence (as
:class:`mailhops.lesson_checks.Feedback` does). The lessons pass ``lesson_checks.QUIZ`` and
``lesson_checks.check_quiz``; widgets sit below the lesson checks and never import them.

>>> from types import SimpleNamespace as NS
>>> q = [NS(key="sky", prompt="What colour is the sky?", options=["blue", "green"])]
>>> check = lambda key, answer: NS(ok=answer == "blue", message="Right." if answer == "blue" else "Look up.")
>>> quiz = Quiz(q, check)
>>> quiz.choices["sky"].value = "green"
>>> quiz.verdicts["sky"].ok, quiz.score
(False, (0, 1))
>>> quiz.choices["sky"].value = "blue"
>>> quiz.score
(1, 1)
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W

__all__ = ["Quiz"]


def _verdict_html(verdict: Any) -> str:
    if hasattr(verdict, "_repr_html_"):
        return str(verdict._repr_html_())
    ok = bool(getattr(verdict, "ok", False))
    colors = ("#1d4d2b", "#e8f5ec", "#009e73") if ok else ("#7a3a00", "#fff4e5", "#e69f00")
    text = getattr(verdict, "message", str(verdict))
    return (f'<div style="color:{colors[0]};background:{colors[1]};border-left:4px solid {colors[2]};'
            f'padding:6px 10px">{"✓" if ok else "✗"} {html.escape(text)}</div>')


class Quiz(W.VBox):
    """Questions with radio buttons; picking an option shows at once why it is right or wrong.

    ``choices`` maps each question's key to its radio buttons (``.value`` is the picked option, ``None`` at
    first); ``verdicts`` holds the last verdict per answered question; ``score`` is (right, answered).
    """

    def __init__(self, questions: Sequence[Any], check: Callable[[str, Any], Any], *, title: str = "Quiz") -> None:
        self.questions = list(questions)
        self.check = check
        self.choices: dict[str, W.RadioButtons] = {}
        self.feedback: dict[str, W.HTML] = {}
        self.verdicts: dict[str, Any] = {}
        self.total = W.HTML()
        rows: list[W.Widget] = [W.HTML(f"<h4 style='margin:4px 0'>{html.escape(title)}</h4>")]
        for i, question in enumerate(self.questions, start=1):
            buttons = W.RadioButtons(options=list(question.options), value=None, layout=W.Layout(width="auto"))
            answer = W.HTML()
            buttons.observe(lambda change, key=question.key: self._answered(key, change["new"]), "value")
            self.choices[question.key] = buttons
            self.feedback[question.key] = answer
            rows.append(W.VBox([W.HTML(f"<b>{i}. {html.escape(question.prompt)}</b>"), buttons, answer],
                               layout=W.Layout(margin="0 0 10px 0")))
        rows.append(self.total)
        super().__init__(rows)
        self.add_class("mailhops-quiz")
        self._show_total()

    def _answered(self, key: str, answer: Any) -> None:
        if answer is None:
            return
        verdict = self.check(key, answer)
        self.verdicts[key] = verdict
        self.feedback[key].value = _verdict_html(verdict)
        self._show_total()

    @property
    def score(self) -> tuple[int, int]:
        """(right answers, answered questions)."""
        return sum(1 for v in self.verdicts.values() if getattr(v, "ok", False)), len(self.verdicts)

    def _show_total(self) -> None:
        right, answered = self.score
        self.total.value = (f"<b>{right} of {len(self.questions)} right</b> "
                            f"({answered} answered). Pick another option to see why it is wrong or right.")
