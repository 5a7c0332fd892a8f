"""The conda route and Binder serve what ``make lab`` serves: the repository's root, lessons/
beside GLOSSARY.md and docs/, and the type-along copies (issue 21, from the instructor's read).

Binder (repo2docker) copies the repository into the learner's home, installs
``environment.yml``, runs ``postBuild`` there, and starts JupyterLab in that folder at the
README badge's ``urlpath``. The conda route is the README's code block, run in the repository's
folder. This test does both on a copy of the learner's part of the repository: it runs
``postBuild`` as repo2docker does (in the folder, with ``HOME`` there), runs the conda block's
``python scripts/...`` lines, then starts the block's ``jupyter lab`` command in the folder and
asks its contents API for every file a lesson or a type-along copy links to, and for both
starting notebooks (``test_served_tree.assert_every_link_opens``, as for ``make lab``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_served_tree import JUPYTER, assert_every_link_opens, jupyter_lab, option

pytestmark = pytest.mark.room  # a JupyterLab server: with the served-tree tests

REPO = Path(__file__).resolve().parents[1]
COPIED = ("lessons", "docs", "scripts", "GLOSSARY.md", "README.md", "INSTRUCTORS.md", "postBuild")
"""What a learner's image holds of the repository, as far as this test needs (all of it, there)."""


def readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def binder_default_url() -> str:
    """Where the README's Binder badge opens JupyterLab: ``/lab/tree/...`` from its urlpath."""
    badge = re.search(r"\(https://mybinder\.org/v2/gh/[^)]*[?&]urlpath=([^)&\s]+)", readme())
    assert badge, "the README has no Binder badge with a urlpath"
    return "/" + badge.group(1)


def conda_block() -> list[str]:
    """The lines of the README's conda route (the code block that activates the environment)."""
    blocks = re.findall(r"```bash\n(.*?)```", readme(), flags=re.DOTALL)
    [block] = [block for block in blocks if "conda activate" in block]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """The repository as repo2docker copies it into the learner's home, ``postBuild`` run."""
    home = tmp_path / "jovyan"
    home.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
            shutil.copytree(source, home / name, ignore=ignore)
        else:
            shutil.copy2(source, home / name)
    python_first = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the env's
    env = dict(os.environ, HOME=str(home), PATH=python_first)
    built = subprocess.run(
        [str(home / "postBuild")], cwd=home, env=env, capture_output=True, text=True, timeout=120
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return home


def test_postbuild_writes_the_type_along_copies_beside_the_lessons(image: Path):
    copy = image / "type-along" / "03_memory_cache.ipynb"
    assert copy.is_file(), "postBuild wrote no type-along copies"
    assert "# ✍ Type along" in copy.read_text(encoding="utf-8")
    assert os.access(REPO / "postBuild", os.X_OK), "repo2docker runs postBuild only if executable"


def test_binder_and_the_conda_route_serve_the_repository_with_every_link_open(
    image: Path, tmp_path: Path
):
    lines = conda_block()
    shutil.rmtree(image / "type-along")  # the conda route's own line writes them again
    for line in lines:
        if line.startswith("python scripts/"):
            command = [sys.executable, *shlex.split(line)[1:]]
            subprocess.run(command, cwd=image, check=True, capture_output=True, timeout=120)
    [lab_line] = [line for line in lines if line.startswith("jupyter lab")]
    command = [JUPYTER, *shlex.split(lab_line)[1:]]
    served = [arg.split("=", 1)[1] for arg in command if arg.startswith("--ServerApp.root_dir=")]
    served += [arg for arg in command[2:] if not arg.startswith("-")]  # `jupyter lab lessons/`
    root = (image / (served[0] if served else ".")).resolve()
    assert root == image.resolve(), f"the conda route serves {root}, not the repository's root"
    conda_url = option(command, "LabApp.default_url")
    (tmp_path / "jupyter").mkdir()
    with jupyter_lab(command, image, tmp_path / "jupyter") as server:
        assert_every_link_opens(server, image, conda_url)  # the conda route
        assert_every_link_opens(server, image, binder_default_url())  # Binder: the same folder
