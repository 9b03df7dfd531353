"""The lessons as files: committed without outputs, each opening with its question and ending with exercises;
the glossary as a page of words (markdown only).

Running them top to bottom is nbmake's job (``pytest --nbmake notebooks/``, part of the default options).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from mailhops import lesson_checks

ALL = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
GLOSSARY = "glossary.ipynb"
#: The lessons: every notebook but the glossary. New lessons may come without a number: the course map in
#: 00-start-here gives their order by title.
NOTEBOOKS = [p for p in ALL if p.name != GLOSSARY]
NAMES = [p.name for p in NOTEBOOKS]


def _load(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb


def test_the_course_is_there() -> None:
    assert "00-start-here.ipynb" in NAMES
    assert len(NOTEBOOKS) >= 8, NAMES
    assert all(re.fullmatch(r"(\d\d-)?[a-z0-9-]+\.ipynb", n) for n in NAMES), NAMES
    assert GLOSSARY in [p.name for p in ALL], "the glossary page is missing"


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_committed_without_outputs(path: Path) -> None:
    nb = _load(path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: clear them before committing"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
        assert "attachments" not in cell or not cell.attachments, f"{path.name} cell {i} has attachments"
    assert "widgets" not in nb.metadata, f"{path.name} stores widget state in its metadata"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_opens_with_its_question(path: Path) -> None:
    first = _load(path).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{path.name} must open with a title"
    question = re.search(r"^\*\*The question:\*\* (.+)$", first.source, re.M)
    assert question, f"{path.name}: the first cell must state '**The question:** ...'"
    assert question.group(1).rstrip().endswith("?"), f"{path.name}: the question must be a question"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_ends_with_exercises_and_what_you_learned(path: Path) -> None:
    cells = _load(path).cells
    starts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and re.search(r"^## Exercises\s*$", c.source, re.M)]
    assert len(starts) == 1, f"{path.name} needs exactly one '## Exercises' section"
    last = cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## What you learned"), (
        f"{path.name} must end with a '## What you learned' cell")
    assert len(re.findall(r"^\* ", last.source, re.M)) >= 2, f"{path.name}: 'What you learned' lists at least two points"
    exercise_cells = cells[starts[0]:-1]
    headings = [c for c in exercise_cells if c.cell_type == "markdown" and re.search(r"^### Exercise \d", c.source, re.M)]
    assert 2 <= len(headings) <= 4, f"{path.name} has {len(headings)} exercises; the course asks for 2 to 4"
    checked = [c for c in exercise_cells if c.cell_type == "code" and re.search(r"\bcheck_\w+\(", c.source)]
    assert len(checked) >= 2, f"{path.name}: at least two exercises are checked by a check function"
    # nothing but exercises after the Exercises heading
    assert not any(re.search(r"^## (?!Exercises|What you learned)", c.source, re.M) for c in exercise_cells
                   if c.cell_type == "markdown"), f"{path.name}: a new section starts inside the exercises"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_exercise_checks_exist_and_answers_are_left_blank(path: Path) -> None:
    for cell in _load(path).cells:
        if cell.cell_type != "code":
            continue
        for name in re.findall(r"\b(check_\w+)\(", cell.source):
            assert hasattr(lesson_checks, name), f"{path.name} calls {name}, which mailhops.lesson_checks lacks"
        if re.search(r"^answer = ", cell.source, re.M):
            assert re.search(r"^answer = \[?\.\.\.\]?", cell.source, re.M), f"{path.name} gives an answer away: {cell.source}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_live_lookups_are_marked_as_needing_the_internet(path: Path) -> None:
    cells = _load(path).cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and re.search(r"\blive_(lookup_text|mx)\(", cell.source):
            before = cells[i - 1]
            assert before.cell_type == "markdown" and "needs an Internet connection" in before.source, (
                f"{path.name} cell {i} looks up real DNS without a warning right above it")
            assert "live_mx(" not in cell.source, f"{path.name} cell {i}: use live_lookup_text, which never raises"


def test_the_map_in_start_here_links_every_lesson() -> None:
    start = _load(NOTEBOOKS[0])
    text = "\n".join(c.source for c in start.cells if c.cell_type == "markdown")
    linked = set(re.findall(r"\]\(((?:\d\d-)?[a-z0-9-]+\.ipynb)\)", text))
    assert set(NAMES) - {"00-start-here.ipynb"} <= linked, set(NAMES) - linked
    assert linked <= {p.name for p in ALL}, linked - {p.name for p in ALL}


def test_the_glossary_is_a_page_not_a_lesson() -> None:
    cells = _load(ALL[[p.name for p in ALL].index(GLOSSARY)]).cells
    assert cells and all(c.cell_type == "markdown" for c in cells)


def test_the_explorer_lesson_shows_the_app_with_a_hop_stepper() -> None:
    explorer = [p for p in NOTEBOOKS if "explorer" in p.name]
    assert explorer, "there is no explorer lesson"
    source = "\n".join(c.source for c in _load(explorer[0]).cells if c.cell_type == "code")
    assert "widgets.app(" in source
