"""Docstrings and hint texts read as whole sentences: no line of them is broken mid-phrase.

An automated reflow once broke them: a docstring line that held one word (``    miss``) and hint
strings glued from a literal of two words (``"compare the " "whole rows, by value."``). A learner
reads both as documentation. The rule this test applies to every docstring of ``lib/cachelab`` and
to every string glued from literals on several lines (the hints, the checks' verdicts, error
messages): a line well short of the width (under half of what its indentation leaves) that ends
nothing, while the next line at the same indentation goes on with the sentence, is a fragment.

A short line ends something when it ends a sentence or a clause (``. : ; ? !``), a paragraph, a
list item, a heading or a table row; doctest lines and literal blocks after ``::`` are code, not
prose. A paragraph's first line may also stop before an aside that opens the next line (``(``,
``--``): the sentence breaks between two phrases there, not inside one.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "lib" / "cachelab"
MODULES = sorted(LIBRARY.rglob("*.py"))
WIDTH = 100  # ruff's line length (pyproject.toml): the width a reflowed paragraph fills

_ENDS_SOMETHING = re.compile(r"(?<!\.\.)[.:;?!]['\")\]`*_’”]*$|\\n$")  # "..." elides code
_LIST_ITEM = re.compile(r"(?:[-*+•]|\d+[.)]|\(\w+\)|#\.)\s+")
_OPENS_AN_ASIDE = re.compile(r"^(\(|--|—)")
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}$")
_TABLE_BORDER = re.compile(r"^=+( +=+)+$")
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_QUOTES = re.compile(r"^[rRuUbBfF]*('''|\"\"\"|'|\")")


def _relative(path: Path) -> str:
    return path.relative_to(LIBRARY).as_posix()


def _column(line: str, byte_offset: int) -> int:
    """The character column of ``ast``'s byte offset into a line (they differ after a "→")."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8"))


def _is_fragment(length: int, room: int, text: str, next_text: str, has_previous: bool) -> bool:
    """Whether a line of ``length`` characters, where its indentation leaves ``room``, stops
    mid-phrase before ``next_text`` goes on at the same indentation."""
    if length >= room / 2 or _ENDS_SOMETHING.search(text):
        return False
    return has_previous or not _OPENS_AN_ASIDE.match(next_text)


# ------------------------------------------------------------------------------------ docstrings


def _docstring_nodes(tree: ast.Module) -> list[ast.Constant]:
    """The docstrings of the module, its classes and functions, and attribute docstrings (a bare
    string right after an assignment, which Sphinx reads as the name's documentation)."""
    found = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for index, statement in enumerate(body):
            is_string = (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            )
            if index == 0:
                documented = isinstance(node, _DOCUMENTED)
            else:
                documented = isinstance(body[index - 1], (ast.Assign, ast.AnnAssign))
            if is_string and documented:
                found.append(statement.value)
    return found


def _docstring_lines(lines: list[str], node: ast.Constant) -> list[tuple[int, int, str, int]]:
    """(line number, indentation, text, length) of each line of a docstring, quotes taken off the
    text. The opening line is indented where its quotes start, and its length counts them."""
    result = []
    for number in range(node.lineno, node.end_lineno + 1):
        line = lines[number - 1]
        if number == node.end_lineno:
            end = _column(line, node.end_col_offset)
            line = line[: end - (3 if line[:end].endswith(('"""', "'''")) else 1)]
        if number == node.lineno:
            indent = _column(line, node.col_offset)
            quotes = _QUOTES.match(line[indent:]).end()
            text = line[indent + quotes :].strip()
            result.append((number, indent, text, quotes + len(text)))
        else:
            text = line.strip()
            result.append((number, len(line) - len(line.lstrip()), text, len(text)))
    return result


def _prose(doc: list[tuple[int, int, str, int]]) -> list[bool]:
    """For each docstring line, whether it is prose: not a doctest, a literal block, a table or an
    underline."""
    prose = [True] * len(doc)
    literal_under = None  # the indentation of the paragraph that opened a literal block (``::``)
    in_doctest = in_table = False
    for i, (_, indent, text, _) in enumerate(doc):
        if not text:
            in_doctest = False
            continue
        if literal_under is not None and indent > literal_under:
            prose[i] = False
            continue
        literal_under = None
        if _TABLE_BORDER.match(text):
            ends_table = in_table and (i + 1 == len(doc) or not doc[i + 1][2])
            in_table = not ends_table
        in_doctest = in_doctest or text.startswith(">>>")
        markup = _TABLE_BORDER.match(text) or _UNDERLINE.match(text) or text[0] == "|"
        prose[i] = not (in_doctest or in_table or markup)
        if text.endswith("::"):
            literal_under = indent
    return prose


def _text_indent(indent: int, text: str) -> int:
    """Where the words of a line start: after its bullet, for a list item."""
    marker = _LIST_ITEM.match(text)
    return indent + (marker.end() if marker else 0)


def broken_docstring_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each docstring line in one module that is a fragment."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    broken = []
    for node in _docstring_nodes(ast.parse(source)):
        doc = _docstring_lines(lines, node)
        prose = _prose(doc)
        for i in range(len(doc) - 1):
            number, indent, text, length = doc[i]
            _, next_indent, next_text, _ = doc[i + 1]
            if not (text and next_text and prose[i] and prose[i + 1]):
                continue
            start = _text_indent(indent, text)
            if next_indent != start or _LIST_ITEM.match(next_text) or _UNDERLINE.match(next_text):
                continue  # the next line opens something of its own, or is nested, or underlines
            _, previous_indent, previous_text, _ = doc[i - 1]
            has_previous = (  # the line is not its paragraph's first
                i > 0
                and bool(previous_text)
                and prose[i - 1]
                and start == indent
                and _text_indent(previous_indent, previous_text) == indent
            )
            words = length - (start - indent)
            if _is_fragment(words, WIDTH - start, text, next_text, has_previous):
                broken.append((number, text))
    return broken


# ------------------------------------------------------------------ strings glued from literals


def _pieces(source: str, node: ast.expr) -> list[tuple[int, int, str]]:
    """(line number, column, source) of each literal that implicit concatenation glued into one
    string: ``"compare the " "whole rows"`` is one ``ast.Constant``, of two pieces."""
    first_line = source.splitlines()[node.lineno - 1]
    wrapped = f"({ast.get_source_segment(source, node)})"
    lines = wrapped.splitlines(keepends=True)
    pieces = []

    def add(start: tuple[int, int], end: tuple[int, int]) -> None:
        (row, col), (end_row, end_col) = start, end
        if row == end_row:
            text = lines[row - 1][col:end_col]
        else:
            text = (
                lines[row - 1][col:]
                + "".join(lines[row : end_row - 1])
                + lines[end_row - 1][:end_col]
            )
        column = _column(first_line, node.col_offset) + col - 1 if row == 1 else col
        pieces.append((node.lineno + row - 1, column, text))

    # Python 3.12+ tokenizes an f-string as FSTRING_START ... FSTRING_END (PEP 701), not as one
    # STRING: a piece is then everything from its start to its matching end.
    depth, start = 0, (0, 0)
    for token in tokenize.generate_tokens(io.StringIO(wrapped).readline):
        if token.type == tokenize.STRING and depth == 0:
            add(token.start, token.end)
        elif token.type == getattr(tokenize, "FSTRING_START", None):
            depth, start = depth + 1, (token.start if depth == 0 else start)
        elif token.type == getattr(tokenize, "FSTRING_END", None):
            depth -= 1
            if depth == 0:
                add(start, token.end)
    return pieces


def broken_literal_pieces(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each literal ending a line of a glued string that is a fragment."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    measured_elsewhere = {id(node) for node in _docstring_nodes(tree)} | {
        id(part)  # an f-string's parts, which are measured with the f-string
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in ast.walk(node)
        if part is not node
    }
    broken = []
    for node in ast.walk(tree):
        is_string = isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.Constant) and isinstance(node.value, str)
        )
        if not is_string or id(node) in measured_elsewhere or node.lineno == node.end_lineno:
            continue
        pieces = _pieces(source, node)
        for i, (number, column, piece) in enumerate(pieces[:-1]):
            next_number, _, next_piece = pieces[i + 1]
            if next_number == number:
                continue  # the line goes on; its last piece is the one measured
            starts = [c for n, c, _ in pieces if n == number]
            length = column + len(piece) - starts[0]
            text = _QUOTES.sub("", piece)[:-1].rstrip("'\"").strip()
            next_text = _QUOTES.sub("", next_piece)
            has_previous = pieces[0][0] < number
            if _is_fragment(length, WIDTH - starts[0], text, next_text, has_previous):
                broken.append((number, text))
    return broken


# ---------------------------------------------------------------------------------------- tests


def test_a_docstring_line_broken_mid_phrase_is_found_and_whole_lines_are_not(tmp_path):
    module = tmp_path / "example.py"
    module.write_text(
        "def f():\n"
        '    """A summary line.\n'
        "\n"
        "    A cache that fails open never raises it from ``get``, ``set``, ``delete`` or\n"
        "    ``get_or_load``, and\n"
        "    never counts. A short last line\n"
        "\n"
        "    - a list item\n"
        "    - another, which goes on and on until the line is full, as a list item may do\n"
        "      over\n"
        "      two lines\n"
        "\n"
        "    Heading\n"
        "    -------\n"
        "    An example::\n"
        "\n"
        "        code that\n"
        "        goes on\n"
        "\n"
        "    >>> f(\n"
        "    ...     1)\n"
        "    2\n"
        "\n"
        "    A first line that stops before\n"
        "    (an aside), and a line of the paragraph that goes on until the width and stops at\n"
        "    all\n"
        "    (a widow, then an aside).\n"
        '    """\n'
    )
    found = broken_docstring_lines(module)
    assert found == [(5, "``get_or_load``, and"), (10, "over"), (26, "all")]


def test_a_hint_piece_broken_mid_phrase_is_found_and_whole_pieces_are_not(tmp_path):
    module = tmp_path / "example.py"
    module.write_text(
        "HINTS = {\n"
        '    "compare": (\n'
        '        "A read is stale when what it served differs from the database row: "\n'
        '        "compare the "\n'
        '        "whole rows, by value.",\n'
        '        "Short, but a sentence. "\n'
        '        "Then another.",\n'
        '        "a first line stops before "\n'
        '        "(an aside that is long enough not to fit on the line above it, at any rate)",\n'
        '        f"an f-string of {1} "\n'
        '        "word",\n'
        "    ),\n"
        "}\n"
    )
    assert broken_literal_pieces(module) == [(4, "compare the"), (10, "an f-string of {1}")]


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_no_docstring_or_glued_string_of_the_library_breaks_a_line_mid_phrase(path):
    found = set(broken_docstring_lines(path) + broken_literal_pieces(path))
    module = _relative(path)
    fragments = sorted(found)
    assert not fragments, "reflow each paragraph to whole lines (width 100):\n" + "\n".join(
        f"  {module}:{number}: {text}" for number, text in fragments
    )
