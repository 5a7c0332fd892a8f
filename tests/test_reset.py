"""``cachelab.environment.reset``: deletes the course's keys and generated databases -- and
nothing else.

Real Redis servers only (the conftest fixtures). The tests that delete the whole
``cachelab:`` prefix do it on a private server of their own, never on a shared one.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cachelab import keys
from cachelab.environment import reset
from cachelab.shop import data
from cachelab.shop._build_lock import LOCK_FILE_MARKER

LEARNERS = ("ada", "grace", "linus")


def _a_room(client) -> dict[str, list[str]]:
    """Keys of three learners, a key of the course outside any learner, and other people's keys."""
    room = {name: [f"cachelab:{name}:product:{i}" for i in range(3)] for name in LEARNERS}
    room["theirs"] = [
        "session:42",
        "cachelab",
        "cachelabx:1",
        "CACHELAB:upper",
        "user:cachelab:ada:1",
    ]
    room["course"] = [
        "cachelab:ada"
    ]  # under cachelab:, but with no second ':' it is nobody's learner key
    for key_list in room.values():
        for key in key_list:
            client.set(key, "value")
    return room


def test_a_learners_reset_deletes_only_that_learners_keys(stoppable_redis, monkeypatch) -> None:
    client = stoppable_redis.client()
    room = _a_room(client)
    monkeypatch.setenv("CACHELAB_LEARNER", "ada")
    assert reset._delete_course_keys(client) == 3
    assert client.exists(*room["ada"]) == 0
    others = [key for name, key_list in room.items() if name != "ada" for key in key_list]
    assert client.exists(*others) == len(others)


def test_the_whole_course_prefix_leaves_every_other_key_alone(stoppable_redis) -> None:
    client = stoppable_redis.client()
    ours = [f"cachelab:ada:product:{i}" for i in range(1_234)] + [
        "cachelab:grace:trending:days=7:limit=10"
    ]
    theirs = [
        "session:42",
        "cachelab",
        "cachelabx:1",
        "CACHELAB:upper",
        "xcachelab:1",
        "user:cachelab:1",
    ]
    for key in ours + theirs:
        client.set(key, "value")
    client.hset("cachelab:ada:a-hash", mapping={"f": "v"})  # any type under the prefix goes
    assert (
        reset._delete_course_keys(client, keys._COURSE_PREFIX) == len(ours) + 1
    )  # more than one batch
    assert client.keys("cachelab:*") == []
    assert sorted(client.keys("*")) == sorted(theirs)


def test_keys_per_learner_counts_each_learners_keys_and_changes_nothing(stoppable_redis) -> None:
    client = stoppable_redis.client()
    _a_room(client)
    before = client.dbsize()
    assert reset._keys_per_learner(client) == {"ada": 3, "grace": 3, "linus": 3, "(none)": 1}
    assert client.dbsize() == before


def test_dry_run_counts_and_deletes_nothing(stoppable_redis) -> None:
    client = stoppable_redis.client()
    client.set("cachelab:ada:x", "1")
    client.set("other", "2")
    assert reset._delete_course_keys(client, "cachelab:ada:", dry_run=True) == 1
    assert client.dbsize() == 2


@pytest.mark.parametrize("prefix", ["", "*", "other:", "cachelab", "Cachelab:", "cachelab:ada"])
def test_a_prefix_outside_the_course_or_without_its_colon_is_refused(
    redis_client, prefix: str
) -> None:
    with pytest.raises(ValueError, match="prefix must"):
        reset._delete_course_keys(redis_client, prefix)


def _data_folder(tmp_path: Path, tiny_shop_path: Path) -> Path:
    """A data folder with the course's files and look-alikes that are someone else's."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("shop-default.db", "shop-tiny.db", "shop-default.db.abc123.partial"):
        shutil.copyfile(tiny_shop_path, folder / name)  # built by the course: they carry its marker
    (folder / "shop-tiny.db-journal").write_bytes(b"a journal of ours")
    accounts = sqlite3.connect(folder / "shop-accounts.db")  # someone's database, with a shop- name
    accounts.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total_cents INTEGER)")
    accounts.commit()
    accounts.close()
    (folder / "shop-accounts.db-journal").write_bytes(b"their journal")
    (folder / "shop-notes.db").write_text("my notes, not a database")
    for name in ("catalog.json", "notes.db", "my-shop.db"):
        (folder / name).write_text("not ours")
    return folder


def test_only_the_courses_own_databases_are_removed_and_the_rest_is_reported(
    tmp_path, tiny_shop_path
):
    """``--databases-only`` once deleted shop-accounts.db (another program's) and shop-notes.db."""
    folder = _data_folder(tmp_path, tiny_shop_path)
    sweep = reset._remove_databases(folder)
    assert sorted(path.name for path in sweep.removed) == [
        "shop-default.db",
        "shop-default.db.abc123.partial",
        "shop-tiny.db",
        "shop-tiny.db-journal",
    ]
    assert sorted(path.name for path in sweep.skipped) == [
        "shop-accounts.db",
        "shop-accounts.db-journal",
        "shop-notes.db",
    ]
    assert sorted(path.name for path in folder.iterdir()) == [
        "catalog.json",
        "my-shop.db",
        "notes.db",
        "shop-accounts.db",
        "shop-accounts.db-journal",
        "shop-notes.db",
    ]
    assert (folder / "shop-notes.db").read_text() == "my notes, not a database"


HOLD_THE_BUILD_LOCK = textwrap.dedent("""
    import sys
    from cachelab.shop._build_lock import build_lock
    with build_lock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.readline()
""")


def test_a_build_in_progress_is_left_alone_and_reported(
    tmp_path, tiny_shop_path, monkeypatch, capsys
):
    """``make reset`` once deleted another process's build (its database and partial file)."""
    folder = _data_folder(tmp_path, tiny_shop_path)
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(folder))
    builder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_BUILD_LOCK, str(folder / "shop-default.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert builder.stdout.readline().strip() == "held"
        assert reset.main(["--databases-only"]) == 0
        out = capsys.readouterr().out
        building = ["shop-default.db", "shop-default.db.abc123.partial", "shop-default.db.lock"]
        assert all((folder / name).exists() for name in building), "the build was deleted"
        for name in building:
            assert f"skipped {folder / name}: another process is building" in out
        assert not (folder / "shop-tiny.db").exists(), "another shop is still reset"
    finally:
        builder.communicate("done\n", timeout=60)
    sweep = reset._remove_databases(folder)
    assert sorted(path.name for path in sweep.removed) == [
        "shop-default.db",
        "shop-default.db.abc123.partial",
    ]
    assert sweep.building == []
    assert not any(folder.glob("shop-default.db*"))


HOLD_A_REAL_BUILD = textwrap.dedent("""
    import sqlite3, sys
    from cachelab.shop._build_lock import build_lock
    with build_lock(sys.argv[1]):
        writer = sqlite3.connect(sys.argv[2], isolation_level=None)
        writer.execute("PRAGMA journal_mode = OFF")  # as data._build_into does
        writer.execute("BEGIN EXCLUSIVE")  # its one big transaction: no reader gets in
        writer.execute("UPDATE products SET price_cents = price_cents + 1")
        print("held", flush=True)
        sys.stdin.readline()
        writer.execute("ROLLBACK")
""")


def test_a_real_build_holding_sqlites_lock_on_its_partial_file_is_left_alone(
    tmp_path, tiny_shop_path, monkeypatch, capsys
):
    """A default build holds an exclusive SQLite lock on its partial file for most of its run:
    reading its marker waited SQLite's 5 s, then ``make reset`` crashed on "database is locked"."""
    folder = _data_folder(tmp_path, tiny_shop_path)
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(folder))
    partial = folder / "shop-default.db.abc123.partial"
    builder = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_REAL_BUILD, str(folder / "shop-default.db"), str(partial)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert builder.stdout.readline().strip() == "held"
        assert reset.main(["--databases-only"]) == 0
        out = capsys.readouterr().out
        assert f"skipped {partial}: another process is building" in out, out
        assert partial.exists() and (folder / "shop-default.db").exists()
        assert not (folder / "shop-tiny.db").exists(), "another shop is still reset"
    finally:
        builder.communicate("done\n", timeout=60)


HOLD_A_WRITE = textwrap.dedent("""
    import sqlite3, sys
    writer = sqlite3.connect(sys.argv[1], isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    print("held", flush=True)
    sys.stdin.readline()
    writer.execute("ROLLBACK")
""")


def test_a_database_locked_by_another_writer_is_reported_not_a_crash(
    tmp_path, tiny_shop_path, monkeypatch, capsys
):
    """No build lock, but a long write on ``shop-tiny.db`` (someone's own sqlite3 session): the
    reset says so and goes on. SQLite's wait is cut from 5 s to 0.2 s here, on a real lock."""
    folder = _data_folder(tmp_path, tiny_shop_path)
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(folder))
    monkeypatch.setattr(
        data,
        "_connect_read_only",
        lambda path: sqlite3.connect(
            Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=0.2
        ),
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_WRITE, str(folder / "shop-tiny.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "held"
        assert reset.main(["--databases-only"]) == 0
        out = capsys.readouterr().out
        assert f"skipped {folder / 'shop-tiny.db'}: another process is writing it" in out, out
        assert (folder / "shop-tiny.db").exists()
        assert not (folder / "shop-default.db").exists(), "the other shops are still reset"
    finally:
        writer.communicate("done\n", timeout=60)


def test_a_lock_left_by_a_killed_build_is_removed(tmp_path, tiny_shop_path):
    folder = _data_folder(tmp_path, tiny_shop_path)
    lock = folder / "shop-small.db.lock"
    lock.write_bytes(LOCK_FILE_MARKER)  # its holder died: the system let the lock go
    sweep = reset._remove_databases(folder)
    assert lock in sweep.removed
    assert not lock.exists()


@pytest.mark.parametrize("theirs", [b"", b"my notes"])
def test_a_lock_file_the_course_did_not_make_is_kept(tmp_path, tiny_shop_path, theirs):
    folder = _data_folder(tmp_path, tiny_shop_path)
    lock = folder / "shop-small.db.lock"
    lock.write_bytes(theirs)
    sweep = reset._remove_databases(folder)
    assert lock in sweep.skipped
    assert lock.read_bytes() == theirs


def test_command_line_resets_this_learner_only(
    stoppable_redis, tmp_path: Path, tiny_shop_path: Path, monkeypatch, capsys
) -> None:
    folder = _data_folder(tmp_path, tiny_shop_path)
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(folder))
    monkeypatch.setenv("REDIS_URL", stoppable_redis.url)
    monkeypatch.setenv("CACHELAB_LEARNER", "grace")
    client = stoppable_redis.client()
    room = _a_room(client)

    assert reset.main([]) == 0
    out = capsys.readouterr().out
    assert "deleted 3 key(s) under 'cachelab:grace:'" in out
    assert "shop-default.db" in out
    assert client.exists(*room["grace"]) == 0
    kept = room["ada"] + room["linus"] + room["theirs"] + room["course"]
    assert client.exists(*kept) == len(kept)
    assert not (folder / "shop-default.db").exists()
    assert (folder / "catalog.json").exists() and (folder / "shop-accounts.db").exists()
    assert "skipped" in out and "shop-accounts.db: not a file the course made" in out


def test_command_line_all_learners_resets_the_room_and_says_how_many_each_had(
    stoppable_redis, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("REDIS_URL", stoppable_redis.url)
    client = stoppable_redis.client()
    room = _a_room(client)
    client.set("cachelab:ada:extra", "1")
    assert reset.main(["--all-learners", "--redis-only"]) == 0
    out = capsys.readouterr().out
    assert "deleted 11 key(s) under 'cachelab:'" in out
    assert (
        "ada: 4 key(s)" in out
        and "(none): 1 key(s)" in out
        and "grace: 3 key(s)" in out
        and "linus: 3 key(s)" in out
    )
    assert sorted(client.keys("*")) == sorted(room["theirs"])


def test_command_line_refuses_a_learner_name_that_would_widen_the_scan(
    stoppable_redis, capsys
) -> None:
    with pytest.raises(SystemExit):
        reset.main(["--learner", "*", "--url", stoppable_redis.url])
    assert "a learner name is" in capsys.readouterr().err


def test_command_line_without_redis_url_says_there_is_nothing_to_reset(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert reset.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "REDIS_URL is not set" in out and "Nothing persistent to reset" in out
    assert "none to delete" in out


def test_command_line_dry_run_keeps_everything(
    stoppable_redis, tmp_path: Path, tiny_shop_path: Path, monkeypatch, capsys
) -> None:
    folder = _data_folder(tmp_path, tiny_shop_path)
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(folder))
    monkeypatch.setenv("CACHELAB_LEARNER", "ada")
    client = stoppable_redis.client()
    client.set("cachelab:ada:x", "1")
    assert reset.main(["--dry-run", "--url", stoppable_redis.url]) == 0
    out = capsys.readouterr().out
    assert "would delete 1 key(s)" in out
    assert client.exists("cachelab:ada:x") == 1
    assert (folder / "shop-default.db").exists()


def test_unreachable_redis_is_reported_and_fails(
    stoppable_redis, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    url = stoppable_redis.url
    stoppable_redis.stop()
    assert reset.main(["--redis-only", "--url", url]) == 1
    err = capsys.readouterr().err
    assert "could not reset" in err and url in err


def test_every_learners_keys_are_deleted_and_counted_per_learner_as_deleted(
    stoppable_redis,
) -> None:
    client = stoppable_redis.client()
    room = _a_room(client)
    for i in range(reset._BATCH + 7):  # more than one batch for one learner
        client.set(f"cachelab:linus:bulk:{i}", "v")
    client.rpush("cachelab:grace:a-list", "x")  # any type under the prefix goes
    assert reset._delete_every_learners_keys(client, dry_run=True) == {
        "ada": 3,
        "grace": 4,
        "linus": 3 + reset._BATCH + 7,
        reset._NO_LEARNER: 1,
    }
    assert client.exists("cachelab:ada:product:0") == 1  # the dry run deleted nothing
    deleted = reset._delete_every_learners_keys(client)
    assert deleted == {"ada": 3, "grace": 4, "linus": 3 + reset._BATCH + 7, reset._NO_LEARNER: 1}
    assert sorted(client.keys("*")) == sorted(room["theirs"])
