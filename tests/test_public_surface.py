"""What learners see of ``cachelab``: the lessons, their solutions and the dashboards import only
public names.

A name is private when it, or a module on its dotted path, starts with ``_``
(``cachelab._internal.watchdog``, ``cachelab.cache._encode``). Plumbing a lesson reaches into
becomes a name learners rely on, and the library can no longer change it; what a lesson needs
is offered as a public method instead (``WebService.wait_until_idle``, for instance).

Each public module says what it offers in ``__all__``, and a learner holds the whole of it in
mind only while it stays small: at most ``MAX_PUBLIC_NAMES`` names across the library (367
before issue 19, when modules exported their plumbing too). A lesson imports only names listed
there (or a module).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import pkgutil
import sys
import types
from pathlib import Path

import pytest

import cachelab

REPO = Path(__file__).resolve().parents[1]
LEARNER_FILES = sorted(
    [
        *REPO.glob("lessons/*.ipynb"),
        *REPO.glob("lessons/solutions/*.py"),
        *REPO.glob("dashboards/*.ipynb"),
    ]
)

MAX_PUBLIC_NAMES = 150


def public_modules() -> list[str]:
    """Every module of ``cachelab`` not on a private path (no part after ``cachelab`` starts
    with ``_``), packages included."""
    return [
        info.name
        for info in pkgutil.walk_packages(cachelab.__path__, prefix="cachelab.")
        if not any(part.startswith("_") for part in info.name.split(".")[1:])
    ]


def public_names(module_names: list[str]) -> dict[str, list[str]]:
    """Each module's ``__all__``; a module without one is a failure, not a guess."""
    names = {}
    for name in module_names:
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), (
            f"{name} has no __all__: list what lessons and learners use (or [] for a package "
            "that is only a map), and make the rest private"
        )
        names[name] = list(module.__all__)
    return names


def _cells(path: Path) -> list[str]:
    """A file's Python: a module, or a notebook's code cells with IPython's syntax (``%timeit``,
    ``!pip``) turned into Python the way the kernel does."""
    if path.suffix != ".ipynb":
        return [path.read_text(encoding="utf-8")]
    from IPython.core.inputtransformer2 import TransformerManager

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    to_python = TransformerManager().transform_cell
    return [to_python("".join(cell["source"])) for cell in cells if cell["cell_type"] == "code"]


def _offered(module_name: str, name: str) -> bool:
    """Whether ``from module_name import name`` takes something the module offers: a name in
    its ``__all__``, or a public submodule."""
    module = importlib.import_module(module_name)
    if name in getattr(module, "__all__", ()):
        return True
    is_package = hasattr(module, "__path__")
    return is_package and importlib.util.find_spec(f"{module_name}.{name}") is not None


def private_imports(code: str) -> list[str]:
    """Every ``cachelab`` import in ``code`` that names a private module, a private name, or a
    name its module does not list in ``__all__``."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "cachelab":
            modules = node.module.split(".")
            for alias in node.names:
                if any(part.startswith("_") for part in [*modules, alias.name]) or not _offered(
                    node.module, alias.name
                ):
                    found.append(f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "cachelab" and any(part.startswith("_") for part in parts):
                    found.append(f"import {alias.name}")
    return found


def test_a_private_import_is_found() -> None:
    code = (
        "from cachelab.web import WebService\n"
        "from cachelab._internal.watchdog import group_is_alive\n"
        "from cachelab.cache import _encode, MemoryCache\n"
        "import cachelab._internal.validation\n"
        "from cachelab import keys\n"
        "from cachelab.lab.timing import Timing, measure\n"
    )
    assert private_imports(code) == [
        "from cachelab._internal.watchdog import group_is_alive",
        "from cachelab.cache import _encode",
        "import cachelab._internal.validation",
        "from cachelab.lab.timing import Timing",
    ]


@pytest.mark.parametrize(
    "path", LEARNER_FILES, ids=[p.relative_to(REPO).as_posix() for p in LEARNER_FILES]
)
def test_learners_files_import_only_public_names(path: Path) -> None:
    found = [name for cell in _cells(path) for name in private_imports(cell)]
    assert not found, (
        f"{path.relative_to(REPO)} imports plumbing: {found}. Offer what it needs as a public "
        "name (listed in the module's __all__), and import that."
    )


def test_the_library_offers_at_most_150_public_names() -> None:
    names = public_names(public_modules())
    total = sum(len(listed) for listed in names.values())
    biggest = sorted(names, key=lambda module: -len(names[module]))[:5]
    assert total <= MAX_PUBLIC_NAMES, (
        f"{total} public names, more than {MAX_PUBLIC_NAMES}; the most in "
        + ", ".join(f"{module} ({len(names[module])})" for module in biggest)
        + ". Make what no lesson uses private."
    )


def test_a_module_without_all_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    unlisted = types.ModuleType("cachelab_unlisted")
    unlisted.helper = len
    monkeypatch.setitem(sys.modules, "cachelab_unlisted", unlisted)
    with pytest.raises(AssertionError, match="cachelab_unlisted has no __all__"):
        public_names(["cachelab.clock", "cachelab_unlisted"])


@pytest.mark.parametrize("module_name", public_modules())
def test_every_name_in_all_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [
        name for name in public_names([module_name])[module_name] if not hasattr(module, name)
    ]
    assert not missing, f"{module_name}.__all__ lists names it does not have: {missing}"
