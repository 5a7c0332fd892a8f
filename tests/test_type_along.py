"""The type-along copies (``make type-along``) stay in step with the lessons they come from.

A lesson tags the code cells an instructor types live with ``type-along``; the copy empties those,
leaving a comment that says what to type, and keeps every other cell exactly as the lesson has it.
The copies are generated into the git-ignored ``type-along/``, never edited: this test generates
them afresh and compares, and, when a ``type-along/`` folder exists, checks that it is what the
lessons generate now.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import load_module, load_notebook

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))


type_along = load_module("type_along", REPO / "scripts" / "type_along.py")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("type-along")
    type_along.generate(out)
    return out


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lesson_marks_code_cells_to_type_along_and_only_code_cells(path: Path):
    cells = load_notebook(path)["cells"]
    tagged = [i for i, cell in enumerate(cells) if type_along.is_typed_live(cell)]
    assert tagged, f"{path.name} tags no cell {type_along.TAG!r}: what does the instructor type?"
    not_code = [i for i in tagged if cells[i]["cell_type"] != "code"]
    assert not not_code, f"{path.name}: cells {not_code} are tagged but are not code"


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_the_copy_empties_exactly_the_tagged_cells_and_keeps_every_other_cell(
    path: Path, generated: Path
):
    lesson = load_notebook(path)
    copy = load_notebook(generated / path.name)
    assert copy["metadata"] == lesson["metadata"]
    assert len(copy["cells"]) == len(lesson["cells"]), "a copy has the lesson's cells, one for one"
    for index, (original, copied) in enumerate(zip(lesson["cells"], copy["cells"])):
        if original["cell_type"] == "code" and type_along.is_typed_live(original):
            source = type_along.source_of(copied)
            lines = source.splitlines()
            assert lines and all(line.startswith("#") for line in lines), (
                f"{path.name} cell {index}: the type-along cell still holds code: {source!r}"
            )
            assert source.startswith(type_along.COMMENT_MARK), f"cell {index}: no instruction"
            assert copied["outputs"] == [] and copied["execution_count"] is None
            assert copied["metadata"] == original["metadata"]
        else:
            assert copied == original, f"{path.name} cell {index} differs from the lesson's"


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_each_emptied_cell_says_what_the_lesson_types_there(path: Path, generated: Path):
    lesson, copy = load_notebook(path), load_notebook(generated / path.name)
    for original, copied in zip(lesson["cells"], copy["cells"]):
        if original["cell_type"] == "code" and type_along.is_typed_live(original):
            said = type_along.source_of(copied).splitlines()[0]
            assert type_along.what_to_type(type_along.source_of(original)) in said


def test_what_to_type_names_the_definitions_or_the_first_line_and_the_length():
    assert type_along.what_to_type("def page(key):\n    return key\n") == "define page() (2 lines)"
    assert (
        type_along.what_to_type("cache = {}\n\nclass Pages:\n    pass\n")
        == "set cache; define class Pages (3 lines)"
    )
    assert type_along.what_to_type("clock.advance(5)") == "clock.advance(5) (1 line)"
    assert type_along.what_to_type("%timeit f()\nx = 1") == "%timeit f() (2 lines)"


def test_the_lessons_themselves_are_not_changed_by_generating(tmp_path: Path):
    before = {path: path.read_bytes() for path in LESSONS}
    type_along.generate(tmp_path)
    assert {path: path.read_bytes() for path in LESSONS} == before


def test_generating_removes_the_copy_of_a_lesson_that_is_gone(tmp_path: Path):
    (tmp_path / "99_gone.ipynb").write_text("{}")
    type_along.generate(tmp_path)
    assert not (tmp_path / "99_gone.ipynb").exists()
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [p.name for p in LESSONS]


def test_the_type_along_folder_if_there_is_what_the_lessons_generate_now(generated: Path):
    folder = type_along.OUT
    if not folder.exists():
        return  # nothing generated here yet: the tests above generated their own
    stale = [
        path.name
        for path in LESSONS
        if not (folder / path.name).exists()
        or (folder / path.name).read_bytes() != (generated / path.name).read_bytes()
    ]
    extra = sorted({p.name for p in folder.glob("*.ipynb")} - {p.name for p in LESSONS})
    assert not stale and not extra, (
        f"type-along/ is out of step with the lessons ({stale or extra}): run make type-along "
        "(the copies are generated, never edited by hand)"
    )
