"""What only MemoryCache does: a hit is the stored object, TTL on an injected clock, LRU eviction;
and to_json.

Everything both caches promise (get, set, delete, clear, get_or_load, stats, bad
input, the atomic operations) is tested once for both in ``test_cache_contract.py``.
"""

import threading

import pytest

from cachelab.cache import CacheStats, MemoryCache, to_json

# --- get and set ----------------------------------------------------------------------------------


def test_a_hit_returns_the_very_object_that_was_stored(clock):
    cache = MemoryCache(clock=clock)
    value = {"price_cents": 999}
    cache.set("product:1", value)
    assert cache.get("product:1") is value


def test_setting_a_key_again_replaces_its_value(clock):
    cache = MemoryCache(clock=clock)
    cache.set("k", 1)
    cache.set("k", 2)
    assert cache.get("k") == 2
    assert len(cache) == 1


def test_contains_reports_live_keys_only(clock):
    cache = MemoryCache(ttl=10, clock=clock)
    cache.set("k", 1)
    assert "k" in cache
    clock.advance(10)
    assert "k" not in cache
    assert "other" not in cache


# --- TTL on the fake clock ------------------------------------------------------------------------


def test_an_entry_is_a_hit_just_before_its_ttl(clock):
    cache = MemoryCache(ttl=60, clock=clock)
    cache.set("k", "v")
    clock.advance(59.999)
    assert cache.get("k") == "v"


def test_an_entry_expires_exactly_at_its_ttl(clock):
    cache = MemoryCache(ttl=60, clock=clock)
    cache.set("k", "v")
    clock.advance(60)
    assert cache.get("k") is None
    assert cache.stats.expirations == 1 and cache.stats.misses == 1


def test_an_expired_entry_is_removed_when_read(clock):
    cache = MemoryCache(ttl=1, clock=clock)
    cache.set("k", "v")
    clock.advance(1)
    cache.get("k")
    assert "k" not in cache.keys()


def test_without_a_ttl_entries_never_expire(clock):
    cache = MemoryCache(clock=clock)
    cache.set("k", "v")
    clock.advance(10**9)
    assert cache.get("k") == "v"


def test_a_per_set_ttl_overrides_the_cache_ttl(clock):
    cache = MemoryCache(ttl=60, clock=clock)
    cache.set("short", 1, ttl=5)
    cache.set("default", 2)
    clock.advance(5)
    assert cache.get("short") is None
    assert cache.get("default") == 2


def test_a_per_set_ttl_gives_a_ttl_to_a_cache_without_one(clock):
    cache = MemoryCache(clock=clock)
    cache.set("k", 1, ttl=0.5)
    clock.advance(0.5)
    assert cache.get("k") is None


def test_setting_a_key_again_restarts_its_ttl(clock):
    cache = MemoryCache(ttl=10, clock=clock)
    cache.set("k", 1)
    clock.advance(8)
    cache.set("k", 2)
    clock.advance(8)
    assert cache.get("k") == 2


def test_a_hit_does_not_extend_the_ttl(clock):
    cache = MemoryCache(ttl=10, clock=clock)
    cache.set("k", 1)
    clock.advance(9)
    assert cache.get("k") == 1
    clock.advance(1)
    assert cache.get("k") is None


# --- LRU eviction ---------------------------------------------------------------------------------


def test_the_least_recently_set_entry_is_evicted_at_max_entries(clock):
    cache = MemoryCache(max_entries=2, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("c", 3)
    assert cache.keys() == ["b", "c"]
    assert cache.get("a") is None


def test_a_get_refreshes_recency_so_another_entry_is_evicted(clock):
    cache = MemoryCache(max_entries=2, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.get("a")  # now "b" is the least recently used
    cache.set("c", 3)
    assert cache.get("a") == 1
    assert cache.get("b") is None
    assert sorted(cache.keys()) == ["a", "c"]


def test_setting_an_existing_key_refreshes_recency(clock):
    cache = MemoryCache(max_entries=2, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("a", 10)
    cache.set("c", 3)
    assert cache.keys() == ["a", "c"]


def test_replacing_a_key_at_max_entries_evicts_nothing(clock):
    cache = MemoryCache(max_entries=2, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("b", 3)
    assert len(cache) == 2 and cache.stats.evictions == 0


def test_evictions_are_counted(clock):
    cache = MemoryCache(max_entries=3, clock=clock)
    for i in range(10):
        cache.set(f"k{i}", i)
    assert len(cache) == 3
    assert cache.stats.evictions == 7


def test_a_cache_of_one_entry_keeps_only_the_last(clock):
    cache = MemoryCache(max_entries=1, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.keys() == ["b"]


# --- stats ----------------------------------------------------------------------------------------


def test_stats_count_every_operation(clock):
    cache = MemoryCache(ttl=10, max_entries=2, clock=clock)
    cache.get("a")  # miss
    cache.set("a", 1)  # set
    cache.get("a")  # hit
    cache.set("b", 2)
    cache.set("c", 3)  # evicts "a"
    clock.advance(10)
    cache.get("b")  # expired: miss + expiration
    cache.delete("c")  # delete
    assert cache.stats.as_dict() == {
        "hits": 1,
        "misses": 2,
        "sets": 3,
        "deletes": 1,
        "expirations": 1,
        "evictions": 1,
        "errors": 0,
        "short_circuits": 0,
        "circuit": "closed",
        "hit_ratio": 1 / 3,
    }


def test_hit_ratio_is_hits_over_lookups(clock):
    cache = MemoryCache(clock=clock)
    cache.set("k", 1)
    for _ in range(3):
        cache.get("k")
    cache.get("missing")
    assert cache.stats.hit_ratio == 0.75


def test_hit_ratio_is_zero_before_any_lookup():
    assert CacheStats().hit_ratio == 0.0


# --- get_or_load ----------------------------------------------------------------------------------


def test_get_or_load_calls_the_loader_again_after_expiry(clock):
    cache = MemoryCache(ttl=60, clock=clock)
    calls = []
    loader = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert cache.get_or_load("k", loader) == 1
    clock.advance(60)
    assert cache.get_or_load("k", loader) == 2
    assert len(calls) == 2


def test_get_or_load_uses_its_own_ttl(clock):
    cache = MemoryCache(ttl=60, clock=clock)
    cache.get_or_load("k", lambda: "v", ttl=1)
    clock.advance(1)
    assert cache.get("k") is None


# --- bad input ------------------------------------------------------------------------------------


def test_a_numpy_number_is_a_fine_ttl(clock):
    import numpy

    cache = MemoryCache(ttl=numpy.int64(10), clock=clock)
    cache.set("k", 1, ttl=numpy.float64(2.5))
    clock.advance(2.5)
    assert cache.get("k") is None


@pytest.mark.parametrize("max_entries", [0, -1, 1.5, "10", True])
def test_max_entries_below_one_or_not_whole_is_rejected(max_entries):
    with pytest.raises((TypeError, ValueError), match="max_entries must be a whole number >= 1"):
        MemoryCache(max_entries=max_entries)


def test_expired_entries_stay_in_memory_until_read_so_a_ttl_alone_does_not_bound_memory(clock):
    cache = MemoryCache(ttl=1, clock=clock)
    for i in range(100):
        cache.set(f"product:{i}", i)
    clock.advance(10)
    assert len(cache) == 100, "nothing removes an expired entry until it is read"
    cache.get("product:0")
    assert len(cache) == 99 and cache.stats.expirations == 1


def test_threads_that_race_for_one_lock_get_it_exactly_once(clock):
    cache = MemoryCache(clock=clock)
    winners = []
    start = threading.Barrier(8)

    def contend(name):
        start.wait()
        if cache.add("lock:k", name, ttl=10):
            winners.append(name)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and cache.get("lock:k") == winners[0]


# --- to_json (used by RedisCache, taught alongside) -----------------------------------------------


def test_to_json_is_compact():
    assert to_json({"a": [1, 2], "b": None}) == '{"a":[1,2],"b":null}'


def test_to_json_names_the_type_it_cannot_encode():
    with pytest.raises(TypeError, match=r"holds a set"):
        to_json({1, 2})


def test_to_json_names_a_type_nested_deep_inside_the_value():
    with pytest.raises(TypeError, match=r"holds a bytes"):
        to_json({"rows": [{"id": 1, "blob": b"\x00"}]})


def test_to_json_names_a_key_type_it_cannot_encode():
    with pytest.raises(TypeError, match=r"tuple \(as a key\)"):
        to_json({(1, 2): "pair"})


def test_to_json_rejects_a_value_that_contains_itself():
    looped = []
    looped.append(looped)
    with pytest.raises(ValueError, match="JSON"):
        to_json(looped)
