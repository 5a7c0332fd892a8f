"""The room's course: a copy of the Python environment learners' servers run, theirs to read only.

Learners' servers run as Unix users of their own (``hub/learners.py``), and those often cannot
run the instructor's Python: a pyenv interpreter under ``/root`` (mode 0700), a checkout in an
Ubuntu home (0750) or in CI's ``mktemp -d`` (0700). So, as The Littlest JupyterHub keeps
``/opt/tljh/user`` for its users, ``stage`` puts under ``<room>/course/`` (root's, readable by
all, writable by none but root):

- ``env/``: the course's environment (``sys.prefix``, the venv ``make`` made);
- ``python/``: the interpreter it was made from (``sys.base_prefix``), only when an
  unprivileged user cannot run ``sys.executable`` (measured: it is run as ``nobody``); then the
  venv's ``pyvenv.cfg`` and ``bin/python*`` point at this copy, and ``LD_LIBRARY_PATH`` finds
  its ``libpython``;
- ``repo/``: what the installed course reads from the checkout: ``lib/`` (the editable
  install's ``.pth`` is rewritten to point here) and ``data/catalog.json``; and what
  ``scripts/learner_home.py``, run as each learner, copies from it into their home.

Copies are hard links where the room is on the checkout's file system (two seconds for two
gigabytes), real copies elsewhere. A hard link shares its file with the original, so every file
this module changes is unlinked and written anew, never edited in place. The course is staged
afresh on every start of the hub, so it is always the checkout's.

Why not simpler: running the instructor's environment in place breaks as above; a fresh
``pip install`` per room needs the network and minutes. Why not less: the probe at the end runs
the staged Python as ``nobody`` and imports the course and JupyterHub's server, so a room whose
learners could not start a server fails at ``make hub``, not at the first login.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPO_FILES = (
    "lib",
    "data/catalog.json",
    "scripts/learner_home.py",
    "scripts/type_along.py",
    "lessons",
    "docs",
    "GLOSSARY.md",
    "README.md",
    "INSTRUCTORS.md",
)
"""What the installed course reads from the checkout (``cachelab.shop.data`` reads the catalog),
and what ``scripts/learner_home.py`` (its ``SERVED``) copies from it into a learner's home."""


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.EPERM):
            raise
        shutil.copy2(source, target)


def _copy_tree(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(source), str(target))


def _rewrite(path: Path, old: str, new: str) -> None:
    """Replace ``old`` with ``new`` in the text file ``path``: a new file, never the shared one."""
    text = path.read_text(errors="surrogateescape")
    if old in text:
        mode = path.stat().st_mode
        path.unlink()
        path.write_text(text.replace(old, new), errors="surrogateescape")
        path.chmod(mode)


def runs_as_nobody(python: Path, code: str = "pass", env: dict | None = None) -> bool:
    """Whether an unprivileged user (``nobody``) can run ``python -c code``: for real."""
    nobody = pwd.getpwnam("nobody")
    try:
        result = subprocess.run(
            [str(python), "-c", code],
            user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[], cwd="/",
            env={"PATH": "/usr/bin:/bin", **(env or {})},
            capture_output=True, text=True,
        )  # fmt: skip
    except PermissionError:  # the program itself, or a folder on its way, is closed to nobody
        return False
    return result.returncode == 0


def stage(room: Path) -> dict[str, str]:
    """Stage the course under ``<room>/course`` for learners; return the environment variables
    their servers need (``PATH``, ``VIRTUAL_ENV``, ``LD_LIBRARY_PATH`` when the interpreter was
    copied). Raises RuntimeError when ``nobody`` still cannot run the copy."""
    course = room / "course"
    course.mkdir(parents=True, exist_ok=True)
    os.chmod(course, 0o755)
    env_dir, python_dir, repo_dir = course / "env", course / "python", course / "repo"
    _copy_tree(Path(sys.prefix), env_dir)
    for name in REPO_FILES:
        _copy_tree(REPO / name, repo_dir / name)
    environment = {"PATH": f"{env_dir / 'bin'}:/usr/local/bin:/usr/bin:/bin"}
    is_venv = sys.prefix != sys.base_prefix
    if is_venv:
        environment["VIRTUAL_ENV"] = str(env_dir)
    shutil.rmtree(python_dir, ignore_errors=True)
    if is_venv and not runs_as_nobody(Path(sys.executable)):
        _copy_tree(Path(sys.base_prefix), python_dir)
        _rewrite(env_dir / "pyvenv.cfg", sys.base_prefix, str(python_dir))
        for link in (env_dir / "bin").iterdir():
            if link.is_symlink() and os.readlink(link).startswith(sys.base_prefix):
                target = os.readlink(link).replace(sys.base_prefix, str(python_dir), 1)
                link.unlink()
                link.symlink_to(target)
        environment["LD_LIBRARY_PATH"] = str(python_dir / "lib")
    site_packages = next(env_dir.glob("lib/python3*/site-packages"))
    for pth in site_packages.glob("*.pth"):  # the editable install of the course
        _rewrite(pth, str(REPO), str(repo_dir))
    for script in (env_dir / "bin").iterdir():  # pip, jupyter ...: #!<the venv>/bin/python
        if script.is_file() and not script.is_symlink() and script.stat().st_size < 100_000:
            _rewrite(script, f"#!{sys.prefix}/", f"#!{env_dir}/")
    python = env_dir / "bin" / Path(sys.executable).name
    if not runs_as_nobody(python, "import cachelab, jupyterhub.singleuser", environment):
        raise RuntimeError(
            f"an unprivileged user cannot run the room's course ({python}): is every folder above "
            f"{room} open to others (o+x)?"
        )
    return {**environment, "PYTHON": str(python)}
