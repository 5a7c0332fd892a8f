"""Checks for lesson 03's exercises (an in-memory cache): does your cache *behave* like a cache?

Each check drives your answer through a short scenario -- miss, hit, overwrite,
delete, expiry on a ``FakeClock``, eviction order -- and fails with a ❌ naming the first
property that does not hold, with what it saw.

The building blocks take a cache *object*, so they work for any cache with
``get(key, default=None)``, ``set(key, value)`` and ``delete(key)`` -- a dict-based
class of your own, ``MemoryCache``, or a Redis-backed one:

- ``_check_get_set_delete(cache)``        miss, hit, overwrite, delete, falsy values;
- ``_check_ttl_expiry(cache, clock, ttl)`` expiry measured by an injected clock.

The exercise checks take the class (or any factory) you wrote:

- ``check_cache_contract(TTLCache)``     03.1: calls ``TTLCache(ttl=60, clock=clock)``, then both
blocks;
- ``check_lru_eviction(LRUCache)``       03.2: calls ``LRUCache(max_entries=3)``; eviction order,
recency;
- ``check_cached_decorator(cached)``     03.3: calls ``cached(ttl=60, clock=clock)(function)``; the
  function runs once per arguments per TTL.

Values used are JSON-friendly (numbers, strings, lists, dicts) and compared with
``==``, so a cache that stores JSON passes too. Keys are fresh each run
(``contract:<random>:...``), so a cache backed by a shared server never sees
another run's keys; the keys a check sets are deleted at the end.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from cachelab.checks import _call, _expect, _shown
from cachelab.clock import FakeClock

__all__ = ["check_cache_contract", "check_cached_decorator", "check_lru_eviction"]

_CHECK_TTL = 60.0
"""The TTL, in seconds, that ``check_cache_contract`` and ``check_cached_decorator`` give your
answer.
"""

_CHECK_START = 1_000.0
"""The fake clock starts here, not at 0, so a cache that forgets to add the current time is caught.
"""

_JUST = 2.0**-10
"""A sliver of a second (≈ 1 ms), a power of two so fake times like 1059.999 + JUST add up exactly.
"""

_ABSENT = object()  # passed as ``default`` to tell a miss from a cached value


def _step(property_: str, topic: str, action: Callable[[], Any]) -> Any:
    """Run one step of a scenario; an exception from your code fails ``property_`` (see
    ``checks._call``).
    """
    return _call(action, property_=property_, topic=topic)


def _fresh_keys(*names: str) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"contract:{run}:{name}" for name in names]


def _get(cache: Any, key: str, property_: str, topic: str) -> Any:
    """``cache.get(key, _ABSENT)``: the cached value, or ``_ABSENT`` on a miss."""
    return _step(property_, topic, lambda: cache.get(key, _ABSENT))


def _hit_or_miss(seen: Any) -> Any:
    """What a get answered, for a failure message: the value, or the words "a miss"."""
    return "a miss" if seen is _ABSENT else seen


def _cleanup(cache: Any, keys: list[str]) -> None:
    for key in keys:
        try:
            cache.delete(key)
        except Exception:  # cleanup is best effort; the verdict is already decided
            pass


def _check_get_set_delete(cache: Any) -> str:
    """Properties every cache must have, whatever stores it: miss, hit, overwrite, delete.

    ``cache`` needs ``get(key, default=None)``, ``set(key, value)`` and ``delete(key)``.
    """
    missing, product, zero, empty, doomed = names = _fresh_keys(
        "missing", "product", "zero", "empty", "doomed"
    )
    try:
        prop = "a key that was never set is a miss: get(key) returns None"
        seen = _step(prop, "miss", lambda: cache.get(missing))
        _expect(seen is None, prop, seen, topic="miss")
        prop = "a miss returns the default you pass: get(key, default) returns default"
        seen = _get(cache, missing, prop, "miss")
        _expect(seen is _ABSENT, prop, seen, topic="miss")

        value = {"id": 7, "name": "kettle", "price_cents": 2499}
        _step("set stores a value", "store", lambda: cache.set(product, value))
        prop = "a value you set is a hit: get(key) returns it"
        seen = _get(cache, product, prop, "store")
        _expect(seen == value, prop, _hit_or_miss(seen), topic="store")

        newer = {"id": 7, "name": "kettle", "price_cents": 1999}
        prop = "setting a key again replaces its value (get returns the newer one)"
        _step(prop, "store", lambda: cache.set(product, newer))
        seen = _get(cache, product, prop, "store")
        _expect(seen == newer, prop, _hit_or_miss(seen), topic="store")

        prop = "a cached falsy value (0, []) is a hit, not a miss"
        _step(prop, "falsy", lambda: cache.set(zero, 0))
        _step(prop, "falsy", lambda: cache.set(empty, []))
        seen_zero, seen_empty = _get(cache, zero, prop, "falsy"), _get(cache, empty, prop, "falsy")
        _expect(
            seen_zero == 0
            and seen_zero is not _ABSENT
            and seen_empty == []
            and seen_empty is not _ABSENT,
            prop,
            {
                "0 came back as": _hit_or_miss(seen_zero),
                "[] came back as": _hit_or_miss(seen_empty),
            },
            topic="falsy",
        )

        prop = "after delete(key), get(key) is a miss"
        _step(prop, "delete", lambda: cache.set(doomed, "soon gone"))
        _step(prop, "delete", lambda: cache.delete(doomed))
        seen = _get(cache, doomed, prop, "delete")
        _expect(seen is _ABSENT, prop, seen, topic="delete")
        _step(
            "deleting a key that is not there is not an error",
            "delete",
            lambda: cache.delete(doomed),
        )
        prop = "delete(key) removes only that key; the others stay cached"
        seen = _get(cache, product, prop, "delete")
        _expect(seen == newer, prop, _hit_or_miss(seen), topic="delete")
    finally:
        _cleanup(cache, names)
    return "miss, hit, overwrite, falsy values and delete behave"


def _check_ttl_expiry(cache: Any, clock: FakeClock, ttl: float) -> str:
    """Expiry, measured by the ``clock`` the cache was given (a ``FakeClock`` this check advances).

    The rule: a value set at time ``t`` is a hit while ``clock() < t + ttl`` and a
    miss from ``t + ttl`` on -- the same rule as ``MemoryCache`` and Redis's ``EX``.
    ``cache`` must give every ``set`` the TTL ``ttl``. Use a ``ttl`` that halves
    exactly in binary (60, 30, 10 -- not 0.1), so fake times add up exactly.
    """
    if not isinstance(clock, FakeClock):
        raise TypeError(
            f"check_ttl_expiry needs the FakeClock the cache reads, got {type(clock).__name__}"
        )
    before, boundary, read, again, first, second, reborn = names = _fresh_keys(
        "before", "boundary", "read", "again", "first", "second", "reborn"
    )
    just_before = ttl - _JUST

    set_at: dict[str, float] = {}

    def age(key: str) -> str:
        return f"{clock() - set_at[key]:g} s after its last set"

    def hit(key: str, property_: str, topic: str) -> None:
        seen = _get(cache, key, property_, topic)
        _expect(seen is not _ABSENT, property_, f"a miss {age(key)}", topic=topic)

    def miss(key: str, property_: str, topic: str) -> None:
        seen = _get(cache, key, property_, topic)
        _expect(seen is _ABSENT, property_, f"still a hit ({_shown(seen)}) {age(key)}", topic=topic)

    def set_(key: str, value: Any, topic: str) -> None:
        _step("set stores a value", topic, lambda: cache.set(key, value))
        set_at[key] = clock()

    try:
        set_(before, "fresh", "deadline")
        clock.advance(just_before)
        hit(
            before,
            f"an entry is still a hit just before its TTL ends ({just_before:g} s after set, "
            f"ttl={ttl:g})",
            "deadline",
        )

        set_(boundary, "stale soon", "deadline")
        clock.advance(ttl)
        miss(
            boundary,
            f"an entry expires once ttl seconds have passed: at exactly set time + ttl "
            f"(ttl={ttl:g}) it is a miss, by the injected clock",
            "deadline",
        )

        set_(read, "read halfway", "sliding")
        clock.advance(ttl / 2)
        hit(read, "an entry is a hit halfway through its TTL", "deadline")
        clock.advance(ttl / 2)
        miss(
            read,
            "reading an entry does not extend its TTL: it counts from the set, not from the last "
            "read",
            "sliding",
        )

        set_(again, "version 1", "restart")
        clock.advance(ttl / 2)
        set_(again, "version 2", "restart")
        clock.advance(ttl / 2)
        prop = "setting a key again restarts its TTL (still a hit ttl/2 after the second set)"
        seen = _get(cache, again, prop, "restart")
        _expect(seen == "version 2", prop, _hit_or_miss(seen), topic="restart")
        clock.advance(ttl / 2)
        miss(again, "an overwritten entry expires ttl after its last set", "restart")

        set_(first, 1, "per-entry")
        clock.advance(ttl / 2)
        set_(second, 2, "per-entry")
        clock.advance(ttl / 2)
        miss(first, "each entry expires ttl after its own set", "per-entry")
        hit(
            second,
            "each entry has its own expiry time: one expiring leaves later ones cached",
            "per-entry",
        )

        set_(reborn, "old", "deadline")
        clock.advance(ttl)
        miss(reborn, "an entry expires once ttl seconds have passed", "deadline")
        set_(reborn, "new", "store")
        prop = "an expired key can be set again, and is a hit with the new value"
        seen = _get(cache, reborn, prop, "store")
        _expect(seen == "new", prop, _hit_or_miss(seen), topic="store")
    finally:
        _cleanup(cache, names)
    return f"entries live exactly ttl={ttl:g} s from their last set, by the injected clock"


def check_cache_contract(make_cache: Callable[..., Any]) -> str:
    """Exercise 03.1, a TTL cache class: ``make_cache(ttl=60, clock=clock)``, then every property.

    ``make_cache`` is your class (or any function taking ``ttl`` and ``clock``);
    ``clock`` is a ``FakeClock`` the check advances. Verifies ``_check_get_set_delete``
    and ``_check_ttl_expiry``.
    """
    clock = FakeClock(_CHECK_START)
    cache = _step(
        "the cache can be made with make_cache(ttl=60, clock=clock)",
        "construct",
        lambda: make_cache(ttl=_CHECK_TTL, clock=clock),
    )
    contract = _check_get_set_delete(cache)
    expiry = _check_ttl_expiry(cache, clock, _CHECK_TTL)
    return f"{contract}; {expiry}"


def check_lru_eviction(make_cache: Callable[..., Any]) -> str:
    """Exercise 03.2, an LRU cache: ``make_cache(max_entries=n)`` with ``get``, ``set``, ``delete``.

    Verifies that the cache never holds more than ``max_entries`` entries, evicts the
    least recently used one, that a hit (``get``) makes an entry the most recently
    used, and that setting a key already cached evicts nothing.
    """

    def fresh(max_entries: int) -> Any:
        return _step(
            f"the cache can be made with make_cache(max_entries={max_entries})",
            "construct",
            lambda: make_cache(max_entries=max_entries),
        )

    def set_(cache: Any, key: str, value: Any, topic: str = "bound") -> None:
        _step("set stores a value", topic, lambda: cache.set(key, value))

    def expect_cached(cache: Any, candidates: str, wanted: str, property_: str, topic: str) -> None:
        """Exactly the letters ``wanted`` of ``candidates`` are cached, or ``property_`` fails."""
        seen = present(cache, list(candidates), topic)
        _expect(seen == list(wanted), property_, f"cached afterwards: {seen}", topic=topic)

    def filled(max_entries: int, letters: str) -> Any:
        """A fresh cache of ``max_entries`` with each letter set in order (``"a"`` → ``"A"``)."""
        cache = fresh(max_entries)
        for letter in letters:
            set_(cache, letter, letter.upper())
        return cache

    def present(cache: Any, candidates: list[str], topic: str) -> list[str]:
        """Which of ``candidates`` are cached (probing with get, which is why it is the last step).

        A get that raises is a miss handled wrongly, whatever the scenario (``topic``) was about.
        """
        prop = "get answers for every key; one that is not cached is a miss"
        return [key for key in candidates if _get(cache, key, prop, "miss") is not _ABSENT]

    # 1. Filling past the bound evicts in order of use, oldest first.
    cache = filled(3, "abcd")
    seen = present(cache, list("abcd"), "bound")
    _expect(
        len(seen) <= 3,
        "the cache holds at most max_entries entries (max_entries=3, after 4 sets)",
        seen,
        topic="bound",
    )
    _expect(
        seen == ["b", "c", "d"],
        "when full, set evicts the least recently used entry (set a, b, c, d with max_entries=3 → "
        "a goes)",
        f"cached afterwards: {seen}",
        topic="order",
    )

    letters = list("abcdefg")
    cache = filled(3, "abcdefg")
    seen = present(cache, letters, "order")
    _expect(
        seen == ["e", "f", "g"],
        "the cache keeps the max_entries most recent entries (set a..g with max_entries=3 → e, f, "
        "g)",
        f"cached afterwards: {seen}",
        topic="order",
    )
    values = [_get(cache, key, "get returns the cached value", "bound") for key in seen]
    _expect(values == ["E", "F", "G"], "get returns the value that was set", values, topic="bound")

    # 2. A hit refreshes recency.
    cache = filled(3, "abc")
    seen = _get(cache, "a", "get returns the value that was set", "bound")
    _expect(seen == "A", "get returns the value that was set", _hit_or_miss(seen), topic="bound")
    set_(cache, "d", "D")
    expect_cached(
        cache,
        "abcd",
        "acd",
        "a get makes an entry the most recently used (set a, b, c; get a; set d → b goes, not a)",
        "recency",
    )

    # 3. A miss does not disturb anything.
    cache = filled(2, "ab")
    prop = "a key that was never set is a miss (get returns the default)"
    seen = _get(cache, "zzz", prop, "miss")
    _expect(seen is _ABSENT, prop, seen, topic="miss")
    seen = present(cache, ["a", "b"], "miss")
    _expect(seen == ["a", "b"], "a miss evicts nothing", f"cached afterwards: {seen}", topic="miss")

    # 4. Overwriting a cached key evicts nothing and refreshes it.
    cache = filled(3, "abc")
    set_(cache, "b", "B2", "overwrite")
    expect_cached(
        cache,
        "abc",
        "abc",
        "setting a key that is already cached evicts nothing (it is not a new entry)",
        "overwrite",
    )
    cache = filled(3, "abc")
    set_(cache, "a", "A2", "overwrite")
    set_(cache, "d", "D")
    seen = present(cache, list("abcd"), "overwrite")
    _expect(
        seen == ["a", "c", "d"],
        "setting a key again makes it the most recently used (set a, b, c; set a again; set d → b "
        "goes)",
        f"cached afterwards: {seen}",
        topic="overwrite",
    )
    prop = "setting a key again replaces its value"
    seen = _get(cache, "a", prop, "overwrite")
    _expect(seen == "A2", prop, _hit_or_miss(seen), topic="overwrite")

    # 5. The smallest cache and delete.
    cache = filled(1, "ab")
    seen = present(cache, ["a", "b"], "bound")
    _expect(
        seen == ["b"],
        "with max_entries=1 the cache holds only the last key set",
        f"cached afterwards: {seen}",
        topic="bound",
    )
    _step("delete removes a key", "delete", lambda: cache.delete("b"))
    seen = _get(cache, "b", "after delete(key), get(key) is a miss", "delete")
    _expect(seen is _ABSENT, "after delete(key), get(key) is a miss", seen, topic="delete")
    _step("deleting a key that is not there is not an error", "delete", lambda: cache.delete("b"))
    return (
        "never more than max_entries; evicts the least recently used; get and set refresh recency"
    )


def check_cached_decorator(cached: Callable[..., Any]) -> str:
    """Exercise 03.3, a ``cached(ttl, clock)`` decorator that caches a function's results.

    ``cached(ttl=60, clock=clock)`` must return a decorator; the decorated function,
    called with the same positional arguments, runs the original function at most
    once per TTL, and returns what the original returned (``None`` included).
    """
    clock = FakeClock(_CHECK_START)
    ttl = _CHECK_TTL
    calls: list[tuple] = []

    def product_page(product_id: int) -> dict:
        calls.append((product_id,))
        return {"id": product_id, "loaded_at": clock() - _CHECK_START}

    def count(product_id: int) -> int:
        return sum(1 for call_ in calls if call_ == (product_id,))

    def expect_page(
        result: Any, product_id: int, loaded_at: float, property_: str, *, topic: str
    ) -> None:
        expected = {"id": product_id, "loaded_at": loaded_at}
        _expect(result == expected, property_, result, topic=topic)

    def expect_runs(product_id: int, runs: int, property_: str, *, topic: str) -> None:
        _expect(count(product_id) == runs, property_, f"{count(product_id)} runs", topic=topic)

    prop = "cached(ttl=60, clock=clock) returns a decorator (a function taking a function)"
    decorator = _step(prop, "shape", lambda: cached(ttl=ttl, clock=clock))
    _expect(callable(decorator), prop, decorator, topic="shape")
    page = _step("the decorator returns a function", "shape", lambda: decorator(product_page))
    _expect(callable(page), "the decorator returns a function", page, topic="shape")

    def run_page(*args: Any) -> Any:
        return _step(
            "the decorated function returns the original's result", "shape", lambda: page(*args)
        )

    first = run_page(1)
    expect_page(
        first, 1, 0.0, "the decorated function returns what the original returns", topic="shape"
    )
    expect_runs(1, 1, "the first call runs the original function once", topic="once")
    again = run_page(1)
    expect_runs(
        1,
        1,
        "a second call with the same arguments within the TTL does not run the function again",
        topic="once",
    )
    _expect(again == first, "a cached call returns the cached result", again, topic="once")

    other = run_page(2)
    expect_page(
        other,
        2,
        0.0,
        "different arguments get their own result (the cache key includes the arguments)",
        topic="arguments",
    )
    expect_runs(2, 1, "different arguments run the function once for themselves", topic="arguments")
    run_page(1)
    run_page(2)
    _expect(
        count(1) == 1 and count(2) == 1,
        "each argument's result is cached separately",
        f"runs per argument: {{1: {count(1)}, 2: {count(2)}}}",
        topic="arguments",
    )

    clock.advance(ttl - _JUST)
    run_page(1)
    expect_runs(1, 1, "the function does not run again just before the TTL ends", topic="expiry")
    clock.advance(_JUST)
    fresh = run_page(1)
    expect_runs(
        1,
        2,
        "the function runs again once ttl seconds have passed (at exactly ttl, by the clock)",
        topic="expiry",
    )
    expect_page(
        fresh,
        1,
        ttl,
        "after expiry the decorated function returns the fresh result",
        topic="expiry",
    )
    run_page(1)
    expect_runs(1, 2, "the fresh result is cached again for a full TTL", topic="expiry")

    nothing_calls: list[int] = []

    def find_discount(product_id: int) -> None:
        nothing_calls.append(product_id)
        return None

    find = _step(
        "the decorator returns a function",
        "shape",
        lambda: cached(ttl=ttl, clock=clock)(find_discount),
    )
    results = [_step("a result of None is returned", "none", lambda: find(9)) for _ in range(3)]
    _expect(
        results == [None, None, None],
        "a function that returns None still returns None when cached",
        results,
        topic="none",
    )
    _expect(
        len(nothing_calls) == 1,
        "a result of None is cached too: the function runs once for 3 calls",
        f"{len(nothing_calls)} runs for 3 calls",
        topic="none",
    )
    return "the function runs once per arguments per TTL, and its result comes back unchanged"


_EXERCISES = {
    "03.1": check_cache_contract,
    "03.2": check_lru_eviction,
    "03.3": check_cached_decorator,
}

_CONSTRUCT = (
    "Your class must accept exactly the arguments the check passes, by name: look at the "
    "exercise's signature, and at the error in the message above.",
    "The ❌ shows the call the check makes, such as make_cache(ttl=60, clock=clock): give your "
    "__init__ parameters with exactly those names, and the defaults the exercise shows.",
)

_HINTS = {
    "03.1": {
        "construct": _CONSTRUCT,
        "miss": (
            "A key that was never set is not an error: get must return the default, not raise "
            "KeyError.",
            "Ask your dict of entries whether it holds the key (the in operator, or dict.get with "
            "a default) instead of indexing it with [].",
            "When the key is absent, return the default your get was called with, whatever it is.",
        ),
        "store": (
            "set must store the value so that a later get returns it, replacing what was there.",
            "One dict of entries is enough: the key maps to what you stored for it, and a second "
            "set for the same key simply writes over the first.",
        ),
        "falsy": (
            "A cached 0 or [] is a value like any other. How does your get decide that something "
            "is a miss?",
            "`if value:` is false for 0 and [] as well as for a missing entry: the truth of the "
            "value cannot tell them apart.",
            "Decide hit or miss by whether the key is in your dict of entries (or by comparing "
            "with a sentinel object of your own), never by the value.",
        ),
        "delete": (
            "delete(key) removes that one key, and deleting a key that is not there is fine.",
            "dict.pop takes a default as its second argument: with one, a missing key is not an "
            "error.",
        ),
        "deadline": (
            "Every time comes from the clock you were given, called as a function: store when "
            "each entry stops being valid, and compare with the clock at every get.",
            "At set time, the deadline is the clock's time now plus the ttl; keep it beside the "
            "value.",
            "At exactly the deadline the entry is already gone: in get, a read at or after the "
            "deadline is a miss (>=, not >).",
        ),
        "sliding": (
            "Reading an entry must not change its expiry: only set does.",
            "Does your get write anything back into your dict of entries? It should only read "
            "(and at most remove an entry that has expired).",
        ),
        "restart": (
            "Setting a key that is already cached starts its TTL again, from that set.",
            "In set, compute the deadline from the clock afresh every time, even when the key is "
            "already there.",
            "Look for a branch in your set that keeps the old entry's deadline when the key "
            "exists: the new value needs a new deadline.",
        ),
        "per-entry": (
            "Each entry has its own deadline; one expiring says nothing about the others.",
            "Keep the deadline with each value in your dict of entries, not once for the whole "
            "cache.",
        ),
    },
    "03.2": {
        "construct": _CONSTRUCT,
        "miss": (
            "A key that was never set is a miss (return the default), and a miss must not change "
            "the cache.",
            "Find out whether the key is in your entries before touching anything: only a hit "
            "changes the order of use.",
        ),
        "bound": (
            "The cache may never hold more than max_entries entries: after storing, if it is "
            "over, evict.",
            "collections.OrderedDict remembers an order among its keys and can remove from either "
            "end: a good home for your entries.",
            "After each set, compare how many entries you hold with max_entries, and remove one "
            "while there are too many.",
        ),
        "order": (
            "Evict the least recently used entry: the one whose last get or set is the oldest.",
            "An OrderedDict's popitem(last=False) removes the entry at the oldest end.",
            "Keep your entries ordered by use, least recent at the end you evict from and most "
            "recent at the other.",
        ),
        "recency": (
            "A hit is a use: after get(key) succeeds, that key is the most recently used.",
            "OrderedDict.move_to_end(key) moves a key to the most recent end of the order.",
            "Not only set changes the order: in your get, a hit moves its key to the most recent "
            "end before the value is returned, and a miss moves nothing.",
        ),
        "overwrite": (
            "Setting a key that is already cached replaces its value: it is not a new entry, so "
            "nothing is evicted, and it becomes the most recently used.",
            "Evicting before storing throws out an entry even when the key was already there: "
            "store first, then decide.",
            "After storing, make the key the most recent, then evict only while you hold more "
            "than max_entries.",
        ),
        "delete": (
            "delete(key) removes that one key, and deleting a key that is not there is fine.",
            "dict.pop (and OrderedDict.pop) takes a default as its second argument: with one, a "
            "missing key is not an error.",
        ),
    },
    "03.3": {
        "shape": (
            "cached(ttl, clock) returns a decorator; the decorator takes a function and returns a "
            "new function (the wrapper) that returns what the original returns.",
            "That is three functions nested in one another: cached, the decorator inside it, and "
            "the wrapper inside that, which takes *args.",
            "Each function returns the one nested in it: the decorator returns the wrapper, and "
            "cached returns the decorator.",
        ),
        "once": (
            "The wrapper keeps results: a second call with the same arguments within the TTL "
            "returns the kept result without calling the original.",
            "Keep a dict of results in the decorator, made once per decorated function, and look "
            "in it before calling the function.",
            "Only a miss calls the original; store what it returned before you return it.",
        ),
        "arguments": (
            "The cache key must include the arguments: product 1 and product 2 are different "
            "results.",
            "The wrapper receives the arguments as the tuple args, and a tuple can be a dict key.",
        ),
        "expiry": (
            "A kept result is fresh while clock() < its expiry; after that, call the original "
            "again.",
            "Keep each result's deadline beside it: the clock's time at the call plus ttl.",
            "In the wrapper, a result whose deadline has come (>=) counts as a miss: call the "
            "original and store the new result with a new deadline.",
        ),
        "none": (
            "A function that returns None has still done its work: its None must be cached too.",
            "A lookup that gives None cannot tell a missing entry from a kept None.",
            "Ask whether the arguments are in your dict of results (the in operator), not whether "
            "what you find is None.",
        ),
    },
}
