"""MemoryCache: TTL on an injected clock, LRU eviction, stats, cache-aside; and check_ttl / to_json."""

import math

import pytest

from cachelab.cache import CacheStats, MemoryCache, check_ttl, to_json


# --- get and set ------------------------------------------------------------------------------------


def test_a_missing_key_returns_the_default(clock):
    cache = MemoryCache(clock=clock)
    assert cache.get("product:1") is None
    assert cache.get("product:1", default="nothing") == "nothing"


def test_a_set_value_is_returned_by_get(clock):
    cache = MemoryCache(clock=clock)
    cache.set("product:1", {"price_cents": 999})
    assert cache.get("product:1") == {"price_cents": 999}


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


@pytest.mark.parametrize("value", [None, 0, "", [], {}, False])
def test_a_cached_falsy_value_is_a_hit(clock, value):
    cache = MemoryCache(clock=clock)
    cache.set("k", value)
    assert cache.get("k", default="missing") == value
    assert cache.stats.hits == 1 and cache.stats.misses == 0


@pytest.mark.parametrize("key", ["", None, 42])
def test_set_rejects_keys_that_are_not_non_empty_strings(clock, key):
    cache = MemoryCache(clock=clock)
    with pytest.raises(TypeError, match="non-empty strings"):
        cache.set(key, 1)
    assert len(cache) == 0


def test_delete_removes_a_key_and_says_it_was_there(clock):
    cache = MemoryCache(clock=clock)
    cache.set("k", 1)
    assert cache.delete("k") is True
    assert cache.get("k") is None


def test_deleting_a_missing_key_returns_false(clock):
    assert MemoryCache(clock=clock).delete("k") is False


def test_clear_removes_every_entry_and_returns_how_many(clock):
    cache = MemoryCache(clock=clock)
    for i in range(5):
        cache.set(f"k{i}", i)
    assert cache.clear() == 5
    assert len(cache) == 0 and cache.get("k0") is None


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


# --- LRU eviction -------------------------------------------------------------------------------------


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


# --- stats ----------------------------------------------------------------------------------------------


def test_stats_count_every_operation(clock):
    cache = MemoryCache(ttl=10, max_entries=2, clock=clock)
    cache.get("a")                  # miss
    cache.set("a", 1)               # set
    cache.get("a")                  # hit
    cache.set("b", 2)
    cache.set("c", 3)               # evicts "a"
    clock.advance(10)
    cache.get("b")                  # expired: miss + expiration
    cache.delete("c")               # delete
    assert cache.stats.as_dict() == {
        "hits": 1, "misses": 2, "sets": 3, "deletes": 1,
        "expirations": 1, "evictions": 1, "errors": 0, "hit_ratio": 1 / 3,
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


def test_stats_reset_sets_every_counter_to_zero(clock):
    cache = MemoryCache(clock=clock)
    cache.set("k", 1)
    cache.get("k")
    cache.get("x")
    cache.stats.reset()
    assert cache.stats == CacheStats()


def test_clear_keeps_the_stats(clock):
    cache = MemoryCache(clock=clock)
    cache.set("k", 1)
    cache.get("k")
    cache.clear()
    assert cache.stats.hits == 1 and cache.stats.sets == 1


# --- get_or_load ------------------------------------------------------------------------------------


def test_get_or_load_calls_the_loader_exactly_once_for_repeated_gets(clock):
    cache = MemoryCache(ttl=60, clock=clock)
    calls = []

    def loader():
        calls.append(1)
        return {"answer": 42}

    results = [cache.get_or_load("k", loader) for _ in range(5)]
    assert len(calls) == 1
    assert results == [{"answer": 42}] * 5
    assert cache.stats.misses == 1 and cache.stats.hits == 4


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


def test_get_or_load_caches_a_none_from_the_loader(clock):
    cache = MemoryCache(clock=clock)
    calls = []
    for _ in range(3):
        assert cache.get_or_load("k", lambda: calls.append(1)) is None
    assert len(calls) == 1


def test_get_or_load_caches_nothing_when_the_loader_raises(clock):
    cache = MemoryCache(clock=clock)

    def broken():
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        cache.get_or_load("k", broken)
    assert len(cache) == 0 and cache.stats.sets == 0


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [0, -5, -0.1, math.nan, math.inf, -math.inf])
def test_a_ttl_that_is_not_a_positive_finite_number_is_a_value_error(ttl):
    with pytest.raises(ValueError, match="ttl must be > 0 seconds"):
        MemoryCache(ttl=ttl)


@pytest.mark.parametrize("ttl", [True, False, "60", [60]])
def test_a_ttl_that_is_not_a_number_is_a_type_error(ttl):
    with pytest.raises(TypeError, match="ttl must be a number of seconds"):
        MemoryCache(ttl=ttl)


@pytest.mark.parametrize("ttl", [0, -1, math.nan, "10", True])
def test_a_bad_per_set_ttl_is_rejected_and_nothing_is_stored(clock, ttl):
    cache = MemoryCache(ttl=60, clock=clock)
    with pytest.raises((ValueError, TypeError), match="ttl"):
        cache.set("k", 1, ttl=ttl)
    assert "k" not in cache and cache.stats.sets == 0


def test_the_ttl_error_says_what_was_given():
    with pytest.raises(ValueError, match="got -5"):
        check_ttl(-5)


def test_a_numpy_number_is_a_fine_ttl(clock):
    import numpy
    cache = MemoryCache(ttl=numpy.int64(10), clock=clock)
    cache.set("k", 1, ttl=numpy.float64(2.5))
    clock.advance(2.5)
    assert cache.get("k") is None


def test_check_ttl_accepts_none_and_positive_numbers():
    assert check_ttl(None) is None
    assert check_ttl(0.001) == 0.001
    assert check_ttl(60) == 60


@pytest.mark.parametrize("max_entries", [0, -1, 1.5, "10", True])
def test_max_entries_below_one_or_not_whole_is_rejected(max_entries):
    with pytest.raises(ValueError, match="max_entries must be a whole number >= 1"):
        MemoryCache(max_entries=max_entries)


# --- to_json (used by RedisCache, taught alongside) -------------------------------------------------


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
