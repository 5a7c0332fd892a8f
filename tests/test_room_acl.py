"""The room's Redis with ACL users (``hub/room_redis.py``), on a real server of this test's own.

Two learners get their URLs from ``RoomRedis``. Each can do all of its own cache work, and
nothing to the other's keys or to the server; the password-less ``default`` user is off; the
instructor resets every learner and touches nothing outside ``cachelab:``. The URLs work as
``REDIS_URL``: ``url_of`` keeps their user and password, so worker processes connect as the
same user. The server is private (it holds other people's data on purpose, which must never be
written to a shared one) and started once for the module: all of this takes about a second.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Callable, Iterator

import pytest
import redis
from support import foreign_keys, load_module, plant_foreign_keys, snapshot

from cachelab import keys
from cachelab.cache import RedisCache
from cachelab.environment import reset
from cachelab.environment.redis_server import (
    PrivateRedisServer,
    RedisNotFoundError,
    connect,
    server_version,
    url_of,
)
from cachelab.near_cache import NearCache
from cachelab.stampedes import SingleFlight

REPO = Path(__file__).resolve().parents[1]
room_redis = load_module("room_redis", REPO / "hub" / "room_redis.py")

SECRET = b"a room's secret, 32 bytes long.."
ADA, GRACE = "ada", "grace"


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateRedisServer]:
    """A private server holding other people's data, locked down by the tests' ``room``."""
    started = PrivateRedisServer().start()
    plant_foreign_keys(started.client())
    yield started
    started.stop()


@pytest.fixture(scope="module")
def room(server: PrivateRedisServer):
    return room_redis.RoomRedis.lock_down(server.url, SECRET)


@pytest.fixture(scope="module")
def ada(room) -> redis.Redis:
    return connect(room.learner_url(ADA))


@pytest.fixture(scope="module")
def grace(room) -> redis.Redis:
    return connect(room.learner_url(GRACE))


@pytest.fixture
def graces_key(grace: redis.Redis) -> Iterator[str]:
    """A key of grace's, with a value; it must be unchanged after ada's attempts."""
    name = keys.learner_prefix(GRACE) + "product:1"
    grace.set(name, "grace's value", ex=600)
    yield name
    assert grace.get(name) == "grace's value", "another learner changed grace's key"
    assert 0 < grace.ttl(name) <= 600, "another learner changed the TTL of grace's key"
    grace.delete(name)


def _refused(command: Callable[[], object]) -> str:
    """Run ``command``; return the server's refusal (NOPERM), failing the test if it ran."""
    with pytest.raises(redis.ResponseError) as refused:
        command()
    message = str(refused.value)
    assert "permission" in message.lower(), f"refused, but not by the ACL: {message}"
    return message


# --- the URLs


def test_url_of_keeps_the_user_and_password_of_a_unix_socket_url(room, ada: redis.Redis) -> None:
    url = room.learner_url(ADA)
    assert url.startswith("unix://ada:") and "@/" in url, url
    assert url_of(ada) == url
    again = connect(url_of(ada))  # a worker process's connection: the same user
    assert again.acl_whoami() == ADA


def test_url_of_percent_encodes_a_password_and_user_that_need_it(server) -> None:
    client = redis.Redis(
        unix_socket_path=str(server.socket_path), username="a:b@c#", password="p@ss:w/rd%#"
    )
    options = redis.Redis.from_url(url_of(client)).connection_pool.connection_kwargs
    assert (options["username"], options["password"]) == ("a:b@c#", "p@ss:w/rd%#")
    assert options["path"] == str(server.socket_path)


def test_a_learners_url_is_the_same_after_the_hub_restarts(room) -> None:
    other_server = PrivateRedisServer().start()
    try:
        again = room_redis.RoomRedis.lock_down(other_server.url, SECRET)
        password = redis.Redis.from_url(room.learner_url(GRACE)).connection_pool.connection_kwargs
        password_again = redis.Redis.from_url(again.learner_url(GRACE))
        assert password_again.connection_pool.connection_kwargs["password"] == password["password"]
        assert connect(again.learner_url(GRACE)).acl_whoami() == GRACE
    finally:
        other_server.stop()


@pytest.mark.parametrize(
    "name", ["a:b", "ada*", "", "x" * 65, "default", "instructor", "_cachelab_hub", None]
)
def test_a_name_that_is_not_a_learners_gets_no_redis_user(room, name) -> None:
    with pytest.raises(ValueError, match="no Redis user"):
        room.learner_url(name)


def test_a_short_secret_is_refused(server) -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        room_redis.RoomRedis.lock_down(server.url, b"short")


# --- who may do what


def test_the_default_user_is_off(room, server: PrivateRedisServer) -> None:
    wrong_password = room.learner_url(ADA).replace("ada:", "ada:x", 1)
    guessed = f"unix://:guess@{server.socket_path}"
    for url in (server.url, guessed, wrong_password):
        with pytest.raises(RedisNotFoundError, match="refused the password"):
            connect(url)


def test_the_socket_is_open_to_local_users_once_the_acl_locks_it(room, server) -> None:
    assert stat.S_IMODE(os.stat(server.socket_path).st_mode) == 0o666
    assert stat.S_IMODE(os.stat(server.folder).st_mode) & 0o001, "others may traverse the folder"
    assert not stat.S_IMODE(os.stat(server.folder).st_mode) & 0o004, "...but not list it"
    log = server.folder / "redis.log"
    assert log.exists() and not stat.S_IMODE(os.stat(log).st_mode) & 0o077, "its log is private"


ON_GRACES_KEY = {
    "GET": lambda c, k: c.get(k),
    "SET": lambda c, k: c.set(k, "planted by ada"),
    "DEL": lambda c, k: c.delete(k),
    "UNLINK": lambda c, k: c.unlink(k),
    "EXPIRE": lambda c, k: c.expire(k, 1),
    "PERSIST": lambda c, k: c.persist(k),
    "RENAME": lambda c, k: c.rename(k, keys.learner_prefix(ADA) + "stolen"),
    "COPY": lambda c, k: c.copy(k, keys.learner_prefix(ADA) + "copied"),
    "EVAL with the key": lambda c, k: c.eval("return redis.call('GET', KEYS[1])", 1, k),
    "EVAL hiding the key": lambda c, k: c.eval(f"return redis.call('SET', '{k}', 'x')", 0),
}


@pytest.mark.parametrize("operation", ON_GRACES_KEY, ids=list(ON_GRACES_KEY))
def test_a_learner_cannot_touch_another_learners_key(ada, graces_key, operation) -> None:
    _refused(lambda: ON_GRACES_KEY[operation](ada, graces_key))


def test_a_learner_cannot_publish_on_another_learners_channel(ada) -> None:
    _refused(lambda: ada.publish(keys.learner_prefix(GRACE) + "news", "x"))
    assert ada.publish(keys.learner_prefix(ADA) + "news", "x") == 0


SERVER_WIDE = {
    "FLUSHALL": ("FLUSHALL",),
    "FLUSHDB": ("FLUSHDB",),
    "CONFIG SET dir": ("CONFIG", "SET", "dir", "/tmp"),
    "CONFIG GET": ("CONFIG", "GET", "maxmemory"),
    "KEYS": ("KEYS", "*"),
    "ACL SETUSER": ("ACL", "SETUSER", ADA, "~*"),
    "ACL LIST": ("ACL", "LIST"),
    "SHUTDOWN": ("SHUTDOWN", "NOSAVE"),
    "DEBUG": ("DEBUG", "SLEEP", "0"),  # the server refuses it to everyone anyway (see below)
    "MONITOR": ("MONITOR",),
    "INFO": ("INFO",),
    "CLIENT LIST": ("CLIENT", "LIST"),
    "CLIENT KILL": ("CLIENT", "KILL", "USER", GRACE),
    "SLOWLOG": ("SLOWLOG", "GET"),
    "SCRIPT FLUSH": ("SCRIPT", "FLUSH"),
    "FUNCTION FLUSH": ("FUNCTION", "FLUSH"),
}


@pytest.mark.parametrize("command", SERVER_WIDE, ids=list(SERVER_WIDE))
def test_a_learner_cannot_run_a_command_that_acts_on_the_whole_server(room, ada, command) -> None:
    # ACL DRYRUN asks the ACL alone: DEBUG is also switched off by the server's own setting
    verdict = room._admin.execute_command("ACL", "DRYRUN", ADA, *SERVER_WIDE[command])
    assert "no permissions" in verdict, f"the ACL lets ada run {command}: {verdict}"
    if command != "DEBUG":
        _refused(lambda: ada.execute_command(*SERVER_WIDE[command]))


def test_a_learner_sees_other_key_names_and_counts_but_not_their_values(ada, graces_key) -> None:
    """What the module's docstring says a learner can still see: SCAN names no key, so Redis
    does not check it against the learner's key pattern."""
    assert graces_key in set(ada.scan_iter(count=1000))
    assert ada.dbsize() >= 2
    _refused(lambda: ada.type(graces_key))
    assert list(ada.scan_iter(match=keys.learner_prefix(GRACE) + "*")) == [graces_key]


def test_a_learner_does_all_of_its_own_cache_work(ada: redis.Redis) -> None:
    prefix = keys.learner_prefix(ADA) + "acl-test:"
    cache = RedisCache(ada, prefix=prefix, ttl=60, fail_open=False)  # NOPERM would raise
    try:
        assert cache.get_or_load("page", lambda: {"rows": [1, 2]}) == {"rows": [1, 2]}
        assert cache.get("page") == {"rows": [1, 2]} and 0 < cache.ttl_of("page") <= 60
        assert cache.add("lock", "t1", ttl=5) and not cache.add("lock", "t2", ttl=5)
        assert cache.replace_if_equal("lock", "t1", "t3", ttl=5)
        assert cache.set_and_release("page", {"rows": [3]}, lock_key="lock", token="t3")
        first = cache.increment("version")
        assert cache.increment("version") == first + 1
        assert cache.set("gone", 1) and cache.delete_if_equal("gone", 1)
        assert cache.delete("page")
        flight = SingleFlight(cache, lock_ttl=5, wait_timeout=5)
        assert flight.get_or_load("trending", lambda: ["a", "b"]) == ["a", "b"]
        assert flight.get_or_load("trending", lambda: ["never loaded"]) == ["a", "b"]
        assert sorted(ada.scan_iter(match=prefix + "*")) == [
            prefix + "trending",
            prefix + "version",
        ]
        assert cache.stats.errors == 0
    finally:
        assert cache.clear() == 2


@pytest.mark.parametrize("transport", ["resp3", "redirect"])
@pytest.mark.parametrize("bcast", [False, True], ids=["default", "bcast"])
def test_a_learner_keeps_a_near_cache_fresh(room, ada: redis.Redis, transport, bcast) -> None:
    """Lesson 11 as a learner: tracking on their own prefix; RESP2's redirect subscribes to
    ``__redis__:invalidate``, the one channel outside their prefix a learner may use."""
    cache = RedisCache(ada, prefix=keys.learner_prefix(ADA) + "near-test:", fail_open=False)
    near = NearCache(cache, transport=transport, bcast=bcast)
    try:
        cache.set("page", 1)
        assert near.get("page") == 1
        RedisCache(connect(room.learner_url(ADA)), prefix=cache.prefix).set("page", 2)
        assert near.wait_for_invalidation(2.0)
        assert near.get("page") == 2
    finally:
        near.close()
        cache.clear()


def test_a_learner_may_only_subscribe_to_the_invalidation_channel(ada: redis.Redis) -> None:
    # a PUBLISH there would reach every learner's near cache (RESP2 redirect mode)
    with pytest.raises(redis.exceptions.NoPermissionError):
        ada.publish("__redis__:invalidate", "cachelab:grace:page")


def test_a_learner_cannot_reset_another_learner(room, grace, graces_key) -> None:
    assert reset.main(["--redis-only", "--url", room.learner_url(ADA), "--learner", GRACE]) == 1
    assert grace.exists(graces_key) == 1


def test_the_instructor_resets_every_learner_and_nothing_else(room, ada, grace, server) -> None:
    keeper = room._admin  # the hub's own user: it may read other people's data
    foreign = foreign_keys(keeper)
    foreign_before = snapshot(keeper, foreign)
    ada.set(keys.learner_prefix(ADA) + "product:1", "ada's")
    grace.set(keys.learner_prefix(GRACE) + "product:1", "grace's")
    instructor = connect(room.instructor_url)
    assert instructor.acl_whoami() == "instructor"
    _refused(lambda: instructor.get("session:42"))
    _refused(lambda: instructor.delete("cachelabX:ada:product:1"))
    _refused(lambda: instructor.flushall())

    assert reset.main(["--redis-only", "--all-learners", "--url", room.instructor_url]) == 0
    assert keeper.keys("cachelab:*") == []
    assert foreign_keys(keeper) == foreign
    assert snapshot(keeper, foreign) == foreign_before


def test_a_learner_may_not_run_info_but_still_learns_the_servers_version(ada) -> None:
    _refused(lambda: ada.info("server"))  # INFO is @dangerous: lesson 04 must not call it bare
    assert re.fullmatch(r"(Valkey|Redis) \d+\.\d+\.\d+", server_version(ada)), server_version(ada)


def test_a_learner_who_fills_the_rooms_memory_stops_writes_and_evicts_nobodys_keys() -> None:
    server = PrivateRedisServer().start()
    try:
        used = server.client().info("memory")["used_memory"]
        room = room_redis.RoomRedis.lock_down(server.url, SECRET, maxmemory_bytes=used + 2**22)
        ada, grace = connect(room.learner_url(ADA)), connect(room.learner_url(GRACE))
        graces = keys.learner_prefix(GRACE) + "kept"
        grace.set(graces, "grace's page")
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for i in range(1_000):  # 64 MiB of ada's, sixteen times the room's bound
                ada.set(keys.learner_prefix(ADA) + f"fill:{i}", "x" * 2**16)
        assert grace.get(graces) in ("grace's page", b"grace's page"), "nobody's key is evicted"
        with pytest.raises(redis.exceptions.OutOfMemoryError):  # a page of grace's, 1 MiB
            grace.set(graces, "y" * 2**20)
    finally:
        server.stop()
    assert room_redis.ROOM_MAXMEMORY_BYTES == 512 * 2**20  # what docs/room.md and redis.yaml say
