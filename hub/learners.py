"""The room's learners on this machine: one Unix user each, a home of their own, their limits.

The one-machine hub (``hub/run.py``) runs as root and starts every learner's Jupyter server as
a system user of that learner's own, as The Littlest JupyterHub does: ``cl-<learner>``, made
on the learner's first spawn, home ``<room>/homes/<learner>`` (mode 0700, theirs), no login
shell, no password. Then the kernel of one learner cannot read another's files, and none runs
as root.

- **Names.** A hub name is both a course learner name (``cachelab.keys``) and safe in a Unix
  name: lower-case letters, digits, ``_`` and ``-``, starting with a letter or digit, at most 29
  characters (``cl-`` makes 32, useradd's limit). ``HUB_NAME_PATTERN`` is what the hub admits.
- **Record.** Every Unix user the course made is one line of ``<room>/secrets/users.txt``
  (root only); ``remove_users`` removes exactly those (``python hub/run.py --remove-users``).
  A Unix user of that name the course did not make is never taken over: spawning refuses.
- **Limits**, per process of the learner (``preexec``, run between fork and exec as root):
  ``RLIMIT_NPROC`` (processes and threads of that user, a fork bomb's end), ``RLIMIT_DATA``
  (a process's private memory, so one runaway kernel cannot take the machine's memory), and
  the CPUs the learner's server may run on: a share of the hub's cores, handed out
  round-robin by the order learners first spawned. ``cachelab.lab.timing.usable_cores`` reads
  that affinity mask, so lesson 02 starts as many busy processes as the share, not as the host.
  rlimits are per process and per user, not a per-learner memory total: that needs cgroups
  (systemd, Kubernetes), which this one-machine hub does not assume.
- **Kernel sockets.** The hub runs every kernel with ``transport=ipc``: its five ZeroMQ sockets
  are files in the learner's runtime folder, ``<room>/run/<uid>`` (0700, theirs), instead of
  127.0.0.1 ports that any local user could connect to and read a classmate's cells and output
  from. The folder is short on purpose: a Unix socket's path holds at most 107 bytes.
"""

from __future__ import annotations

import dbm
import os
import pwd
import re
import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

from jupyterhub.spawner import set_user_setuid

HUB_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,28}")
"""What the hub admits as a learner name: a course learner name that is safe in a Unix name."""
UNIX_PREFIX = "cl-"
MAX_PROCESSES = 512
"""Processes and threads per learner: JupyterLab, kernels and lesson 02's busy processes fit."""
MAX_DATA_BYTES = 4 * 2**30
"""A process's private memory (RLIMIT_DATA): lesson 05 and JupyterLab run under it."""
CORES_PER_LEARNER = 2
"""CPUs per learner: two, so lesson 10's two web workers can run at once; fewer on a smaller hub."""
_SOCKET_PATH_MAX = 107
"""The longest path a Unix socket may have on Linux (``sun_path`` holds 108 bytes with its NUL)."""
_KERNEL_SOCKET_NAME = len("/kernel-") + 36 + len("-ipc-4")
"""A kernel's socket in the runtime folder: jupyter_client names it after the kernel's UUID."""


def unix_name(learner: str) -> str:
    """The Unix user of ``learner``: ``cl-<learner>``; raises ValueError for a name the hub
    would not admit."""
    if not HUB_NAME_PATTERN.fullmatch(learner):
        raise ValueError(f"{learner!r} is not a learner name this hub admits")
    return UNIX_PREFIX + learner


def _record(room: Path) -> Path:
    return room / "secrets" / "users.txt"


def made_users(room: Path) -> list[str]:
    """The Unix users the course made for this room, in the order they were made."""
    path = _record(room)
    return path.read_text().split() if path.exists() else []


def ensure_user(room: Path, learner: str, course_env: dict[str, str]) -> pwd.struct_passwd:
    """The learner's Unix user, made (and recorded) on first use, with its home laid out by
    ``scripts/learner_home.py`` from the room's course (``course_env``: ``course_copy.stage``'s
    answer)."""
    name, home = unix_name(learner), room / "homes" / learner
    if name not in made_users(room):
        try:
            pwd.getpwnam(name)
        except KeyError:
            pass
        else:
            raise RuntimeError(
                f"a Unix user {name} exists that this room did not make; not using it"
            )
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(home),
             "--shell", "/usr/sbin/nologin", "--comment", f"make-or-break learner {learner}", name],
            check=True, capture_output=True,
        )  # fmt: skip
        with open(_record(room), "a") as record:
            record.write(name + "\n")
    user = pwd.getpwnam(name)
    runtime = runtime_dir(room, learner)
    (room / "run").mkdir(mode=0o711, exist_ok=True)  # root's: no learner adds or swaps entries
    for folder in (home, home / "data", runtime):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, user.pw_uid, user.pw_gid, follow_symlinks=False)
    os.chmod(home, 0o700)
    os.chmod(runtime, 0o700)
    # The lessons, the glossary, docs/, the type-along copies: what the home lacks, copied by the
    # learner's own user from the room's course, so root never writes where a learner could
    # have put a symbolic link.
    subprocess.run(
        [course_env["PYTHON"], str(room / "course" / "repo" / "scripts" / "learner_home.py"), home],
        user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd=home, check=True,
        env={name: value for name, value in course_env.items() if name != "PYTHON"},
        capture_output=True,
    )  # fmt: skip
    return user


def runtime_dir(room: Path, learner: str) -> Path:
    """The learner's Jupyter runtime folder (``JUPYTER_RUNTIME_DIR``), where their kernels'
    sockets are: ``<room>/run/<uid>``. Raises RuntimeError when the room's path is too long for
    a kernel's socket to fit a Unix socket path."""
    folder = room / "run" / str(pwd.getpwnam(unix_name(learner)).pw_uid)
    if len(str(folder)) + _KERNEL_SOCKET_NAME > _SOCKET_PATH_MAX:
        raise RuntimeError(
            f"the room's folder {room} is too long: a kernel's socket under {folder} would pass "
            f"the {_SOCKET_PATH_MAX} bytes a Unix socket path may hold; use a shorter --room"
        )
    return folder


def remove_users(room: Path) -> list[str]:
    """Remove every Unix user the course made for this room (their processes are stopped
    first) and their runtime folders, and free their names; return the users' names.

    A name is freed for the next group: its login password is forgotten, and its home moves to
    ``<room>/secrets/removed-homes/<learner>-<time>`` (root only), so nothing of a learner is
    lost and none of it goes to the next learner who claims the name."""
    removed = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in made_users(room):
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        learner = name.removeprefix(UNIX_PREFIX)
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        shutil.rmtree(room / "run" / str(uid), ignore_errors=True)  # its sockets: the next uid's
        subprocess.run(["userdel", name], check=True, capture_output=True)
        home = room / "homes" / learner
        if home.exists():
            kept = room / "secrets" / "removed-homes"
            kept.mkdir(mode=0o700, exist_ok=True)
            home.rename(kept / f"{learner}-{stamp}")
        with dbm.open(str(room / "secrets" / "passwords.dbm"), "c", 0o600) as passwords:
            if learner.encode() in passwords:
                del passwords[learner]
        removed.append(name)
    _record(room).unlink(missing_ok=True)
    return removed


def cores_for(index: int, per_learner: int = CORES_PER_LEARNER) -> set[int]:
    """The CPUs of the ``index``-th learner: ``per_learner`` of the hub's own, round-robin."""
    cpus = sorted(os.sched_getaffinity(0))
    share = min(per_learner, len(cpus))
    return {cpus[(index * share + i) % len(cpus)] for i in range(share)}


def preexec(room: Path, learner: str) -> Callable[[], None]:
    """What runs in a learner's server process before it starts: the limits, then that
    learner's user (uid, gid, no other groups) and home as the working folder."""
    cores = cores_for(made_users(room).index(unix_name(learner)))
    become_learner = set_user_setuid(unix_name(learner))

    def limit_and_become_learner() -> None:
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
        resource.setrlimit(resource.RLIMIT_DATA, (MAX_DATA_BYTES, MAX_DATA_BYTES))
        os.sched_setaffinity(0, cores)
        become_learner()

    return limit_and_become_learner


def shell() -> str:
    """The shell a learner's JupyterLab terminal opens (their account has no login shell)."""
    return shutil.which("bash") or "/bin/sh"
