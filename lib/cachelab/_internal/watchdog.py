"""Clean up after a Python process once it is gone: stop its servers, remove its folder.

Why this exists: the course's servers (the private Redis of ``redis_server``, the
web service of ``cachelab.web``) run in a session of their own, so that pressing
"Interrupt kernel" in Jupyter (which signals the kernel's whole process group)
does not kill them along with the cell. The price is that a kernel that is
*killed* -- not shut down cleanly -- can no longer take its servers with it, nor
remove the scratch copies of the shop it made (30 MB each). This tiny watcher,
started beside them, closes that gap: it checks once a second whether the owner is
still alive, and when it is not, it terminates the server (if it was given one)
and removes the folder.

With ``--group`` it signals the server's whole process group instead of the one
process: a web server with worker processes is a group (the server leads it, its
workers belong to it), and the workers must go too -- also when the server itself
died first and left them behind, so in that mode the watcher also acts as soon as
the server is gone.

It imports nothing but the standard library, so it starts in a few milliseconds.
Usage (by ``redis_server.PrivateRedisServer``, ``data.scratch_shop`` and
``web.WebService``, not by hand)::

    python -m cachelab._internal.watchdog OWNER_PID SERVER_PID FOLDER [--group]

(``SERVER_PID`` is ``-`` for none.) ``start_detached`` starts a server in a session of
its own together with its watchdog, the one way both servers are started;
``start_watchdog`` starts a watchdog alone, for a folder with no server.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

__all__ = ["is_alive", "group_is_alive", "stop", "watch", "start_watchdog", "start_detached"]


def _stat(pid: Union[int, str]) -> Optional[list[bytes]]:
    """The fields of ``/proc/PID/stat`` after the name (state, ppid, pgrp, ...), on Linux.

    ``None`` where there is no ``/proc`` or the process ended while we looked.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            # "pid (name) state ppid pgrp ...": the name may hold spaces and ")"
            return file.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def is_alive(pid: int) -> bool:
    """Whether a process with this id is still running (signal 0 checks without sending anything).

    A process that has exited but not yet been reaped by its parent (a zombie) does
    not count, as in ``group_is_alive``: a server killed while its owner never polls it
    stays a zombie, and the watchdog must see it gone. On Linux its state is read from
    ``/proc``; elsewhere a zombie counts as alive.

    >>> is_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it just is not ours
        return True
    fields = _stat(pid)
    return fields is None or fields[0] != b"Z"


def group_is_alive(group_id: int) -> bool:
    """Whether any process of the process group ``group_id`` is still running.

    A process that has exited but not yet been reaped by its parent (a zombie) does
    not count: it holds no socket and runs nothing. On Linux the process table is
    read from ``/proc``; elsewhere a zombie counts as alive.
    """
    if os.path.isdir("/proc/self"):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            fields = _stat(entry)
            if fields is not None and int(fields[2]) == group_id and fields[0] != b"Z":
                return True
        return False
    try:
        os.killpg(group_id, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(
    pid: int, group: bool = False, grace_s: float = 5.0, reap: Optional[Callable[[], Any]] = None
) -> None:
    """Send SIGTERM to ``pid`` (its whole process group if ``group``); SIGKILL after ``grace_s``.

    A process group is named by the id of the process that leads it: a server
    started with ``start_new_session=True`` leads its own, and its workers join it.
    The parent of ``pid`` passes ``reap`` (e.g. ``popen.poll``), called while waiting:
    a process that has exited stays in the process table until its parent reaps it.
    """
    send = os.killpg if group else os.kill
    alive = group_is_alive if group else is_alive
    try:
        send(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if reap is not None:
            reap()
        if not alive(pid):
            return
        time.sleep(0.05)
    try:
        send(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def watch(
    owner_pid: int,
    server_pid: Optional[int],
    folder: str,
    every_s: float = 1.0,
    group: bool = False,
) -> None:
    """Wait until the owner is gone; then stop the server (if it still runs) and remove the folder.

    A server that stops by itself leaves its folder alone: the owner may restart it there.
    With ``group``, the server's whole process group is stopped, and the watcher acts as
    soon as either the owner or the group's leader is gone (workers must not outlive it).
    """

    def leader_gone() -> bool:
        return group and server_pid is not None and not is_alive(server_pid)

    while is_alive(owner_pid) and not leader_gone():
        time.sleep(every_s)
    if server_pid is not None and (group or is_alive(server_pid)):
        stop(server_pid, group=group)
    shutil.rmtree(folder, ignore_errors=True)


def start_watchdog(
    owner_pid: int, server_pid: Optional[int], folder: Union[str, Path], group: bool = False
) -> subprocess.Popen:
    """Start a watchdog for ``owner_pid``, in a session of its own so that interrupts spare it."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cachelab._internal.watchdog",
            str(owner_pid),
            "-" if server_pid is None else str(server_pid),
            str(folder),
            *(["--group"] if group else []),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def start_detached(
    command: Sequence[str],
    folder: Path,
    log_name: str,
    env: Optional[Mapping[str, str]] = None,
    group: bool = False,
) -> tuple[subprocess.Popen, subprocess.Popen]:
    """Start ``command`` as a server in a session of its own, with a watchdog; return both.

    This is the one way the course starts a server from a notebook (the private Redis, the
    web service), written once because each of its three parts has a reason:

    - a session of its own, so that "Interrupt kernel" (which signals the kernel's whole
      process group) does not kill the server; the server then leads a process group of its
      own, which its workers join;
    - its output (stdout and stderr) appended to ``folder / log_name``, not to a pipe: a pipe
      that nobody reads fills up and stalls the server, and the log is what the caller shows
      when the server does not start;
    - a watchdog for it, because a server in a session of its own no longer goes with a killed
      kernel: once this process is gone, the watchdog stops the server (with ``group``, its
      whole process group, also when the server died first) and removes ``folder``.

    ``env`` replaces the server's environment (``None`` passes on this process's). The caller
    waits until the server answers, and terminates the watchdog (the second process returned)
    when it stops the server itself.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> server, guard = start_detached([sys.executable, "-c", "print('ready')"], folder, "out.log")
    >>> os.getpgid(server.pid) == server.pid  # it leads a process group of its own
    True
    >>> server.wait(), (folder / "out.log").read_text()
    (0, 'ready\\n')
    >>> guard.terminate(); guard.wait()
    -15
    >>> shutil.rmtree(folder)
    """
    with open(folder / log_name, "ab") as log:
        server = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    return server, start_watchdog(os.getpid(), server.pid, folder, group=group)


if __name__ == "__main__":
    watch(
        int(sys.argv[1]),
        None if sys.argv[2] == "-" else int(sys.argv[2]),
        sys.argv[3],
        group="--group" in sys.argv[4:],
    )
