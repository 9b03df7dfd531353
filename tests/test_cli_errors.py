"""Every bad input to the command line gets one sentence and a non-zero exit, never a traceback (issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailhops.cli import main

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str, stdin: str | None = None, shell_pipe: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "mailhops", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, input=stdin)


@pytest.mark.parametrize(("argv", "says"), [
    (["serve", "three-hops", "--port-base", "99999"], "99999 is not a port from 1 to 65000"),
    (["serve", "three-hops", "--port-base", "-1"], "-1 is not a port from 1 to 65000"),
    (["serve", "three-hops", "--port-base", "abc"], "'abc' is not a whole number"),
    (["export", "three-hops", "--dpi", "-5", "-o", "x.png"], "-5 is not a resolution from 10 to 1200 dpi"),
])
def test_bad_option_values_get_one_sentence(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_export_refuses_what_cannot_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "three-hops", "--format", "png", "-o", str(tmp_path / "out.svg")]) == 2
    assert "--format png does not agree with the file name out.svg" in capsys.readouterr().err
    assert not (tmp_path / "out.svg").exists()
    assert main(["export", "three-hops", "-o", "/etc/passwd/x.svg"]) == 2
    assert "Cannot write /etc/passwd/x.svg: /etc/passwd is not a directory." in capsys.readouterr().err
    bare = tmp_path / "bare.eml"
    bare.write_bytes(b"Subject: no trace\r\n\r\nbody\r\n")
    assert main(["export", str(bare), "-o", str(tmp_path / "bare.svg")]) == 2
    assert "bare.eml has no Received header, so there is no route to draw." in capsys.readouterr().err


def test_version_and_help_texts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("mailhops ")
    parser_help = {}
    for command in ("send", "serve", "export", "analyze"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        parser_help[command] = capsys.readouterr().out
    assert "three-hops" in parser_help["send"] and "forwarding-loop" in parser_help["send"]
    assert "--spool DIR" in parser_help["serve"]
    from mailhops.cli import _build_parser

    for action in _build_parser()._subparsers._group_actions[0].choices["send"]._actions:  # type: ignore[union-attr]
        assert action.help, action.option_strings
    for name in ("serve", "export"):
        for action in _build_parser()._subparsers._group_actions[0].choices[name]._actions:  # type: ignore[union-attr]
            assert action.help, (name, action.option_strings)


def test_a_closed_pipe_ends_quietly() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(f"'{sys.executable}' -m mailhops send three-hops --format json | head -1", shell=True,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.stdout.strip() == "{" and proc.stderr == ""


def test_serve_on_sigterm_drains_and_says_what_is_left(tmp_path: Path) -> None:
    import signal
    import time

    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "mailhops", "serve", "three-hops", "--spool", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "Press Ctrl-C" in proc.stdout.readline():
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        err = proc.stderr.read()
        assert "Stopping: no new connections" in err and f"Stopped. The Maildirs stay in {tmp_path}" in err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
