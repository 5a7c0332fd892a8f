"""Other people's data survives the course: 10,000 foreign keys, and files beside the shop database.

The lessons themselves run against a planted server too (``lessons/conftest.py``:
every notebook under nbval, then a check); here the library's own deleting paths --
``RedisCache.clear``, ``python -m cachelab.environment.reset`` for one learner and for the whole
room -- and the database builds and resets are tried on planted data directly.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import redis
from foreign_data import COUNT, changes, plant

from cachelab.cache import CacheKeyError, RedisCache
from cachelab.environment import reset
from cachelab.shop.data import build_shop


@pytest.fixture
def planted(stoppable_redis):
    client = stoppable_redis.client()
    return client, plant(client)


def course_keys(client, learner: str, count: int = 300) -> None:
    for i in range(count):
        client.set(f"cachelab:{learner}:product:{i}", "{}", ex=600)


def test_clearing_a_cache_leaves_every_foreign_key_as_it_was(planted):
    client, before = planted
    course_keys(client, "ada")
    assert RedisCache(client, prefix="cachelab:ada:").clear() == 300
    assert changes(client, before) == []
    assert len(before.values) >= COUNT


def test_a_learners_reset_and_the_rooms_reset_leave_every_foreign_key(planted, monkeypatch, capsys):
    client, before = planted
    for learner in ("ada", "grace"):
        course_keys(client, learner)
    url = client.connection_pool.connection_kwargs["path"]
    monkeypatch.setenv("CACHELAB_LEARNER", "ada")
    assert reset.main(["--redis-only", "--url", f"unix://{url}"]) == 0
    assert client.exists("cachelab:grace:product:0") == 1, "another learner's keys stay"
    assert reset.main(["--redis-only", "--all-learners", "--url", f"unix://{url}"]) == 0
    assert "grace: 300 key(s)" in capsys.readouterr().out
    assert changes(client, before) == []
    assert [k for k in client.scan_iter(match="cachelab:*:*")] == []


def test_files_beside_the_shop_survive_every_build_and_reset(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    theirs = {
        "notes.txt": b"my notes",
        "shop-notes.db": b"text that merely has the shop's name",
        "catalog.backup.json": b"{}",
        "shop-tiny.db-journal.bak": b"x",
    }
    for name, content in theirs.items():
        (folder / name).write_bytes(content)
    with sqlite3.connect(folder / "shop-accounts.db") as accounts:
        accounts.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total_cents INTEGER)")
        accounts.execute("INSERT INTO invoices VALUES (1, 12345)")
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(folder))
    for _ in range(2):
        build_shop(size="tiny")
        reset.main(["--databases-only"])
    for name, content in theirs.items():
        assert (folder / name).read_bytes() == content, name
    with sqlite3.connect(folder / "shop-accounts.db") as accounts:
        assert accounts.execute("SELECT * FROM invoices").fetchall() == [(1, 12345)]
    assert not (folder / "shop-tiny.db").exists(), "the course's own database was reset"
    assert sorted(p.name for p in Path(folder).iterdir()) == sorted([*theirs, "shop-accounts.db"])


FOREIGN_VALUES = {
    "bytes that are not UTF-8": b"\xff\xfe\x80 price",
    "JSON nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("what", sorted(FOREIGN_VALUES))
def test_a_foreign_value_under_the_prefix_is_a_cache_key_error_naming_the_key(
    stoppable_redis, what
):
    """Not a UnicodeDecodeError or a RecursionError: the documented error, and the client still
    works."""
    raw = redis.Redis(unix_socket_path=str(stoppable_redis.socket_path))
    raw.set("cachelab:ada:product:1", FOREIGN_VALUES[what])
    cache = RedisCache(stoppable_redis.client(), prefix="cachelab:ada:")
    for read in (lambda: cache.get("product:1"), lambda: cache.get_or_load("product:1", dict)):
        with pytest.raises(CacheKeyError, match="'cachelab:ada:product:1' holds"):
            read()
    assert cache.stats.errors == 0, "a foreign value is a bug, not an outage"
    assert cache.set("product:2", {"id": 2}) and cache.get("product:2") == {"id": 2}


def test_a_key_name_that_is_not_utf8_is_cleared_with_the_rest(stoppable_redis, monkeypatch):
    """SCAN with a client that decodes answers raised UnicodeDecodeError on such a name, and
    ``clear()``, a learner's ``make reset`` and the checks' clean-up all stopped there."""
    raw = redis.Redis(unix_socket_path=str(stoppable_redis.socket_path))
    theirs = b"elsewhere:\xff"
    raw.set(theirs, b"not the course's")
    for learner in ("ada", "grace"):
        raw.set(f"cachelab:{learner}:".encode() + b"\xff\xfe", b"x")
        raw.set(f"cachelab:{learner}:product:1", b"{}")
    assert RedisCache(stoppable_redis.client(), prefix="cachelab:ada:").clear() == 2
    url = stoppable_redis.client().connection_pool.connection_kwargs["path"]
    monkeypatch.setenv("CACHELAB_LEARNER", "grace")
    assert reset.main(["--redis-only", "--url", f"unix://{url}"]) == 0
    assert sorted(raw.scan_iter()) == [theirs], "the course's keys are gone, the foreign one stays"
