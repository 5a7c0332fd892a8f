"""``NearCache`` on the real server: near hits, invalidations in both modes over both transports,
the store-after-invalidation race, the flush on reconnect, and the bound on its memory.

Each test has its own prefix (``test_prefix``); the near cache tracks that prefix in BCAST mode.
The races are made deterministic with the cache's ``on_fetched`` hook, which lands a write from
another connection between a fetch and its store and waits for the server's invalidation.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from typing import Iterator

import pytest
import redis

from cachelab.cache import RedisCache
from cachelab.environment.redis_server import connect
from cachelab.near_cache import NearCache

MODES = [
    pytest.param(bcast, transport, id=f"{'bcast' if bcast else 'default'}-{transport}")
    for bcast in (False, True)
    for transport in ("resp3", "redirect")
]

INVALIDATION_BOUND_S = 2.0
"""How long a test waits for the server's invalidation: far above the ~0.1 ms it takes."""


@pytest.fixture
def other(test_prefix: str) -> Iterator[RedisCache]:
    """Another process's view of the same keys: a RedisCache on a connection of its own."""
    client = connect()
    yield RedisCache(client, prefix=test_prefix)
    client.close()


@pytest.fixture
def near_caches(redis_cache: RedisCache) -> Iterator[list[NearCache]]:
    """NearCaches the test makes (append to this list); each is closed afterwards."""
    made: list[NearCache] = []
    yield made
    for near in made:
        near.close()


def _near(made: list[NearCache], shared: RedisCache, **options) -> NearCache:
    near = NearCache(shared, **options)
    made.append(near)
    return near


def test_a_second_read_is_a_near_hit(redis_cache, near_caches):
    near = _near(near_caches, redis_cache)
    redis_cache.set("k", {"price_cents": 100})
    assert near.get("k") == {"price_cents": 100}
    assert near.get("k") == {"price_cents": 100}
    assert (near.stats.hits, near.stats.misses) == (1, 1)


def test_a_key_missing_in_redis_is_not_copied(redis_cache, near_caches):
    near = _near(near_caches, redis_cache)
    assert near.get("absent", "default") == "default"
    assert len(near) == 0


def test_peek_answers_near_copies_only_and_applies_invalidations_first(
    redis_cache, other, near_caches
):
    near = _near(near_caches, redis_cache)
    redis_cache.set("k", 1)
    assert near.peek("k", "none here") == "none here", "peek never reads Redis"
    assert near.get("k") == 1 and near.peek("k") == 1
    other.set("k", 2)
    deadline = time.monotonic() + INVALIDATION_BOUND_S
    while near.peek("k") == 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert near.peek("k") is None, "the invalidation that arrived dropped the copy"


def test_peek_does_not_wait_while_another_thread_uses_the_cache(redis_cache, near_caches):
    near = _near(near_caches, redis_cache)
    redis_cache.set("k", 1)
    near.get("k")
    held, release = threading.Event(), threading.Event()

    def use_it() -> None:  # as a thread fetching from Redis does: the lock held for a round trip
        with near._lock:
            held.set()
            release.wait(INVALIDATION_BOUND_S)

    user = threading.Thread(target=use_it)
    user.start()
    try:
        assert held.wait(INVALIDATION_BOUND_S)
        assert near.peek("k", "busy") == "busy", "peek answers at once rather than wait"
    finally:
        release.set()
        user.join()
    assert near.peek("k") == 1


def test_keep_chooses_what_is_kept_and_returned(redis_cache, near_caches):
    made = []

    def encode(key: str, value) -> bytes:
        made.append(key)
        return f"{key}={value}".encode()

    near = _near(near_caches, redis_cache, keep=encode)
    redis_cache.set("k", 7)
    assert near.get("k") == b"k=7" and near.get("k") == b"k=7" and near.peek("k") == b"k=7"
    assert made == ["k"], "made once, on the fetch; the hits reuse it"


@pytest.mark.parametrize(("bcast", "transport"), MODES)
def test_a_write_on_another_connection_drops_the_near_copy(
    redis_cache, other, near_caches, bcast, transport
):
    near = _near(near_caches, redis_cache, bcast=bcast, transport=transport)
    redis_cache.set("k", 1)
    assert near.get("k") == 1
    started = time.perf_counter()
    other.set("k", 2)
    assert near.wait_for_invalidation(INVALIDATION_BOUND_S), "no invalidation arrived"
    assert time.perf_counter() - started < INVALIDATION_BOUND_S
    assert near.get("k") == 2
    assert near.stats.misses == 2


@pytest.mark.parametrize("transport", ["resp3", "redirect"])
def test_bcast_announces_keys_this_client_never_read(redis_cache, other, near_caches, transport):
    near = _near(near_caches, redis_cache, bcast=True, transport=transport)
    other.set("never-read", 1)
    assert near.wait_for_invalidation(INVALIDATION_BOUND_S)


def test_default_mode_announces_only_keys_this_client_read(redis_cache, other, near_caches):
    near = _near(near_caches, redis_cache)
    other.set("never-read", 1)
    assert not near.wait_for_invalidation(0.2)


def test_set_and_delete_drop_the_near_copy(redis_cache, near_caches):
    near = _near(near_caches, redis_cache)
    near.set("k", 1)
    assert near.get("k") == 1
    near.set("k", 2)
    assert near.get("k") == 2
    near.delete("k")
    assert near.get("k") is None


def _write_between_fetch_and_store(near_box: list[NearCache], other: RedisCache):
    """An ``on_fetched`` hook: once, write a new value and wait until the invalidation is in."""
    done = []

    def hook(key: str) -> None:
        if done:
            return
        done.append(key)
        other.set(key, "new")
        assert near_box[0].wait_for_invalidation(INVALIDATION_BOUND_S)

    return hook


@pytest.mark.parametrize("transport", ["resp3", "redirect"])
@pytest.mark.parametrize("guard", [True, False], ids=["guarded", "unguarded"])
def test_a_fetch_invalidated_before_its_store_is_not_kept(
    redis_cache, other, near_caches, transport, guard
):
    box: list[NearCache] = []
    hook = _write_between_fetch_and_store(box, other)
    near = _near(
        near_caches, redis_cache, transport=transport, guard_fetches=guard, on_fetched=hook
    )
    box.append(near)
    redis_cache.set("k", "old")
    assert near.get("k") == "old"  # fetched before the write: its caller may have it
    if guard:
        assert near.get("k") == "new", "the fetch's result was stored after its invalidation"
    else:  # the race the guard fixes: the old value stays until the safety-net TTL
        assert near.get("k") == "old"
        assert near.get("k") == "old"


@pytest.mark.parametrize("guard", [True, False], ids=["guarded", "unguarded"])
def test_another_thread_applying_the_invalidation_mid_fetch_does_not_let_it_store(
    redis_cache, other, near_caches, guard
):
    """Over RESP3 one connection keeps the reply and the invalidation in order, but a thread
    that reads the socket while another is between its fetch and its store applies the
    invalidation first: the race, with real threads, ordered by events."""
    fetched, go = threading.Event(), threading.Event()

    def pause_once(key: str) -> None:
        if not fetched.is_set():
            fetched.set()
            assert go.wait(INVALIDATION_BOUND_S)

    near = _near(near_caches, redis_cache, guard_fetches=guard, on_fetched=pause_once)
    redis_cache.set("k", "old")
    reader = threading.Thread(target=near.get, args=("k",))
    reader.start()
    assert fetched.wait(INVALIDATION_BOUND_S)  # the reader holds "old", not yet stored
    other.set("k", "new")
    assert near.wait_for_invalidation(INVALIDATION_BOUND_S)  # this thread applies it
    go.set()
    reader.join(INVALIDATION_BOUND_S)
    assert near.get("k") == ("new" if guard else "old")


def _tracking_client_id(near: NearCache) -> int:
    """The id of the connection the server sends this cache's invalidations to."""
    return near._listener_id if near.transport == "redirect" else near._data_id


@pytest.mark.parametrize("transport", ["resp3", "redirect"])
@pytest.mark.parametrize("flush", [True, False], ids=["flushed", "not-flushed"])
def test_a_killed_connection_flushes_the_near_tier(
    redis_cache, redis_client, other, near_caches, transport, flush
):
    near = _near(near_caches, redis_cache, transport=transport, flush_on_reconnect=flush)
    redis_cache.set("k", "old")
    assert near.get("k") == "old"
    redis_client.client_kill_filter(_id=_tracking_client_id(near))  # an admin's CLIENT KILL
    other.set("k", "new")  # announced to nobody: the tracking connection is gone
    if flush:
        assert near.get("k") == "new"
        assert near.reconnects == 1
        other.set("k", "newer")  # tracking is on again, and the new connection read the key
        assert near.wait_for_invalidation(INVALIDATION_BOUND_S)
        assert near.get("k") == "newer"
    else:  # the old copy is served, and the new connection never read the key: stale for good
        assert near.get("k") == "old"
        other.set("k", "newer")
        assert not near.wait_for_invalidation(0.1)
        assert near.get("k") == "old"


def test_a_simulated_network_failure_flushes_the_near_tier(redis_cache, other, near_caches):
    near = _near(near_caches, redis_cache)
    redis_cache.set("k", "old")
    assert near.get("k") == "old"
    near.simulate_disconnect()
    other.set("k", "new")
    assert near.get("k") == "new"


def test_the_near_tier_keeps_at_most_max_entries(redis_cache, near_caches):
    near = _near(near_caches, redis_cache, max_entries=50)
    for i in range(200):
        redis_cache.set(f"k{i}", "x" * 200)
    tracemalloc.start(25)
    try:
        for i in range(50):
            near.get(f"k{i}")
        full = _bytes_held_outside_redis_py()
        for i in range(50, 200):
            near.get(f"k{i}")
        after = _bytes_held_outside_redis_py()
    finally:
        tracemalloc.stop()
    assert len(near) == 50
    assert near.local.stats.evictions == 150
    assert after < 1.5 * full, f"memory grew from {full} to {after} bytes past the bound"


def _bytes_held_outside_redis_py() -> int:
    """Bytes traced now, less those allocated inside redis-py: with hiredis, tracemalloc counts
    each command's packed key as still held (about 56 bytes a GET), though a million GETs leave
    the process's RSS where it was. The near tier's own entries are allocated outside it."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, f"{os.path.dirname(redis.__file__)}/*", all_frames=True)]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


def test_the_safety_net_ttl_expires_a_copy_nobody_invalidated(redis_cache, near_caches, clock):
    near = _near(near_caches, redis_cache, ttl=10, clock=clock)
    redis_cache.set("k", 1)
    near.get("k")
    clock.advance(10)
    near.get("k")
    assert near.stats.misses == 2


def test_an_unknown_transport_is_refused(redis_cache):
    with pytest.raises(ValueError, match="transport"):
        NearCache(redis_cache, transport="carrier-pigeon")


def test_close_releases_both_connections(redis_cache, redis_client):
    near = NearCache(redis_cache, transport="redirect")
    own = {near._data_id, near._listener_id}

    def open_ids() -> set:
        return {int(client["id"]) for client in redis_client.client_list()} & own

    assert open_ids() == own
    near.close()
    deadline = time.monotonic() + INVALIDATION_BOUND_S
    while open_ids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not open_ids()


def test_a_near_cache_needs_a_safety_net_ttl(redis_cache):
    with pytest.raises(ValueError, match="ttl"):
        NearCache(redis_cache, ttl=None)


def test_with_redis_gone_reads_fail_open_and_no_copy_is_served(stoppable_redis, test_prefix):
    """No invalidation can arrive from a server that is gone: the copies are dropped, and the
    read goes to the RedisCache, which fails open."""
    shared = RedisCache(stoppable_redis.client(), prefix=test_prefix)
    near = NearCache(shared)
    try:
        shared.set("k", "cached")
        assert near.get("k") == "cached"
        stoppable_redis.stop()
        assert near.get("k", "from the database") == "from the database"
        assert len(near) == 0
    finally:
        near.close()


@pytest.mark.parametrize("transport", ["resp3", "redirect"])
def test_redis_gone_between_the_fetch_and_the_store_returns_the_value_and_keeps_no_copy(
    stoppable_redis, test_prefix, transport
):
    """The value fetched is right, but no invalidation of it can arrive any more: it is returned
    and not kept, and ``get`` fails open as the RedisCache does instead of raising."""
    shared = RedisCache(stoppable_redis.client(), prefix=test_prefix)
    near = NearCache(shared, transport=transport, on_fetched=lambda key: stoppable_redis.stop())
    try:
        shared.set("k", "fetched")
        assert near.get("k") == "fetched"
        assert len(near) == 0
    finally:
        near.close()


def test_a_near_copy_lives_no_longer_than_its_redis_key(redis_cache, near_caches, clock):
    """The safety net is 60 s, but Redis gave the value 5: the copy goes with the key's TTL."""
    near = _near(near_caches, redis_cache, ttl=60, clock=clock)
    redis_cache.set("k", "v", ttl=5)
    near.get("k")
    clock.advance(4)
    near.get("k")
    assert (near.stats.hits, near.stats.misses) == (1, 1)
    clock.advance(1.5)  # past the key's 5 s (in the near tier's clock; Redis still holds it)
    near.get("k")
    assert near.stats.misses == 2, "the copy outlived its Redis key's TTL"
