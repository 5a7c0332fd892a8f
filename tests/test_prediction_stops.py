"""Prediction stops: where a lesson asks the learner to guess before a cell runs.

INSTRUCTORS.md plans the stops (its *Predict* lines), and a lesson marks each one with the words
"Guess, then run the cell" in the markdown just before the cell that shows the answer. A stop
only works if that cell comes right after it (the learner runs the next cell, not one further
down) and if its answer is said after the cell, not before it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

LESSONS = Path(__file__).resolve().parents[1] / "lessons"
STOP = "Guess, then run the cell"
PLANNED = {
    "01_the_app": 2,
    "02_repeated_work": 2,
    "03_memory_cache": 4,
    "04_redis_cache": 6,
    "05_stale_reads": 3,
    "07_ttl_tuning": 2,
}
"""Lessons whose stops INSTRUCTORS.md plans for the room, and how many each has at least."""


def cells(lesson: str) -> list[dict]:
    notebook = json.loads((LESSONS / f"{lesson}.ipynb").read_text(encoding="utf-8"))
    return notebook["cells"]


def text(cell: dict) -> str:
    """A cell's source with every run of whitespace (line breaks too) made one space."""
    return re.sub(r"\s+", " ", "".join(cell["source"]))


def stops(lesson: str) -> list[int]:
    """The indexes of the markdown cells that hold a prediction stop."""
    return [
        index
        for index, cell in enumerate(cells(lesson))
        if cell["cell_type"] == "markdown" and STOP in text(cell)
    ]


@pytest.mark.parametrize("lesson", sorted(PLANNED))
def test_the_planned_lessons_mark_their_prediction_stops(lesson: str):
    assert len(stops(lesson)) >= PLANNED[lesson], (
        f"{lesson} should mark {PLANNED[lesson]} prediction stops with '{STOP}'"
    )


@pytest.mark.parametrize("lesson", sorted(path.stem for path in LESSONS.glob("[0-9][0-9]_*.ipynb")))
def test_a_prediction_stop_is_followed_by_the_cell_it_asks_about(lesson: str):
    notebook = cells(lesson)
    for index in stops(lesson):
        assert index + 1 < len(notebook) and notebook[index + 1]["cell_type"] == "code", (
            f"{lesson} cell {index}: a prediction stop should be right before a code cell"
        )
