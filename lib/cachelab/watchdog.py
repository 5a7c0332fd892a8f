"""Stop a private Redis server once the Python process that started it is gone.

Why this exists: the private server runs in a session of its own, so that
pressing "Interrupt kernel" in Jupyter (which signals the kernel's whole process
group) does not kill Redis along with the cell. The price is that a kernel that
is *killed* -- not shut down cleanly -- can no longer take its server with it.
This tiny watcher, started beside the server, closes that gap: it checks once a
second whether the owner is still alive, and when it is not, it terminates the
server and removes its temporary folder.

It imports nothing but the standard library, so it starts in a few milliseconds.
Usage (by ``redis_server.PrivateRedisServer``, not by hand)::

    python -m cachelab.watchdog OWNER_PID SERVER_PID FOLDER
"""

import os
import shutil
import signal
import sys
import time

__all__ = ["is_alive", "watch"]


def is_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it just is not ours
        return True
    return True


def watch(owner_pid: int, server_pid: int, folder: str, every_s: float = 1.0) -> None:
    """Wait until the owner or the server is gone; then stop the server and remove its folder."""
    while is_alive(owner_pid) and is_alive(server_pid):
        time.sleep(every_s)
    if is_alive(server_pid):
        os.kill(server_pid, signal.SIGTERM)
        for _ in range(50):  # give it up to 5 s to exit cleanly
            if not is_alive(server_pid):
                break
            time.sleep(0.1)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
