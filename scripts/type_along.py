"""Type-along copies of the lessons: ``python scripts/type_along.py`` (``make type-along``).

An instructor who live-codes types some cells in front of the room -- the small cache-aside
functions, the cache calls -- and runs the rest (setup, plots, measurements) as they are. A
lesson marks the cells to type with the cell tag ``type-along`` (cell metadata
``{"tags": ["type-along"]}``; JupyterLab: the property inspector, *Common Tools* → *Cell Tags*).
This script writes, for every lesson of the 3-hour plan (00-07, ``LAST_IN_THE_ROOM``), the same
notebook with those cells emptied, each left with one comment that says what to type, into
``type-along/`` (git-ignored):

    lessons/03_memory_cache.ipynb  ->  type-along/03_memory_cache.ipynb

Every other cell is copied unchanged, so the copy runs top to bottom once the typed cells are
typed. The later lessons (08 on, a second session or homework) are copied whole, nothing emptied:
their tagged cells have not been made safe to type (some hold asserts, some fail when run twice),
and a copy of each keeps the "What's next" links of the copies before it opening.

``type-along/`` sits beside ``lessons/``, so a copy's links resolve as the lesson's do
(``../GLOSSARY.md``, the next lesson, ``figures/``, copied along), and learners open it where
they open the lessons: ``make lab`` serves the repository's root (and writes the copies when
there are none), and each hub puts them in every learner's home (``scripts/learner_home.py``).

The copies are generated, never edited by hand: change the lesson (or its tags) and run
``make type-along`` again (it overwrites them, a learner's typing too). ``tests/test_type_along.py``
checks that a copy differs from its lesson only in the typed cells of lessons 00-07, and holds
those cells to what a live-coded workshop needs (few, no asserts, safe to run twice).

    python scripts/type_along.py                 # every lesson, into type-along/
    python scripts/type_along.py --out /tmp/ta   # somewhere else
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import shutil
import sys
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "lessons"
OUT = REPO / "type-along"
TAG = "type-along"
COMMENT_MARK = "# ✍ Type along"
"""How an emptied cell's comment starts (``tests/test_type_along.py`` looks for it)."""


LAST_IN_THE_ROOM = 7
"""The last lesson of the 3-hour plan (INSTRUCTORS.md): only lessons up to it have cells emptied."""

FIGURES = "figures"
"""The lessons' folder of images (``lessons/figures/``), copied beside the copies."""


def lessons(folder: Path = LESSONS) -> list[Path]:
    """The lessons in ``folder``, in order."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def in_the_room(path: Path) -> bool:
    """Whether a lesson (``NN_slug.ipynb``) is taught in the 3-hour plan, so typed along."""
    return int(path.name[:2]) <= LAST_IN_THE_ROOM


def source_of(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def is_typed_live(cell: dict) -> bool:
    """Whether a cell carries the ``type-along`` tag."""
    return TAG in (cell.get("metadata", {}).get("tags") or [])


def what_to_type(source: str) -> str:
    """One line for the emptied cell: what the instructor types there.

    >>> what_to_type("def page():\\n    return 1\\n")
    'define page() (2 lines)'
    >>> what_to_type("cache = {}\\ndef page():\\n    return 1\\n")
    'set cache; define page() (3 lines)'
    >>> what_to_type("clock.advance(5)\\nshop.sell(2, 1)")
    'clock.advance(5) ... (2 lines)'
    """
    lines = [line for line in source.splitlines() if line.strip()]
    count = f"{len(lines)} line{'s' if len(lines) != 1 else ''}"
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (%timeit): name the first line
        return f"{lines[0].strip()} ({count})" if lines else "(an empty cell)"
    defined = [
        f"class {node.name}" if isinstance(node, ast.ClassDef) else f"{node.name}()"
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    if defined:
        assigned = [
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        ]
        setting = f"set {', '.join(assigned)}; " if assigned else ""
        return f"{setting}define {', '.join(defined)} ({count})"
    first = lines[0].strip() if lines else ""
    return f"{first}{' ...' if len(lines) > 1 else ''} ({count})"


def emptied(cell: dict, lesson_name: str) -> dict:
    """The type-along version of a tagged cell: no code, one comment saying what to type."""
    blank = copy.deepcopy(cell)
    blank["source"] = [
        f"{COMMENT_MARK} with the instructor: {what_to_type(source_of(cell))}\n",
        f"# (the whole cell is in lessons/{lesson_name})",
    ]
    blank["outputs"] = []
    blank["execution_count"] = None
    return blank


def type_along(notebook: dict, lesson_name: str) -> dict:
    """The type-along copy of a lesson's notebook (the lesson itself is not changed)."""
    copied = copy.deepcopy(notebook)
    copied["cells"] = [
        emptied(cell, lesson_name)
        if cell.get("cell_type") == "code" and is_typed_live(cell)
        else copy.deepcopy(cell)
        for cell in notebook["cells"]
    ]
    return copied


def dumps(notebook: dict) -> str:
    """A notebook as the course stores them (``indent=1``, UTF-8, a final newline)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def generate(out: Path = OUT, paths: Optional[list[Path]] = None) -> list[Path]:
    """Write the type-along copy of every lesson into ``out`` (lessons after
    ``LAST_IN_THE_ROOM`` whole); return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    paths = paths or lessons()
    wanted = {path.name for path in paths}
    for stale in out.glob("*.ipynb"):  # a lesson renamed or removed leaves no copy behind
        if stale.name not in wanted:
            stale.unlink()
    for path in paths:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        target = out / path.name
        copied = type_along(notebook, path.name) if in_the_room(path) else notebook
        target.write_text(dumps(copied), encoding="utf-8")
        written.append(target)
    figures = paths[0].parent / FIGURES if paths else None
    if figures and figures.is_dir():  # a lesson's images, at the path its markdown names
        shutil.copytree(figures, out / FIGURES, dirs_exist_ok=True)
    return written


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="default: type-along/")
    args = parser.parse_args(argv)
    for target in generate(args.out):
        notebook = json.loads(target.read_text(encoding="utf-8"))
        blanks = sum(COMMENT_MARK in source_of(cell) for cell in notebook["cells"])
        shown = target.relative_to(REPO) if target.is_relative_to(REPO) else target
        after = "" if in_the_room(target) else " (after the 3-hour plan: copied whole)"
        print(f"{shown}: {blanks} cell(s) to type along{after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
