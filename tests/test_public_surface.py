"""What learners see of ``cachelab``: the lessons, their solutions and the dashboards import only
public names.

A name is private when it, or a module on its dotted path, starts with ``_``
(``cachelab._internal.watchdog``, ``cachelab.cache._encode``). Plumbing a lesson reaches into
becomes a name learners rely on, and the library can no longer change it; what a lesson needs
is offered as a public method instead (``WebService.wait_until_idle``, for instance).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LEARNER_FILES = sorted(
    [
        *REPO.glob("lessons/*.ipynb"),
        *REPO.glob("lessons/solutions/*.py"),
        *REPO.glob("dashboards/*.ipynb"),
    ]
)


def _cells(path: Path) -> list[str]:
    """A file's Python: a module, or a notebook's code cells with IPython's syntax (``%timeit``,
    ``!pip``) turned into Python the way the kernel does."""
    if path.suffix != ".ipynb":
        return [path.read_text(encoding="utf-8")]
    from IPython.core.inputtransformer2 import TransformerManager

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    to_python = TransformerManager().transform_cell
    return [to_python("".join(cell["source"])) for cell in cells if cell["cell_type"] == "code"]


def private_imports(code: str) -> list[str]:
    """Every ``cachelab`` import in ``code`` that names a private module or a private name."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "cachelab":
            modules = node.module.split(".")
            for alias in node.names:
                if any(part.startswith("_") for part in [*modules, alias.name]):
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
    )
    assert private_imports(code) == [
        "from cachelab._internal.watchdog import group_is_alive",
        "from cachelab.cache import _encode",
        "import cachelab._internal.validation",
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
