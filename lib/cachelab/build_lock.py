"""One build of a file at a time, across processes: ``build_lock(path)``.

``data.build_shop`` holds it while it builds a shop, so a second process that needs
the same shop waits and then reuses it, and ``make reset`` (``reset.remove_databases``)
leaves a build in progress alone (``build_in_progress``, ``build_lock(wait=False)``).

The lock is an ``fcntl.flock`` on ``<path>.lock`` beside the file -- never on the
database itself: on POSIX, closing any descriptor of a file releases every lock the
process holds on it, SQLite's included. The system drops a flock when its process dies,
so a killed build leaves no stale lock, only (at most) an empty lock file. A flock
belongs to an open file, not to a process: ``build_lock`` is not re-entrant.

>>> import tempfile
>>> shop = Path(tempfile.mkdtemp()) / "shop.db"
>>> with build_lock(shop) as held:
...     print(held, lock_path_of(shop).name, build_in_progress(shop))
True shop.db.lock True
>>> build_in_progress(shop), lock_path_of(shop).exists()
(False, False)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator, Union

__all__ = ["build_lock", "build_in_progress", "lock_path_of"]


def lock_path_of(path: Union[str, Path]) -> Path:
    """The lock file of ``path``: ``shop-tiny.db`` → ``shop-tiny.db.lock``."""
    return Path(path).with_name(Path(path).name + ".lock")


@contextlib.contextmanager
def build_lock(path: Union[str, Path], wait: bool = True) -> Iterator[bool]:
    """Hold the lock that says "a process is building the shop at ``path``"; yield True.

    The lock is an ``fcntl.flock`` on ``<path>.lock`` beside the database (never on the
    database itself, whose descriptors must not be closed while SQLite holds locks). The
    system drops it when its process dies, so a killed build leaves no stale lock. The
    holder removes the file when done; a waiter that then finds it gone, or replaced,
    locks the new one, so two holders never overlap.

    With ``wait=False`` it yields False at once, holding nothing, if another process
    holds the lock: ``make reset`` uses that to leave a build in progress alone.
    """
    lock_path = lock_path_of(path)
    while True:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:  # another process holds it, and we were asked not to wait
            os.close(descriptor)
            descriptor = None
        except BaseException:
            os.close(descriptor)
            raise
        if descriptor is None or _still_names(lock_path, descriptor):
            break
        os.close(descriptor)  # the holder before us removed this file: lock the current one
    if descriptor is None:
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)
        os.close(descriptor)


def build_in_progress(path: Union[str, Path]) -> bool:
    """Whether another process holds ``build_lock(path)`` right now (creates and removes nothing).

    A look, not a promise: to act on "no build", take ``build_lock(path, wait=False)``.
    """
    lock_path = lock_path_of(path)
    try:
        descriptor = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # closing it releases the probe's flock
    return False


def _still_names(lock_path: Path, descriptor: int) -> bool:
    """Whether ``lock_path`` is still the file open at ``descriptor`` (not removed or replaced)."""
    try:
        current = os.stat(lock_path)
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino)
