"""The ``Cache`` contract, run over every course cache (as cachetools runs one mixin over each of
its caches).

Each test here takes ``make_cache`` and holds for ``MemoryCache`` and ``RedisCache``
alike, because lessons swap one for the other and every strategy in the library is
written against the interface. A third cache added to ``CACHES`` gets every test
for free. What only one cache does (a hit that is the very stored object; JSON,
``EX``/``PX`` and prefixes) is tested in ``test_memory_cache.py`` / ``test_redis_cache.py``.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Iterator, Optional

import pytest

from cachelab.cache import Cache, MemoryCache, RedisCache, _AtomicCache

CACHES = ["MemoryCache", "RedisCache"]

MakeCache = Callable[..., Cache]


@pytest.fixture(params=CACHES)
def make_cache(request, redis_client, test_prefix) -> Iterator[MakeCache]:
    """A function that makes a fresh, empty cache of one kind: ``make_cache(ttl=None)``."""
    made: list[Cache] = []

    def make(ttl: Optional[float] = None) -> Cache:
        if request.param == "MemoryCache":
            cache: Cache = MemoryCache(ttl=ttl)
        else:
            cache = RedisCache(redis_client, prefix=f"{test_prefix}{len(made)}:", ttl=ttl)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.clear()


def test_both_caches_are_atomic_caches(make_cache):
    cache = make_cache()
    assert isinstance(cache, Cache) and isinstance(cache, _AtomicCache)


# --- get, set, delete, clear ----------------------------------------------------------------------


def test_a_missing_key_returns_the_default_and_counts_a_miss(make_cache):
    cache = make_cache()
    assert cache.get("product:1") is None
    assert cache.get("product:1", default="nothing") == "nothing"
    assert (cache.stats.hits, cache.stats.misses) == (0, 2)


def test_set_returns_true_and_a_set_value_comes_back(make_cache):
    cache = make_cache()
    assert cache.set("product:1", {"price_cents": 999}) is True
    assert cache.get("product:1") == {"price_cents": 999}


def test_setting_a_key_again_replaces_its_value(make_cache):
    cache = make_cache()
    cache.set("k", 1)
    cache.set("k", 2)
    assert cache.get("k") == 2


@pytest.mark.parametrize("value", [None, 0, "", [], {}, False])
def test_a_cached_falsy_value_is_a_hit(make_cache, value):
    cache = make_cache()
    cache.set("k", value)
    assert cache.get("k", default="missing") == value
    assert (cache.stats.hits, cache.stats.misses) == (1, 0)


def test_delete_says_whether_the_key_was_there(make_cache):
    cache = make_cache()
    cache.set("k", 1)
    assert cache.delete("k") is True
    assert cache.get("k") is None
    assert cache.delete("k") is False


def test_delete_removes_only_its_own_key(make_cache):
    cache = make_cache()
    cache.set("a", 1)
    cache.set("b", 2)
    cache.delete("a")
    assert cache.get("b") == 2


def test_clear_removes_every_entry_and_says_how_many(make_cache):
    cache = make_cache()
    for i in range(5):
        cache.set(f"k{i}", i)
    assert cache.clear() == 5
    assert all(cache.get(f"k{i}") is None for i in range(5))
    assert cache.clear() == 0


def test_clear_leaves_another_caches_entries(make_cache):
    mine, theirs = make_cache(), make_cache()
    mine.set("k", "mine")
    theirs.set("k", "theirs")
    mine.clear()
    assert theirs.get("k") == "theirs"


def test_stats_count_every_operation_and_clear_keeps_them(make_cache):
    cache = make_cache()
    cache.set("k", 1)
    cache.get("k")
    cache.get("k")
    cache.get("missing")
    cache.delete("k")
    cache.clear()
    assert (cache.stats.sets, cache.stats.hits, cache.stats.misses, cache.stats.deletes) == (
        1,
        2,
        1,
        1,
    )
    assert cache.stats.hit_ratio == pytest.approx(2 / 3)
    cache.stats.reset()
    counts = {name: value for name, value in cache.stats.as_dict().items() if name != "circuit"}
    assert counts == {**dict.fromkeys(counts, 0), "hit_ratio": 0.0}
    assert cache.stats.circuit == "closed"


# --- get_or_load ----------------------------------------------------------------------------------


def test_get_or_load_calls_the_loader_once_for_repeated_gets(make_cache):
    cache = make_cache(ttl=60)
    calls = []

    def loader():
        calls.append(1)
        return {"answer": 42}

    assert [cache.get_or_load("k", loader) for _ in range(5)] == [{"answer": 42}] * 5
    assert len(calls) == 1
    assert (cache.stats.misses, cache.stats.hits) == (1, 4)


def test_get_or_load_caches_a_none_from_the_loader(make_cache):
    cache = make_cache()
    calls = []
    for _ in range(3):
        assert cache.get_or_load("k", lambda: calls.append(1)) is None
    assert len(calls) == 1


def test_get_or_load_caches_nothing_when_the_loader_raises(make_cache):
    cache = make_cache()

    def broken():
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        cache.get_or_load("k", broken)
    assert cache.stats.sets == 0 and cache.get("k", "missing") == "missing"


@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf, 1e20, "10", True])
def test_get_or_load_refuses_a_bad_ttl_before_running_the_loader(make_cache, ttl):
    cache = make_cache()
    calls = []
    with pytest.raises((TypeError, ValueError), match="ttl"):
        cache.get_or_load("k", lambda: calls.append(1), ttl=ttl)
    assert calls == [], "the loader must not run for a request that is refused anyway"


# --- bad input, the same answer from both ---------------------------------------------------------


@pytest.mark.parametrize("ttl", [0, -5, math.nan, math.inf, 10**400, 1e20, "60", True])
def test_a_bad_ttl_is_refused_when_the_cache_is_made_and_per_set(make_cache, ttl):
    with pytest.raises((TypeError, ValueError), match="ttl must be"):
        make_cache(ttl=ttl)
    cache = make_cache(ttl=60)
    with pytest.raises((TypeError, ValueError), match="ttl must be"):
        cache.set("k", 1, ttl=ttl)
    assert cache.get("k") is None and cache.stats.sets == 0


def test_the_longest_ttl_is_a_year_for_both(make_cache):
    cache = make_cache()
    assert cache.set("k", 1, ttl=365 * 86_400) is True
    with pytest.raises(ValueError, match="<= 31,536,000"):
        cache.set("k", 1, ttl=365 * 86_400 + 1)


@pytest.mark.parametrize("key", [None, 42, 1.5, b"product:1", ("a",)])
def test_a_key_that_is_not_a_string_is_a_type_error_in_get_set_and_delete(make_cache, key):
    cache = make_cache()
    for operation in (lambda: cache.get(key), lambda: cache.set(key, 1), lambda: cache.delete(key)):
        with pytest.raises(TypeError, match="cache keys are non-empty strings"):
            operation()


@pytest.mark.parametrize("key", ["", "a\nb", "tab\there", "x" * 1_001])
def test_an_empty_too_long_or_unprintable_key_is_a_value_error(make_cache, key):
    cache = make_cache()
    for operation in (lambda: cache.get(key), lambda: cache.set(key, 1), lambda: cache.delete(key)):
        with pytest.raises(ValueError, match="cache keys"):
            operation()


@pytest.mark.parametrize("key", ["with spaces", "ünïcödé:ключ", "glob*?[x]", "x" * 1_000])
def test_unusual_but_printable_keys_work(make_cache, key):
    cache = make_cache()
    cache.set(key, "v")
    assert cache.get(key) == "v"


# --- the atomic operations ------------------------------------------------------------------------


def test_add_stores_only_when_the_key_is_absent(make_cache):
    cache = make_cache()
    assert cache.add("lock", "first", ttl=10) is True
    assert cache.add("lock", "second", ttl=10) is False
    assert cache.get("lock") == "first"


def test_delete_if_equal_deletes_only_the_value_it_names(make_cache):
    cache = make_cache()
    cache.set("lock", "mine")
    assert cache.delete_if_equal("lock", "someone else's") is False
    assert cache.get("lock") == "mine"
    assert cache.delete_if_equal("lock", "mine") is True
    assert cache.get("lock") is None
    assert cache.delete_if_equal("lock", "mine") is False


def test_replace_if_equal_swaps_only_the_value_it_names_and_restarts_the_ttl(make_cache):
    cache = make_cache()
    cache.add("lock", "old token", ttl=0.2)
    assert cache.replace_if_equal("lock", "someone else's", "new token", ttl=10) is False
    assert cache.get("lock") == "old token"
    assert cache.replace_if_equal("lock", "old token", "new token", ttl=10) is True
    assert cache.get("lock") == "new token"
    time.sleep(0.3)
    assert cache.get("lock") == "new token", "the TTL restarted: 10 s, not the first 0.2 s"
    assert cache.replace_if_equal("absent", None, "x", ttl=10) is False, "nothing to swap"
    assert cache.get("absent") is None


def test_set_and_release_stores_while_the_lock_is_held_and_releases_it(make_cache):
    cache = make_cache()
    cache.add("lease:k", "token", ttl=10)
    assert cache.set_and_release("k", {"v": 1}, 60, lock_key="lease:k", token="token") is True
    assert cache.get("k") == {"v": 1} and cache.get("lease:k") is None


def test_increment_counts_up_by_one_and_keeps_its_ttl(make_cache):
    cache = make_cache()
    first = cache.increment("version:k", ttl=60)
    assert [cache.increment("version:k", ttl=60) for _ in range(2)] == [first + 1, first + 2]
    assert cache.get("version:k") == first + 2


def test_a_lost_counter_never_hands_out_a_number_it_gave_before(make_cache):
    """Evicted, expired or lost in a restart, a counter starts above where it was, not at 1."""
    cache = make_cache()
    given = [cache.increment("version:k", ttl=60) for _ in range(3)]
    assert given[0] > 1_000_000, "a new counter starts from the clock (microseconds), not 0"
    cache.delete("version:k")  # as an eviction would
    again = cache.increment("version:k", ttl=60)
    assert again > max(given), f"the counter went back: {again} after {given}"


def test_set_and_release_stores_nothing_once_the_lock_is_gone_or_not_ours(make_cache):
    cache = make_cache()
    assert cache.set_and_release("k", 1, 60, lock_key="lease:k", token="token") is False
    cache.add("lease:k", "another", ttl=10)
    assert cache.set_and_release("k", 1, 60, lock_key="lease:k", token="token") is False
    assert cache.get("k") is None and cache.get("lease:k") == "another"


def test_increments_from_many_threads_at_once_are_never_lost(make_cache):
    """A read-then-write bump would let two writers store the same version; INCR never does."""
    import threading

    cache = make_cache()
    first = cache.increment("version:k", ttl=60)
    start = threading.Barrier(8)

    def bump():
        start.wait()
        for _ in range(50):
            cache.increment("version:k", ttl=60)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.get("version:k") == first + 400
