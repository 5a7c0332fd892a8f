"""Clean up after a Python process once it is gone: stop its private server, remove its folder.

Why this exists: the private Redis server runs in a session of its own, so that
pressing "Interrupt kernel" in Jupyter (which signals the kernel's whole process
group) does not kill Redis along with the cell. The price is that a kernel that
is *killed* -- not shut down cleanly -- can no longer take its server with it, nor
remove the scratch copies of the shop it made (30 MB each). This tiny watcher,
started beside them, closes that gap: it checks once a second whether the owner is
still alive, and when it is not, it terminates the server (if it was given one)
and removes the folder.

It imports nothing but the standard library, so it starts in a few milliseconds.
Usage (by ``redis_server.PrivateRedisServer`` and ``data.scratch_shop``, not by hand)::

    python -m cachelab.watchdog OWNER_PID SERVER_PID FOLDER     # SERVER_PID "-" for none
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Union

__all__ = ["is_alive", "watch", "start_watchdog"]


def is_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything).

    >>> is_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it just is not ours
        return True
    return True


def watch(owner_pid: int, server_pid: Optional[int], folder: str, every_s: float = 1.0) -> None:
    """Wait until the owner is gone; then stop the server (if it still runs) and remove the folder.

    A server that stops by itself leaves its folder alone: the owner may restart it there.
    """
    while is_alive(owner_pid):
        time.sleep(every_s)
    if server_pid is not None and is_alive(server_pid):
        os.kill(server_pid, signal.SIGTERM)
        for _ in range(50):  # give it up to 5 s to exit cleanly
            if not is_alive(server_pid):
                break
            time.sleep(0.1)
    shutil.rmtree(folder, ignore_errors=True)


def start_watchdog(
    owner_pid: int, server_pid: Optional[int], folder: Union[str, Path]
) -> subprocess.Popen:
    """Start a watchdog for ``owner_pid``, in a session of its own so that interrupts spare it."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cachelab.watchdog",
            str(owner_pid),
            "-" if server_pid is None else str(server_pid),
            str(folder),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


if __name__ == "__main__":
    watch(int(sys.argv[1]), None if sys.argv[2] == "-" else int(sys.argv[2]), sys.argv[3])
