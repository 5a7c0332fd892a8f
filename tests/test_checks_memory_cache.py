"""Lesson 03's checks pass the reference answers and fail known wrong ones, naming the property
and its hint.

Each wrong answer below is a mistake a learner plausibly makes, named after it (a class, or a
``cached_with`` variant with an id). A check that accepted one of them would teach the mistake; a
check that rejected a right answer would teach nothing. The solutions are lesson 03's reference
answers.
"""

from __future__ import annotations

import functools
import re
import time
from collections import OrderedDict
from typing import Callable

import pytest
from support import assert_fails, failure_of, load_solutions, wrong_answers

from cachelab.cache import MemoryCache, RedisCache
from cachelab.checks.memory_cache import (
    _check_get_set_delete,
    _check_ttl_expiry,
    check_cache_contract,
    check_cached_decorator,
    check_lru_eviction,
)
from cachelab.clock import FakeClock

solutions = load_solutions("03_memory_cache")
_MISSING = object()


# --- Wrong TTL caches: each differs from a right one in one plausible way. ---


class DictTTLCache:
    """A right TTL cache, written so that each wrong one below overrides one method."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock, self.entries = ttl, clock, {}

    def now(self) -> float:
        return self.clock()

    def expired(self, expires_at: float) -> bool:
        return self.now() >= expires_at

    def get(self, key, default=None):
        entry = self.entries.get(key, _MISSING)
        if entry is _MISSING or self.expired(entry[1]):
            return default
        return entry[0]

    def set(self, key, value):
        self.entries[key] = (value, self.now() + self.ttl)

    def delete(self, key):
        self.entries.pop(key, None)


class NeverExpires(DictTTLCache):
    def expired(self, expires_at):
        return False


class ExpiresOneTickLate(DictTTLCache):
    """Off by one at the boundary: ``>`` where ``>=`` belongs."""

    def expired(self, expires_at):
        return self.now() > expires_at


class ExpiresASecondEarly(DictTTLCache):
    def expired(self, expires_at):
        return self.now() >= expires_at - 1


class UsesTheRealClock(DictTTLCache):
    def now(self):
        return time.monotonic()


class StoresTheTTLAsTheDeadline(DictTTLCache):
    """Forgets to add the current time: every entry 'expires' at t = ttl."""

    def set(self, key, value):
        self.entries[key] = (value, self.ttl)


class ReadsExtendTheTTL(DictTTLCache):
    """Sliding expiry: each hit pushes the deadline back."""

    def get(self, key, default=None):
        value = super().get(key, _MISSING)
        if value is _MISSING:
            return default
        self.entries[key] = (value, self.now() + self.ttl)
        return value


class OverwriteKeepsTheOldDeadline(DictTTLCache):
    def set(self, key, value):
        old = self.entries.get(key)
        expires_at = old[1] if old and not self.expired(old[1]) else self.now() + self.ttl
        self.entries[key] = (value, expires_at)


class OneDeadlineForAll(DictTTLCache):
    """One expiry time for the whole cache, reset by every set."""

    def set(self, key, value):
        self.deadline = self.now() + self.ttl
        self.entries[key] = (value, None)

    def expired(self, expires_at):
        return self.now() >= self.deadline


class KeyErrorOnMiss(DictTTLCache):
    def get(self, key, default=None):
        value, expires_at = self.entries[key]
        return default if self.expired(expires_at) else value


class FalsyValuesAreMisses(DictTTLCache):
    def get(self, key, default=None):
        return super().get(key) or default


class GetTakesNoDefault(DictTTLCache):
    def get(self, key):
        return super().get(key)


class DeleteRaisesOnAMissingKey(DictTTLCache):
    def delete(self, key):
        del self.entries[key]


class DeleteClearsEverything(DictTTLCache):
    def delete(self, key):
        self.entries.clear()


class OverwriteIgnored(DictTTLCache):
    """setdefault: the first value ever set wins."""

    def set(self, key, value):
        self.entries.setdefault(key, (value, self.now() + self.ttl))


class ClockInsteadOfTTL(DictTTLCache):
    """Takes the arguments in the wrong order, so ``ttl`` is required but named otherwise."""

    def __init__(self, seconds: float, clock=time.monotonic) -> None:
        super().__init__(seconds, clock)


# --- Wrong LRU caches. ---


class OrderedLRU:
    def __init__(self, max_entries: int) -> None:
        self.max_entries, self.entries = max_entries, OrderedDict()

    def get(self, key, default=None):
        if key not in self.entries:
            return default
        self.touch(key)
        return self.entries[key]

    def touch(self, key):
        self.entries.move_to_end(key)

    def set(self, key, value):
        self.entries[key] = value
        self.entries.move_to_end(key)
        self.evict()

    def evict(self):
        if len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def delete(self, key):
        self.entries.pop(key, None)


class EvictsTheMostRecent(OrderedLRU):
    def evict(self):
        if len(self.entries) > self.max_entries:
            self.entries.popitem(last=True)


class EvictsTheNextMostRecent(OrderedLRU):
    """Evicts the newest entry that was there before: the opposite of LRU."""

    def evict(self):
        if len(self.entries) > self.max_entries:
            newest = list(self.entries)[-2]
            del self.entries[newest]


class FirstInFirstOut(OrderedLRU):
    """A get does not refresh recency."""

    def touch(self, key):
        pass


class HoldsOneTooMany(OrderedLRU):
    def evict(self):
        if len(self.entries) > self.max_entries + 1:
            self.entries.popitem(last=False)


class EvictsBeforeEveryWrite(OrderedLRU):
    """Makes room before every set, even when the key is already cached."""

    def set(self, key, value):
        if len(self.entries) >= self.max_entries:
            self.entries.popitem(last=False)
        self.entries[key] = value
        self.entries.move_to_end(key)


class OverwriteKeepsItsPlace(OrderedLRU):
    def set(self, key, value):
        self.entries[key] = value  # an existing key keeps its old position
        self.evict()


class LRUWithKeyErrorOnMiss(OrderedLRU):
    def get(self, key, default=None):
        self.touch(key)
        return self.entries[key]


# --- Wrong cached() decorators. ---


def cached_with(
    is_fresh: Callable[[float, float], bool], none_is_a_miss: bool = False, by_args: bool = True
):
    """Build a cached() decorator; the arguments plant one mistake each."""

    def cached(ttl: float, clock: Callable[[], float] = time.monotonic):
        def decorator(func):
            results: dict = {}

            @functools.wraps(func)
            def wrapper(*args):
                key = args if by_args else func.__name__
                if key in results:
                    value, expires_at = results[key]
                    if is_fresh(clock(), expires_at) and not (none_is_a_miss and value is None):
                        return value
                value = func(*args)
                results[key] = (value, clock() + ttl)
                return value

            return wrapper

        return decorator

    return cached


def right_freshness(now, expires_at):
    return now < expires_at


def cached_without_a_cache(ttl, clock=time.monotonic):
    return lambda func: func


def cached_as_a_plain_decorator(func):
    """``@cached`` with no ttl: cached(ttl=60, clock=...) is a TypeError."""
    return functools.lru_cache(maxsize=None)(func)


# --- The reference answers pass. ---


def test_the_reference_ttl_cache_passes_the_contract() -> None:
    assert "ttl=60" in check_cache_contract(solutions.TTLCache)


def test_the_reference_lru_cache_passes_the_eviction_check() -> None:
    assert "least recently used" in check_lru_eviction(solutions.LRUCache)


def test_the_reference_cached_decorator_passes() -> None:
    assert "once per arguments per TTL" in check_cached_decorator(solutions.cached)


def test_the_library_memory_cache_passes_both_cache_checks() -> None:
    check_cache_contract(MemoryCache)
    check_lru_eviction(MemoryCache)


def test_the_contract_check_runs_on_a_redis_backed_cache_and_leaves_no_keys(
    redis_cache: RedisCache,
) -> None:
    _check_get_set_delete(redis_cache)
    assert list(redis_cache.client.scan_iter(match=redis_cache.prefix + "*")) == []


def test_the_expiry_check_works_with_any_start_time_and_ttl() -> None:
    clock = FakeClock(123.5)
    _check_ttl_expiry(MemoryCache(ttl=10, clock=clock), clock, 10)


def test_the_expiry_check_needs_a_fake_clock() -> None:
    with pytest.raises(TypeError, match="FakeClock"):
        _check_ttl_expiry(MemoryCache(ttl=10), time.monotonic, 10)


# --- Wrong TTL caches fail, naming the property (``words``, matched literally). ---


@pytest.mark.parametrize(
    "answer, topic, words",
    wrong_answers(
        (NeverExpires, "deadline", "expires once ttl seconds have passed"),
        (ExpiresOneTickLate, "deadline", "at exactly set time + ttl"),
        (UsesTheRealClock, "deadline", "by the injected clock"),
        (ExpiresASecondEarly, "deadline", "still a hit just before its TTL ends"),
        (StoresTheTTLAsTheDeadline, "store", "a value you set is a hit"),
        (ReadsExtendTheTTL, "sliding", "reading an entry does not extend its TTL"),
        (OverwriteKeepsTheOldDeadline, "restart", "setting a key again restarts its TTL"),
        (OneDeadlineForAll, "per-entry", "each entry expires ttl after its own set"),
        (KeyErrorOnMiss, "miss", "a key that was never set is a miss"),
        (FalsyValuesAreMisses, "falsy", "a cached falsy value"),
        (GetTakesNoDefault, "miss", "a miss returns the default you pass"),
        (DeleteRaisesOnAMissingKey, "delete", "deleting a key that is not there is not an error"),
        (DeleteClearsEverything, "delete", "removes only that key"),
        (OverwriteIgnored, "store", "setting a key again replaces its value"),
        (ClockInsteadOfTTL, "construct", "make_cache(ttl=60, clock=clock)"),
    ),
)
def test_the_contract_check_fails_a_wrong_ttl_cache_naming_the_property(
    answer: type, topic: str, words: str
) -> None:
    assert_fails(check_cache_contract, answer, topic=topic, match=re.escape(words))


def test_a_failure_inside_the_learners_code_names_the_exception() -> None:
    assert "your code raised KeyError" in str(failure_of(check_cache_contract, KeyErrorOnMiss))


# --- Wrong LRU caches fail, naming the property. ---


@pytest.mark.parametrize(
    "answer, topic, words",
    wrong_answers(
        (EvictsTheMostRecent, "order", "evicts the least recently used entry"),
        (EvictsTheNextMostRecent, "order", "evicts the least recently used entry"),
        (FirstInFirstOut, "recency", "a get makes an entry the most recently used"),
        (HoldsOneTooMany, "bound", "holds at most max_entries entries"),
        (
            EvictsBeforeEveryWrite,
            "overwrite",
            "setting a key that is already cached evicts nothing",
        ),
        (
            OverwriteKeepsItsPlace,
            "overwrite",
            "setting a key again makes it the most recently used",
        ),
        (LRUWithKeyErrorOnMiss, "miss", "one that is not cached is a miss"),
        pytest.param(
            DictTTLCache, "construct", "make_cache(max_entries=3)", id="a_ttl_cache_without_a_bound"
        ),
    ),
)
def test_the_lru_check_fails_a_wrong_lru_cache_naming_the_property(
    answer: type, topic: str, words: str
) -> None:
    assert_fails(check_lru_eviction, answer, topic=topic, match=re.escape(words))


# --- Wrong decorators fail, naming the property. ---


@pytest.mark.parametrize(
    "answer, topic, words",
    wrong_answers(
        pytest.param(
            cached_with(lambda now, expires_at: True),
            "expiry",
            "runs again once ttl seconds have passed",
            id="never_expires",
        ),
        pytest.param(
            cached_with(lambda now, expires_at: now <= expires_at),
            "expiry",
            "runs again once ttl seconds have passed",
            id="expires_one_tick_late",
        ),
        pytest.param(
            cached_with(lambda now, expires_at: now < expires_at - 1),
            "expiry",
            "does not run again just before the TTL ends",
            id="expires_a_second_early",
        ),
        pytest.param(
            cached_with(right_freshness, by_args=False),
            "arguments",
            "different arguments get their own result",
            id="one_result_for_all_arguments",
        ),
        pytest.param(
            cached_with(right_freshness, none_is_a_miss=True),
            "none",
            "a result of None is cached too",
            id="none_is_a_miss",
        ),
        (cached_without_a_cache, "once", "does not run the function again"),
        (cached_as_a_plain_decorator, "shape", "returns a decorator"),
    ),
)
def test_the_decorator_check_fails_a_wrong_decorator_naming_the_property(
    answer: Callable, topic: str, words: str
) -> None:
    assert_fails(check_cached_decorator, answer, topic=topic, match=re.escape(words))
