"""``cachelab.shop._build_lock``: the lock file is the course's own, and a file of the same name
that is someone else's is never locked, written or removed.

``build_shop(path=...)`` may build anywhere, beside a user's own ``x.db.lock``; the lock
used to open that file, flock it, and delete it when the build was done.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.shop._build_lock import (
    LOCK_FILE_MARKER,
    ForeignLockFile,
    build_in_progress,
    build_lock,
    lock_path_of,
)


@pytest.mark.parametrize("theirs", [b"my own notes\n", b""])
def test_a_lock_file_the_course_did_not_make_is_left_alone(tmp_path: Path, theirs: bytes):
    shop = tmp_path / "x.db"
    lock_path_of(shop).write_bytes(theirs)
    with pytest.raises(ForeignLockFile, match="x.db.lock"):
        with build_lock(shop):
            pass
    assert lock_path_of(shop).read_bytes() == theirs, "someone's file was changed or removed"
    assert build_in_progress(shop) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.db.lock"], "nothing else was left"


def test_a_symlink_named_like_the_lock_file_is_not_followed(tmp_path: Path):
    shop = tmp_path / "x.db"
    target = tmp_path / "target.txt"
    target.write_text("theirs")
    lock_path_of(shop).symlink_to(target)
    with pytest.raises(ForeignLockFile):
        with build_lock(shop):
            pass
    assert lock_path_of(shop).is_symlink() and target.read_text() == "theirs"


def test_the_courses_lock_file_carries_its_marker_and_goes_when_released(tmp_path: Path):
    shop = tmp_path / "x.db"
    with build_lock(shop) as held:
        assert held is True
        assert lock_path_of(shop).read_bytes() == LOCK_FILE_MARKER
    assert list(tmp_path.iterdir()) == []
    lock_path_of(shop).write_bytes(LOCK_FILE_MARKER)  # left by a killed build: locked again
    with build_lock(shop, wait=False) as held:
        assert held is True
    assert list(tmp_path.iterdir()) == []


def test_where_hard_links_are_refused_the_lock_file_is_created_in_place(tmp_path, monkeypatch):
    """Some shared folders (a VM's, some FUSE mounts) refuse hard links: the lock still works."""
    import errno
    import os

    def refused(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refused)
    shop = tmp_path / "x.db"
    with build_lock(shop) as held:
        assert held is True and build_in_progress(shop)
        assert lock_path_of(shop).read_bytes() == LOCK_FILE_MARKER
    assert list(tmp_path.iterdir()) == []
