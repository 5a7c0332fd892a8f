"""A learner's home on a hub, laid out like the repository: ``python scripts/learner_home.py HOME``.

``make lab`` serves the repository's root and opens ``lessons/``, so a lesson's links resolve
there: ``../GLOSSARY.md``, ``../docs/setup.md``, ``../type-along/03_memory_cache.ipynb``. A hub
serves each learner's home folder instead, so the home gets the same layout: ``lessons/``,
``GLOSSARY.md``, ``README.md``, ``INSTRUCTORS.md``, ``docs/``, and ``type-along/`` (the
type-along copies, generated from the lessons by ``scripts/type_along.py``). Then every link
that opens under ``make lab`` opens on a hub too.

Both hubs run this same script: the one-machine hub before each learner's server starts
(``hub/jupyterhub_config.py``), the Kubernetes one when each learner's container starts
(``hub/k8s/config.yaml``). Only what a home lacks is copied, so a learner's own edits survive
every restart; delete a file or folder from a home to have it copied afresh.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Optional

import type_along

REPO = Path(__file__).resolve().parents[1]
SERVED = ("lessons", "docs", "GLOSSARY.md", "README.md", "INSTRUCTORS.md")
"""What a learner's home holds from the repository, at the same paths as in the repository."""


def furnish(home: Path, repo: Path = REPO) -> list[Path]:
    """Copy into ``home`` what it lacks of the learner's part of ``repo``; return what was added.

    The type-along copies are generated from the repository's lessons (not from a learner's
    edited ones), into ``home/type-along``.
    """
    home.mkdir(parents=True, exist_ok=True)
    added = []
    for name in SERVED:
        source, target = repo / name, home / name
        if target.exists() or not source.exists():
            continue
        if source.is_dir():
            shutil.copytree(
                source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
            )
        else:
            shutil.copy2(source, target)
        added.append(target)
    copies = home / type_along.OUT.name
    if not copies.exists():
        type_along.generate(copies, type_along.lessons(repo / "lessons"))
        added.append(copies)
    return added


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("home", type=Path, help="the learner's home folder")
    args = parser.parse_args(argv)
    for path in furnish(args.home):
        print(f"copied {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
