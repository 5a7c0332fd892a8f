"""The lessons as stored in git: no outputs, a kernel, the lesson frame, numbered without gaps.

Outputs in a stored notebook are noise in every diff and show the *author's* numbers
instead of the learner's; a missing kernelspec makes JupyterLab ask which kernel to
start; the opening cell is the lesson's contract (title, time, prerequisites).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from support import cell_source, load_notebook

LESSONS = Path(__file__).resolve().parents[1] / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("*.ipynb"))
TITLE = re.compile(r"^# (\d\d) · \S")


def test_there_are_lessons() -> None:
    assert NOTEBOOKS, f"no notebooks in {LESSONS}"


def test_lesson_files_are_numbered_from_00_without_gaps() -> None:
    names = [path.name for path in NOTEBOOKS]
    bad = [name for name in names if not re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", name)]
    assert not bad, f"lesson files are named NN_slug.ipynb (lower case, underscores): {bad}"
    numbers = [int(name[:2]) for name in names]
    assert len(numbers) == len(set(numbers)), f"two lessons share a number: {names}"
    assert numbers == list(range(len(numbers))), (
        f"lesson numbers must run 00, 01, 02, ... without gaps: {names}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_stored_without_outputs(path: Path) -> None:
    notebook = load_notebook(path)
    dirty = [
        index
        for index, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} were stored with outputs or execution counts; "
        "clear them (jupyter nbconvert --clear-output --inplace "
        f"{path.relative_to(LESSONS.parent)})"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_has_a_kernelspec(path: Path) -> None:
    kernelspec = load_notebook(path).get("metadata", {}).get("kernelspec") or {}
    assert kernelspec.get("name"), (
        f"{path.name} has no kernelspec (metadata.kernelspec.name, e.g. python3)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_opens_with_the_lesson_frame(path: Path) -> None:
    cells = load_notebook(path)["cells"]
    assert cells, f"{path.name} has no cells"
    first = cells[0]
    assert first["cell_type"] == "markdown", (
        f"{path.name}: the first cell must be markdown (the lesson's frame)"
    )
    text = cell_source(first).lstrip()
    match = TITLE.match(text)
    assert match, (
        f"{path.name}: the first cell must start with '# {path.name[:2]} · Title', got "
        f"{text[:60]!r}"
    )
    assert match.group(1) == path.name[:2], f"{path.name}: the title says lesson {match.group(1)}"
    for needed in ("Time to learn", "Prerequisites"):
        assert needed in text, f"{path.name}: the first cell must say **{needed}**"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_ends_with_key_points_whats_next_and_references(path: Path) -> None:
    cells = load_notebook(path)["cells"]
    text = "\n".join(cell_source(cell) for cell in cells if cell["cell_type"] == "markdown")
    for heading in ("## Key points", "## What's next", "## References"):
        assert heading in text, f"{path.name} has no '{heading}' section"
    last = cell_source(cells[-1]).lstrip()
    assert last.startswith("## References"), f"{path.name} must end with its References"
    assert last.count("\n- ") >= 1, f"{path.name}'s References list no source"


MAX_WORDS_PER_MARKDOWN_CELL = 200  # issue 21: a longer cell is a wall of text on a projector
_HEADING = re.compile(r"#{1,6}[ \t]")
_FENCE = re.compile(r"\s*(```|~~~)")


def _buried_headings(text: str) -> list[str]:
    """The heading lines of a markdown cell's text that are not its first line (a ``#`` line
    inside a fenced code block is a comment, not a heading)."""
    buried, in_fence = [], False
    for number, line in enumerate(text.splitlines()):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and number > 0 and _HEADING.match(line):
            buried.append(line)
    return buried


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_no_markdown_cell_is_a_wall_of_text(path: Path) -> None:
    """Prose comes in short cells: a learner reads one idea, then runs the cell that shows it."""
    long_cells = {
        index: len(cell_source(cell).split())
        for index, cell in enumerate(load_notebook(path)["cells"])
        if cell["cell_type"] == "markdown"
        and len(cell_source(cell).split()) > MAX_WORDS_PER_MARKDOWN_CELL
    }
    assert not long_cells, (
        f"{path.name}: markdown cells over {MAX_WORDS_PER_MARKDOWN_CELL} words {long_cells} "
        "(cell: words); split them at a paragraph"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_every_heading_opens_its_own_cell(path: Path) -> None:
    """A heading buried mid-cell is lost on the projector and in JupyterLab's table of contents,
    which folds a section from its heading cell on."""
    buried = {
        index: headings
        for index, cell in enumerate(load_notebook(path)["cells"])
        if cell["cell_type"] == "markdown" and (headings := _buried_headings(cell_source(cell)))
    }
    assert not buried, (
        f"{path.name}: headings that are not the first line of their cell {buried}; "
        "start a new markdown cell at each"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_hints_are_asked_for_never_shown_in_advance(path: Path) -> None:
    """Hints live with the checks (``checks.hint("03.1")``), not in the notebook's source."""
    for index, cell in enumerate(load_notebook(path)["cells"]):
        source = cell_source(cell)
        assert "hints=" not in source, f"{path.name} cell {index} passes hint texts to a check"
        assert "<details>" not in source, f"{path.name} cell {index} has a hidden hint block"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_valid_against_nbformat_s_schema(path: Path) -> None:
    """JupyterLab logs ``Notebook JSON is invalid`` for a notebook that is not (e.g. cell ids in
    nbformat 4.4, which has none: ids came with 4.5)."""
    import nbformat

    notebook = load_notebook(path)
    stored_ids = [cell.get("id") for cell in notebook["cells"]]  # validate() repairs repeats
    repeated = sorted({i for i in stored_ids if i is not None and stored_ids.count(i) > 1})
    assert not repeated, f"{path.name}: cell ids used twice {repeated} (nbformat renames them)"
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        pytest.fail(f"{path.name} is not a valid notebook: {error.message}")
    # nbformat only warns (MissingIDFieldWarning) about a 4.5 cell without an id, and makes one
    # up on every read, so the ids, and every diff that shows them, would change each time.
    ids = [cell.get("id") for cell in notebook["cells"]]
    assert None not in ids, (
        f"{path.name}: cells {[i for i, x in enumerate(ids) if x is None]} have no id"
    )
    assert len(ids) == len(set(ids)), f"{path.name}: two cells share an id"


MAX_NAMES_PER_IMPORTS_CELL = 13  # issue 19: "no imports cell names more than about 12 things"


def _imports_cell(cells: list[dict]) -> str:
    """The lesson's imports cell: its first code cell that imports anything."""
    for cell in cells:
        if cell["cell_type"] == "code" and re.search(r"^(import|from) ", cell_source(cell), re.M):
            return cell_source(cell)
    return ""


def _names_bound(source: str) -> list[str]:
    """Every name an imports cell binds, the standard library's included: each is one more
    thing a learner holds in mind before the lesson starts (``import numpy as np`` binds np,
    ``from a import b, c`` binds b and c)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.append(alias.asname or alias.name.split(".")[0])
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_the_imports_cell_names_a_handful_of_things(path: Path) -> None:
    names = _names_bound(_imports_cell(load_notebook(path)["cells"]))
    assert names, f"{path.name} has no imports cell"
    assert len(names) <= MAX_NAMES_PER_IMPORTS_CELL, (
        f"{path.name}'s imports cell binds {len(names)} names, more than "
        f"{MAX_NAMES_PER_IMPORTS_CELL}: {', '.join(names)}; import a module and use it qualified "
        "(timing.measure), or drop an import used once"
    )
