"""Checks for the caching exercises (lessons 03–04): does your cache *behave* like a cache?

Each check drives your answer through a short scenario -- miss, hit, overwrite,
delete, expiry on a ``FakeClock``, eviction order -- and raises ``CheckFailed``
naming the first property that does not hold, with what it saw.

The building blocks take a cache *object*, so they work for any cache with
``get(key, default=None)``, ``set(key, value)`` and ``delete(key)`` -- a dict-based
class of your own, ``MemoryCache``, or a Redis-backed one:

- ``check_get_set_delete(cache)``        miss, hit, overwrite, delete, falsy values;
- ``check_ttl_expiry(cache, clock, ttl)`` expiry measured by an injected clock.

The exercise checks take the class (or any factory) you wrote:

- ``check_cache_contract(TTLCache)``     calls ``TTLCache(ttl=60, clock=clock)``, then both blocks;
- ``check_lru_eviction(LRUCache)``       calls ``LRUCache(max_entries=3)``; eviction order, recency;
- ``check_cached_decorator(cached)``     calls ``cached(ttl=60, clock=clock)(function)``; the function
  runs once per arguments per TTL.

Values used are JSON-friendly (numbers, strings, lists, dicts) and compared with
``==``, so a cache that stores JSON passes too. Keys are fresh each run
(``contract:<random>:...``), so a cache backed by a shared server never sees
another run's keys; the keys a check sets are deleted at the end.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from cachelab.checks import CheckFailed, expect
from cachelab.clock import FakeClock

CHECK_TTL = 60.0
"""The TTL, in seconds, that ``check_cache_contract`` and ``check_cached_decorator`` give your answer."""

CHECK_START = 1_000.0
"""The fake clock starts here, not at 0, so a cache that forgets to add the current time is caught."""

JUST = 2.0 ** -10
"""A sliver of a second (≈ 1 ms), a power of two so fake times like 1059.999 + JUST add up exactly."""

_ABSENT = object()  # passed as ``default`` to tell a miss from a cached value


def _step(property_: str, action: Callable[[], Any]) -> Any:
    """Run one step of a scenario; an exception from your code fails ``property_``, naming the exception.

    ``NotImplementedError`` passes through, so an untouched stub reads as "not attempted yet".
    """
    try:
        return action()
    except (CheckFailed, NotImplementedError):
        raise
    except Exception as error:  # your code raised: that is the property failing, not the check crashing
        raise CheckFailed(f"{property_} (your code raised {type(error).__name__}: {error})") from error


def _fresh_keys(*names: str) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"contract:{run}:{name}" for name in names]


def _get(cache: Any, key: str, property_: str) -> Any:
    """``cache.get(key, _ABSENT)``: the cached value, or ``_ABSENT`` on a miss."""
    return _step(property_, lambda: cache.get(key, _ABSENT))


def _shown(seen: Any) -> Any:
    """What a get answered, for a failure message: the value, or the words "a miss"."""
    return "a miss" if seen is _ABSENT else seen


def _cleanup(cache: Any, keys: list[str]) -> None:
    for key in keys:
        try:
            cache.delete(key)
        except Exception:  # cleanup is best effort; the verdict is already decided
            pass


def check_get_set_delete(cache: Any) -> str:
    """Properties every cache must have, whatever stores it: miss, hit, overwrite, delete.

    ``cache`` needs ``get(key, default=None)``, ``set(key, value)`` and ``delete(key)``.
    """
    missing, product, zero, empty, doomed = names = _fresh_keys("missing", "product", "zero", "empty", "doomed")
    try:
        seen = _step("a key that was never set is a miss: get(key) returns None", lambda: cache.get(missing))
        expect(seen is None, "a key that was never set is a miss: get(key) returns None", seen)
        seen = _get(cache, missing, "a miss returns the default you pass")
        expect(seen is _ABSENT, "a miss returns the default you pass: get(key, default) returns default", seen)

        value = {"id": 7, "name": "kettle", "price_cents": 2499}
        _step("set stores a value", lambda: cache.set(product, value))
        seen = _get(cache, product, "a value you set is a hit")
        expect(seen == value, "a value you set is a hit: get(key) returns it", _shown(seen))

        newer = {"id": 7, "name": "kettle", "price_cents": 1999}
        _step("setting a key again replaces its value", lambda: cache.set(product, newer))
        seen = _get(cache, product, "setting a key again replaces its value")
        expect(seen == newer, "setting a key again replaces its value (get returns the newer one)",
               _shown(seen))

        _step("a cached falsy value is a hit", lambda: cache.set(zero, 0))
        _step("a cached falsy value is a hit", lambda: cache.set(empty, []))
        seen_zero, seen_empty = _get(cache, zero, "a cached 0 is a hit"), _get(cache, empty, "a cached [] is a hit")
        expect(seen_zero == 0 and seen_zero is not _ABSENT and seen_empty == [] and seen_empty is not _ABSENT,
               "a cached falsy value (0, []) is a hit, not a miss -- test `is None` or `in`, not truthiness",
               {"0 came back as": _shown(seen_zero), "[] came back as": _shown(seen_empty)})

        _step("delete removes a key", lambda: cache.set(doomed, "soon gone"))
        _step("delete removes a key", lambda: cache.delete(doomed))
        seen = _get(cache, doomed, "delete removes a key")
        expect(seen is _ABSENT, "after delete(key), get(key) is a miss", seen)
        _step("deleting a key that is not there is not an error", lambda: cache.delete(doomed))
        seen = _get(cache, product, "delete removes only its own key")
        expect(seen == newer, "delete(key) removes only that key; the others stay cached",
               _shown(seen))
    finally:
        _cleanup(cache, names)
    return "miss, hit, overwrite, falsy values and delete behave"


def check_ttl_expiry(cache: Any, clock: FakeClock, ttl: float) -> str:
    """Expiry, measured by the ``clock`` the cache was given (a ``FakeClock`` this check advances).

    The rule: a value set at time ``t`` is a hit while ``clock() < t + ttl`` and a
    miss from ``t + ttl`` on -- the same rule as ``MemoryCache`` and Redis's ``EX``.
    ``cache`` must give every ``set`` the TTL ``ttl``. Use a ``ttl`` that halves
    exactly in binary (60, 30, 10 -- not 0.1), so fake times add up exactly.
    """
    if not isinstance(clock, FakeClock):
        raise TypeError(f"check_ttl_expiry needs the FakeClock the cache reads, got {type(clock).__name__}")
    before, boundary, read, again, first, second, reborn = names = _fresh_keys(
        "before", "boundary", "read", "again", "first", "second", "reborn")
    just_before = ttl - JUST

    set_at: dict[str, float] = {}

    def age(key: str) -> str:
        return f"{clock() - set_at[key]:g} s after its last set"

    def hit(key: str, property_: str) -> None:
        seen = _get(cache, key, property_)
        expect(seen is not _ABSENT, property_, f"a miss {age(key)}")

    def miss(key: str, property_: str) -> None:
        seen = _get(cache, key, property_)
        expect(seen is _ABSENT, property_, f"still a hit ({seen!r}) {age(key)}")

    def set_(key: str, value: Any) -> None:
        _step("set stores a value", lambda: cache.set(key, value))
        set_at[key] = clock()

    try:
        set_(before, "fresh")
        clock.advance(just_before)
        hit(before, f"an entry is still a hit just before its TTL ends ({just_before:g} s after set, ttl={ttl:g})")

        set_(boundary, "stale soon")
        clock.advance(ttl)
        miss(boundary, f"an entry expires once ttl seconds have passed: at exactly set time + ttl "
                       f"(ttl={ttl:g}) it is a miss, by the injected clock")

        set_(read, "read halfway")
        clock.advance(ttl / 2)
        hit(read, "an entry is a hit halfway through its TTL")
        clock.advance(ttl / 2)
        miss(read, "reading an entry does not extend its TTL: it counts from the set, not from the last read")

        set_(again, "version 1")
        clock.advance(ttl / 2)
        set_(again, "version 2")
        clock.advance(ttl / 2)
        seen = _get(cache, again, "setting a key again restarts its TTL")
        expect(seen == "version 2", "setting a key again restarts its TTL (still a hit ttl/2 after the second set)",
               _shown(seen))
        clock.advance(ttl / 2)
        miss(again, "an overwritten entry expires ttl after its last set")

        set_(first, 1)
        clock.advance(ttl / 2)
        set_(second, 2)
        clock.advance(ttl / 2)
        miss(first, "each entry expires ttl after its own set")
        hit(second, "each entry has its own expiry time: one expiring leaves later ones cached")

        set_(reborn, "old")
        clock.advance(ttl)
        miss(reborn, "an entry expires once ttl seconds have passed")
        set_(reborn, "new")
        seen = _get(cache, reborn, "an expired key can be set again")
        expect(seen == "new", "an expired key can be set again, and is a hit with the new value",
               _shown(seen))
    finally:
        _cleanup(cache, names)
    return f"entries live exactly ttl={ttl:g} s from their last set, by the injected clock"


def check_cache_contract(make_cache: Callable[..., Any]) -> str:
    """The exercise check for a TTL cache class: ``make_cache(ttl=60, clock=clock)``, then every property.

    ``make_cache`` is your class (or any function taking ``ttl`` and ``clock``);
    ``clock`` is a ``FakeClock`` the check advances. Verifies ``check_get_set_delete``
    and ``check_ttl_expiry``.
    """
    clock = FakeClock(CHECK_START)
    cache = _step("the cache can be made with make_cache(ttl=60, clock=clock)",
                  lambda: make_cache(ttl=CHECK_TTL, clock=clock))
    contract = check_get_set_delete(cache)
    expiry = check_ttl_expiry(cache, clock, CHECK_TTL)
    return f"{contract}; {expiry}"


def check_lru_eviction(make_cache: Callable[..., Any]) -> str:
    """The exercise check for an LRU cache: ``make_cache(max_entries=n)`` with ``get``, ``set``, ``delete``.

    Verifies that the cache never holds more than ``max_entries`` entries, evicts the
    least recently used one, that a hit (``get``) makes an entry the most recently
    used, and that setting a key already cached evicts nothing.
    """

    def fresh(max_entries: int) -> Any:
        return _step(f"the cache can be made with make_cache(max_entries={max_entries})",
                     lambda: make_cache(max_entries=max_entries))

    def set_(cache: Any, key: str, value: Any) -> None:
        _step("set stores a value", lambda: cache.set(key, value))

    def present(cache: Any, candidates: list[str]) -> list[str]:
        """Which of ``candidates`` are cached (probing with get, which is why it is the last step)."""
        return [key for key in candidates
                if _get(cache, key, "get answers for every key; one that is not cached is a miss") is not _ABSENT]

    # 1. Filling past the bound evicts in order of use, oldest first.
    cache = fresh(3)
    letters = list("abcdefg")
    for letter in letters[:3]:
        set_(cache, letter, letter.upper())
    set_(cache, "d", "D")
    seen = present(cache, list("abcd"))
    expect(len(seen) <= 3, "the cache holds at most max_entries entries (max_entries=3, after 4 sets)", seen)
    expect(seen == ["b", "c", "d"],
           "when full, set evicts the least recently used entry (set a, b, c, d with max_entries=3 → a goes)",
           f"cached afterwards: {seen}")

    cache = fresh(3)
    for letter in letters:
        set_(cache, letter, letter.upper())
    seen = present(cache, letters)
    expect(seen == ["e", "f", "g"],
           "the cache keeps the max_entries most recent entries (set a..g with max_entries=3 → e, f, g)",
           f"cached afterwards: {seen}")
    values = [_get(cache, key, "get returns the cached value") for key in seen]
    expect(values == ["E", "F", "G"], "get returns the value that was set", values)

    # 2. A hit refreshes recency.
    cache = fresh(3)
    for letter in "abc":
        set_(cache, letter, letter.upper())
    seen = _get(cache, "a", "get returns the value that was set")
    expect(seen == "A", "get returns the value that was set", _shown(seen))
    set_(cache, "d", "D")
    seen = present(cache, list("abcd"))
    expect(seen == ["a", "c", "d"],
           "a get makes an entry the most recently used (set a, b, c; get a; set d → b goes, not a)",
           f"cached afterwards: {seen}")

    # 3. A miss does not disturb anything.
    cache = fresh(2)
    set_(cache, "a", "A")
    set_(cache, "b", "B")
    seen = _get(cache, "zzz", "a key that was never set is a miss (get returns the default)")
    expect(seen is _ABSENT, "a key that was never set is a miss (get returns the default)", seen)
    seen = present(cache, ["a", "b"])
    expect(seen == ["a", "b"], "a miss evicts nothing", f"cached afterwards: {seen}")

    # 4. Overwriting a cached key evicts nothing and refreshes it.
    cache = fresh(3)
    for letter in "abc":
        set_(cache, letter, letter.upper())
    set_(cache, "b", "B2")
    seen = present(cache, list("abc"))
    expect(seen == ["a", "b", "c"], "setting a key that is already cached evicts nothing (it is not a new entry)",
           f"cached afterwards: {seen}")
    cache = fresh(3)
    for letter in "abc":
        set_(cache, letter, letter.upper())
    set_(cache, "a", "A2")
    set_(cache, "d", "D")
    seen = present(cache, list("abcd"))
    expect(seen == ["a", "c", "d"],
           "setting a key again makes it the most recently used (set a, b, c; set a again; set d → b goes)",
           f"cached afterwards: {seen}")
    seen = _get(cache, "a", "setting a key again replaces its value")
    expect(seen == "A2", "setting a key again replaces its value", _shown(seen))

    # 5. The smallest cache and delete.
    cache = fresh(1)
    set_(cache, "a", "A")
    set_(cache, "b", "B")
    seen = present(cache, ["a", "b"])
    expect(seen == ["b"], "with max_entries=1 the cache holds only the last key set", f"cached afterwards: {seen}")
    _step("delete removes a key", lambda: cache.delete("b"))
    seen = _get(cache, "b", "delete removes a key")
    expect(seen is _ABSENT, "after delete(key), get(key) is a miss", seen)
    _step("deleting a key that is not there is not an error", lambda: cache.delete("b"))
    return "never more than max_entries; evicts the least recently used; get and set refresh recency"


def check_cached_decorator(cached: Callable[..., Any]) -> str:
    """The exercise check for ``cached(ttl, clock)``: a decorator that caches a function's results.

    ``cached(ttl=60, clock=clock)`` must return a decorator; the decorated function,
    called with the same positional arguments, runs the original function at most
    once per TTL, and returns what the original returned (``None`` included).
    """
    clock = FakeClock(CHECK_START)
    ttl = CHECK_TTL
    calls: list[tuple] = []

    def product_page(product_id: int) -> dict:
        calls.append((product_id,))
        return {"id": product_id, "loaded_at": clock() - CHECK_START}

    def count(product_id: int) -> int:
        return sum(1 for call in calls if call == (product_id,))

    decorator = _step("cached(ttl=60, clock=clock) returns a decorator", lambda: cached(ttl=ttl, clock=clock))
    expect(callable(decorator), "cached(ttl=60, clock=clock) returns a decorator (a function taking a function)",
           decorator)
    page = _step("the decorator returns a function", lambda: decorator(product_page))
    expect(callable(page), "the decorator returns a function", page)

    def call(*args: Any) -> Any:
        return _step("the decorated function returns the original's result", lambda: page(*args))

    first = call(1)
    expect(first == {"id": 1, "loaded_at": 0.0}, "the decorated function returns what the original returns", first)
    expect(count(1) == 1, "the first call runs the original function once", f"{count(1)} runs")
    again = call(1)
    expect(count(1) == 1, "a second call with the same arguments within the TTL does not run the function again",
           f"{count(1)} runs")
    expect(again == first, "a cached call returns the cached result", again)

    other = call(2)
    expect(other == {"id": 2, "loaded_at": 0.0},
           "different arguments get their own result (the cache key includes the arguments)", other)
    expect(count(2) == 1, "different arguments run the function once for themselves", f"{count(2)} runs")
    call(1)
    call(2)
    expect(count(1) == 1 and count(2) == 1, "each argument's result is cached separately",
           f"runs per argument: {{1: {count(1)}, 2: {count(2)}}}")

    clock.advance(ttl - JUST)
    call(1)
    expect(count(1) == 1, "the function does not run again just before the TTL ends", f"{count(1)} runs")
    clock.advance(JUST)
    fresh = call(1)
    expect(count(1) == 2, "the function runs again once ttl seconds have passed (at exactly ttl, by the clock)",
           f"{count(1)} runs")
    expect(fresh == {"id": 1, "loaded_at": ttl}, "after expiry the decorated function returns the fresh result",
           fresh)
    call(1)
    expect(count(1) == 2, "the fresh result is cached again for a full TTL", f"{count(1)} runs")

    nothing_calls: list[int] = []

    def find_discount(product_id: int) -> None:
        nothing_calls.append(product_id)
        return None

    find = _step("the decorator returns a function", lambda: cached(ttl=ttl, clock=clock)(find_discount))
    results = [_step("a result of None is returned", lambda: find(9)) for _ in range(3)]
    expect(results == [None, None, None], "a function that returns None still returns None when cached", results)
    expect(len(nothing_calls) == 1,
           "a result of None is cached too: the function runs once (tell a miss apart with `in` or a sentinel, "
           "not `is None`)", f"{len(nothing_calls)} runs for 3 calls")
    return "the function runs once per arguments per TTL, and its result comes back unchanged"
