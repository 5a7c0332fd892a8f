"""The library stays readable: no function in ``lib/cachelab/`` is longer than 80 lines.

A function a learner cannot see whole on one screen hides what it does; past 80 lines it is
split into private helpers, each named for one step. Exercise checks are exempt: a
``check_*`` (or private ``_check_*``) function in ``cachelab/checks/`` is a straight list of
properties, each tried and reported in turn, and reads best in one piece. A function's length is
counted as ``ast`` counts it, from its ``def`` line to its last line (decorators not included).
"""

from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "lib" / "cachelab"
MAX_LINES = 80


def _functions(tree: ast.AST, outer: str = ""):
    """Every function and method in ``tree``, nested ones too, with its qualified name."""
    for node in ast.iter_child_nodes(tree):
        name = f"{outer}{getattr(node, 'name', '')}"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield name, node
            yield from _functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{name}.")
        else:
            yield from _functions(node, outer)


def _exempt(path: str, name: str) -> bool:
    """True for a straight-line exercise check: ``check_*`` (or ``_check_*``) in ``checks/``."""
    return path.startswith("checks/") and name.removeprefix("_").startswith("check_")


def long_functions(root: Path, max_lines: int = MAX_LINES) -> list[str]:
    """``path:line name (N lines)`` for every function under ``root`` longer than ``max_lines``."""
    found = []
    for file in sorted(root.rglob("*.py")):
        path = file.relative_to(root).as_posix()
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        for name, node in _functions(tree):
            lines = node.end_lineno - node.lineno + 1
            if lines > max_lines and not _exempt(path, name):
                found.append(f"{path}:{node.lineno} {name} ({lines} lines)")
    return found


def test_no_library_function_is_longer_than_80_lines():
    too_long = long_functions(LIBRARY)
    assert not too_long, (
        f"split these into private helpers of at most {MAX_LINES} lines each: "
        + "; ".join(too_long)
    )


def _function_of(name: str, lines: int, indent: str = "") -> str:
    """The source of a function ``name`` exactly ``lines`` lines long."""
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 2))
    return f"{indent}def {name}():\n{body}{indent}    return 0\n"


def test_the_measure_flags_long_functions_and_methods_but_not_checks(tmp_path):
    (tmp_path / "checks").mkdir()
    (tmp_path / "lab").mkdir()
    (tmp_path / "shop.py").write_text(
        _function_of("fits", 80)
        + _function_of("too_long", 81)
        + "class Shop:\n"
        + _function_of("too_long_method", 81, indent="    ")
    )
    (tmp_path / "checks" / "memory_cache.py").write_text(
        _function_of("check_ttl_expiry", 120) + _function_of("_helper_of_a_check", 81)
    )
    (tmp_path / "lab" / "capstone.py").write_text(_function_of("grade", 230))
    assert long_functions(tmp_path) == [
        "checks/memory_cache.py:121 _helper_of_a_check (81 lines)",
        "lab/capstone.py:1 grade (230 lines)",
        "shop.py:81 too_long (81 lines)",
        "shop.py:163 Shop.too_long_method (81 lines)",
    ]
