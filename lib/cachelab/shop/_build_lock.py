"""One build of a file at a time, across processes: ``build_lock(path)``.

``data.build_shop`` holds it while it builds a shop, so a second process that needs
the same shop waits and then reuses it, and ``make reset`` (``reset._remove_databases``)
leaves a build in progress alone (``build_in_progress``, ``build_lock(wait=False)``).

The lock is an ``fcntl.flock`` on ``<path>.lock`` beside the file -- never on the
database itself: on POSIX, closing any descriptor of a file releases every lock the
process holds on it, SQLite's included. The system drops a flock when its process dies,
so a killed build leaves no stale lock, only (at most) its lock file. A flock belongs
to an open file, not to a process: ``build_lock`` is not re-entrant.

The lock file is the course's own: it is created whole, holding ``LOCK_FILE_MARKER``
(written to a temporary file, then hard-linked into place, so nobody sees it empty;
where hard links are refused, created in place and given ``BIRTH_S`` to get its marker),
and only a file holding exactly that is ever locked or removed. ``build_shop(path=...)``
may build anywhere, beside a user's own ``x.db.lock``: such a file (or a link, or a
folder, of that name) raises ``ForeignLockFile`` and is left as it was.

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
import stat
import tempfile
import time
from pathlib import Path
from typing import Iterator, Union

__all__ = [
    "LOCK_FILE_MARKER",
    "ForeignLockFile",
    "build_lock",
    "build_in_progress",
    "lock_path_of",
    "is_lock_file",
]

LOCK_FILE_MARKER = b"cachelab build lock\n"
"""What a lock file the course made holds, and all it holds."""

BIRTH_S = 1.0
"""How long a lock file holding only a beginning of the marker (or nothing) may be one being
created (where hard links are refused) before it is judged someone else's."""


class ForeignLockFile(FileExistsError):
    """``<path>.lock`` exists and is not a lock file the course made: it is left alone."""


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
    ``ForeignLockFile`` if ``<path>.lock`` is not the course's (see the module's note).
    """
    lock_path = lock_path_of(path)
    while True:
        descriptor = _open_lock_file(lock_path)
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
        if _still_names(lock_path, descriptor):  # ours, marked and locked: nobody else's file
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock_path)
        os.close(descriptor)


def build_in_progress(path: Union[str, Path]) -> bool:
    """Whether another process holds ``build_lock(path)`` right now (creates and removes nothing).

    A look, not a promise: to act on "no build", take ``build_lock(path, wait=False)``.
    A lock file that is not the course's says nothing: False.
    """
    lock_path = lock_path_of(path)
    try:
        descriptor = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # missing, a link, or not ours to open
        return False
    try:
        if not _is_marked(descriptor):
            return False
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # closing it releases the probe's flock
    return False


def is_lock_file(path: Union[str, Path]) -> bool:
    """Whether ``path`` is a lock file the course made (it holds ``LOCK_FILE_MARKER``)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return _is_marked(descriptor)
    finally:
        os.close(descriptor)


def _open_lock_file(lock_path: Path) -> int:
    """A descriptor of the course's lock file at ``lock_path``, created if missing;
    ``ForeignLockFile`` if a file of that name is not one."""
    waited_from = time.monotonic()
    while True:
        try:
            descriptor = os.open(lock_path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            _create(lock_path)  # or another process did meanwhile: open whichever is there
            continue
        except PermissionError:
            raise
        except OSError:  # a link (ELOOP), a folder
            raise _foreign(lock_path) from None
        if _is_marked(descriptor):
            return descriptor
        being_written = _holds_a_start_of_the_marker(descriptor)
        os.close(descriptor)
        if not being_written or time.monotonic() > waited_from + BIRTH_S:
            raise _foreign(lock_path)
        time.sleep(0.01)  # created in place (no hard links) a moment ago: its marker is coming


def _create(lock_path: Path) -> None:
    """Put a lock file holding the marker at ``lock_path`` unless a file is there already."""
    handle, temporary = tempfile.mkstemp(
        prefix=lock_path.name + ".", suffix=".tmp", dir=lock_path.parent
    )
    try:
        os.write(handle, LOCK_FILE_MARKER)
        os.fchmod(handle, 0o644)
        try:
            os.link(temporary, lock_path)
        except FileExistsError:  # another process's: the same, or not ours
            pass
        except OSError:  # a file system without hard links (some shared folders of a VM)
            _create_in_place(lock_path)
    finally:
        os.close(handle)
        os.unlink(temporary)


def _create_in_place(lock_path: Path) -> None:
    """``_create`` where hard links are refused: create the file (if none is there) and write the
    marker into it; a process that opens it before the marker is written waits (``BIRTH_S``)."""
    try:
        descriptor = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        return
    try:
        os.write(descriptor, LOCK_FILE_MARKER)
    finally:
        os.close(descriptor)


def _is_marked(descriptor: int) -> bool:
    """Whether the file open at ``descriptor`` is a regular file holding just the marker.

    (Every open here is ``O_NONBLOCK``, so a pipe of that name cannot make it wait.)
    """
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        return False
    return os.pread(descriptor, len(LOCK_FILE_MARKER) + 1, 0) == LOCK_FILE_MARKER


def _holds_a_start_of_the_marker(descriptor: int) -> bool:
    """Whether the file open at ``descriptor`` holds a beginning of the marker (or nothing)."""
    return LOCK_FILE_MARKER.startswith(os.pread(descriptor, len(LOCK_FILE_MARKER), 0))


def _foreign(lock_path: Path) -> ForeignLockFile:
    return ForeignLockFile(
        f"{lock_path} is not a lock file the course made, so the course will not lock or remove "
        f"it: build elsewhere, or move it away if it is yours (a lock file the course makes "
        f"holds just {LOCK_FILE_MARKER!r})"
    )


def _still_names(lock_path: Path, descriptor: int) -> bool:
    """Whether ``lock_path`` is still the file open at ``descriptor`` (not removed or replaced)."""
    try:
        current = os.stat(lock_path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino)
