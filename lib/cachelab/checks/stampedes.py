"""Checks for lesson 08's exercises (stampedes): single-flight by hand, XFetch's rule, and the
windows of stale-while-revalidate.

- ``check_load_once(load_once)``          08.1
- ``check_xfetch_rule(should_refresh)``   08.2
- ``check_swr_action(swr_action)``        08.3

08.1 runs your function on a real ``MemoryCache`` with real threads, and plays the
other requests itself: a holder that never finishes, a lock that expires mid-load and
is taken by someone else. 08.2 and 08.3 are pure functions, checked on known cases
at and around every boundary.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable

from cachelab import keys
from cachelab.cache import MemoryCache
from cachelab.checks import _call, _CheckFailed, _expect, _raised, _same, _shown
from cachelab.clock import FakeClock

__all__ = ["check_load_once", "check_swr_action", "check_xfetch_rule"]

_KEY = keys.trending()

_TIME_LIMITS_S = {"08.1": 90.0}
"""08.1 gives your function's threads up to 30 s and then 3 s to return (a ❌ that says
which wait never ended); the runner's own limit comes after those, with room to spare."""
_LOCK = keys.lock(_KEY)


# --------------------------------------------------------------------------- 08.1 single-flight


def _threads(count: int, target: Callable[[int], Any], within_s: float = 30.0) -> list:
    """``target(i)`` in ``count`` threads started together; their results or exceptions."""
    results: list = [None] * count
    start = threading.Barrier(count)

    def body(i: int) -> None:
        start.wait()
        try:
            results[i] = target(i)
        except BaseException as error:  # handed back to the check
            results[i] = error

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    deadline = time.monotonic() + within_s  # for all of them together, not each in turn
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        raise _CheckFailed(
            f"every caller returns within {within_s:g} s (a thread is still waiting: does a "
            "waiter ever see the value, or give up after wait_timeout?)",
            "timeout",
        )
    return results


def check_load_once(load_once: Callable[..., Any]) -> str:
    """Exercise 08.1: ``load_once(cache, key, loader, ttl, lock_ttl, wait_timeout)``."""

    def answer(cache: MemoryCache, loader: Callable[[], Any], prop: str, topic: str) -> Any:
        """``load_once`` with a TTL of 60 s, a lock TTL of 5 s and a 2 s wait; an exception it
        raises fails ``prop``.
        """
        return _call(load_once, cache, _KEY, loader, 60, 5, 2, property_=prop, topic=topic)

    # A hit: no lock, no load.
    cache = MemoryCache()
    cache.set(_KEY, ["cached page"], 60)
    prop = "a hit returns the cached value without calling the loader"
    value = answer(cache, lambda: ["loaded"], prop, "hit")
    _expect(_same(value, ["cached page"]), prop, value, topic="hit")
    cache = MemoryCache()
    cache.set(_KEY, None, 60)  # "nothing there" is an answer worth caching too
    loads = []
    prop = "a cached None is a hit: returned without calling the loader"
    value = answer(cache, lambda: loads.append(1) or ["loaded"], prop, "hit")
    _expect(value is None and not loads, prop, "the loader ran" if loads else value, topic="hit")

    # A miss on its own: one load, stored, lock released.
    cache = MemoryCache()
    prop = "a miss calls the loader once, stores its value and returns it"
    loads = []
    value = answer(cache, lambda: loads.append(1) or ["page"], prop, "fill")
    _expect(_same(value, ["page"]) and loads == [1], prop, value, topic="fill")
    _expect(
        _same(cache.get(_KEY), ["page"]),
        prop + " (in the cache, under key)",
        cache.get(_KEY),
        topic="fill",
    )
    prop = "the lock is released once the value is stored (keys.lock(key) is gone)"
    _expect(cache.get(_LOCK) is None, prop, cache.get(_LOCK), topic="fill")

    # Twenty concurrent misses: one load, everyone served.
    cache = MemoryCache()
    counter = []
    counter_lock = threading.Lock()

    def slow_loader() -> list:
        with counter_lock:
            counter.append(1)
        time.sleep(0.2)
        return ["the one page"]

    prop = "20 concurrent misses cause exactly one load, and every caller gets its value"
    values = _threads(20, lambda i: load_once(cache, _KEY, slow_loader, 60, 5, 5))
    errors = [v for v in values if isinstance(v, BaseException)]
    if errors:
        raise _CheckFailed(f"{prop} (a caller raised {_raised(errors[0])})", "one-load")
    _expect(len(counter) == 1, prop, f"{len(counter)} loads", topic="one-load")
    _expect(all(_same(v, ["the one page"]) for v in values), prop, values, topic="one-load")

    # The lock has a TTL: on a fake clock, the load outlives it.
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    seen: dict = {}

    def outlives_its_lock() -> list:
        seen["during"] = cache.get(_LOCK)
        clock.advance(6)  # longer than lock_ttl = 5
        seen["after"] = cache.get(_LOCK)
        return ["slow page"]

    prop = "the lock is taken with a TTL (lock_ttl), so a holder that dies cannot block forever"
    value = answer(cache, outlives_its_lock, prop, "lock-ttl")
    _expect(
        seen.get("during") is not None,
        "the loader runs while the lock is held "
        "(take it with cache.add(keys.lock(key), token, lock_ttl) first)",
        None,
        topic="lock-ttl",
    )
    _expect(seen.get("after") is None, prop, "the lock was still there 6 s later", topic="lock-ttl")
    prop = "a load that outlived its lock still returns its value to its caller"
    _expect(_same(value, ["slow page"]), prop, value, topic="lock-ttl")

    # Only the holder releases: the lock expires mid-load and someone else takes it.
    cache = MemoryCache()

    def lock_taken_over() -> list:
        cache.delete(_LOCK)  # as if it expired...
        cache.add(_LOCK, "another request's token", 30)  # ...and another request took it
        return ["late page"]

    prop = (
        "a holder whose lock expired mid-load neither releases the new holder's lock nor "
        "stores its value over theirs (compare the token: set_and_release)"
    )
    answer(cache, lock_taken_over, prop, "token")
    _expect(cache.get(_LOCK) == "another request's token", prop, cache.get(_LOCK), topic="token")
    _expect(cache.get(_KEY) is None, prop, cache.get(_KEY), topic="token")

    # A loader that raises: the lock is released, the error reaches the caller.
    cache = MemoryCache()

    def broken() -> None:
        raise LookupError("the database said no")

    prop = "a loader that raises releases the lock and its error reaches the caller"
    try:
        load_once(cache, _KEY, broken, 60, 5, 2)
    except LookupError:
        pass
    except Exception as error:
        raise _CheckFailed(f"{prop} (got {_raised(error)})", "error") from error
    else:
        raise _CheckFailed(f"{prop} (nothing was raised)", "error")
    _expect(cache.get(_LOCK) is None, prop, "the lock was left behind", topic="error")

    # A waiter whose wait runs out.
    cache = MemoryCache()
    cache.add(_LOCK, "a holder that never finishes", 30)
    loads = []
    prop = (
        "a waiter that waits wait_timeout seconds raises TimeoutError, without loading, "
        "soon after wait_timeout"
    )
    started = time.monotonic()
    (outcome,) = _threads(
        1, lambda i: load_once(cache, _KEY, lambda: loads.append(1) or ["page"], 60, 5, 0.3), 3
    )
    waited = time.monotonic() - started
    if not isinstance(outcome, BaseException):
        raise _CheckFailed(f"{prop} (it returned {_shown(outcome)} instead)", "timeout")
    if not isinstance(outcome, TimeoutError):
        raise _CheckFailed(f"{prop} (got {_raised(outcome)})", "timeout")
    _expect(not loads, prop, "the waiter loaded", topic="timeout")
    _expect(0.3 <= waited < 3, prop, f"gave up after {waited:.2f} s", topic="timeout")
    return (
        "a hit (a cached None too) does not load; 20 concurrent misses load once and all get "
        "the value; the lock has a TTL, is released by its holder only, and after a failed "
        "load; a waiter gives up with TimeoutError after wait_timeout"
    )


# --------------------------------------------------------------------------- 08.2 XFetch


def check_xfetch_rule(should_refresh: Callable[[float, float, float, float, float], Any]) -> str:
    """Exercise 08.2: ``should_refresh(now, delta_s, beta, expires_at, u)`` is XFetch's rule."""
    cases = [
        # (now, delta_s, beta, expires_at, u, expected, property, topic)
        (
            0.0,
            1.0,
            1.0,
            100.0,
            0.01,
            False,
            "far from expiry (100 Δ away) it does not refresh, even for a small u",
            "far",
        ),
        (
            0.0,
            1.0,
            1.0,
            1.0,
            1.0,
            False,
            "with u = 1 (ln u = 0) it refreshes only once expired",
            "sign",
        ),
        (
            99.0,
            1.0,
            1.0,
            100.0,
            0.01,
            True,
            "1 Δ before expiry, u = 0.01 (−ln u ≈ 4.6) refreshes: now − Δ·β·ln(u) ≥ expiry",
            "sign",
        ),
        (
            0.0,
            1.0,
            1.0,
            1.0,
            0.3,
            True,
            "−ln(0.3) = 1.20 ≥ 1 Δ: it refreshes (the natural log, math.log)",
            "log",
        ),
        (0.0, 1.0, 1.0, 1.3, 0.3, False, "−ln(0.3) = 1.20 < 1.3 Δ: it does not refresh yet", "log"),
        (0.0, 1.0, 2.0, 2.0, 0.3, True, "β = 2 doubles the look-ahead: 2 × 1.20 ≥ 2", "beta"),
        (0.0, 1.0, 0.5, 1.0, 0.3, False, "β = 0.5 halves it: 0.5 × 1.20 < 1", "beta"),
        (
            0.0,
            2.0,
            1.0,
            2.0,
            0.3,
            True,
            "a slower recomputation (Δ = 2) looks further ahead: 2 × 1.20 ≥ 2",
            "beta",
        ),
        (
            100.0,
            1.0,
            1.0,
            100.0,
            1.0,
            True,
            "at expiry it always reloads, even with u = 1 (use >=)",
            "expired",
        ),
        (150.0, 1.0, 1.0, 100.0, 1.0, True, "past expiry it always reloads, whatever u", "expired"),
        (
            99.0,
            0.0,
            1.0,
            100.0,
            0.001,
            False,
            "a recomputation that took no time (Δ = 0) is never refreshed early",
            "far",
        ),
    ]
    for now, delta_s, beta, expires_at, u, expected, prop, topic in cases:
        where = f"now={now:g}, Δ={delta_s:g}, β={beta:g}, expiry={expires_at:g}, u={u:g}"
        got = _call(
            should_refresh,
            now,
            delta_s,
            beta,
            expires_at,
            u,
            property_=f"{prop} [{where}]",
            topic=topic,
        )
        _expect(
            isinstance(got, bool) or got in (0, 1),
            f"returns True or False [{where}]",
            got,
            topic="sign",
        )
        _expect(bool(got) == expected, f"{prop} [{where}]", got, topic=topic)
    # Over many u, the share that refreshes is the formula's exp(−gap/(Δβ)).
    gap, delta_s, beta, n = 0.5, 0.5, 1.0, 2_000
    refreshed = sum(
        bool(should_refresh(10.0 - gap, delta_s, beta, 10.0, (i + 0.5) / n)) for i in range(n)
    )
    expected = math.exp(-gap / (delta_s * beta))
    prop = f"over u spread evenly in (0, 1], a share exp(−gap/(Δβ)) = {expected:.3f} refreshes"
    _expect(abs(refreshed / n - expected) < 0.01, prop, round(refreshed / n, 3), topic="log")
    return f"{len(cases)} cases at and around every boundary, and the refresh probability"


# --------------------------------------------------------------------------- 08.3 SWR windows

_SWR_ACTIONS = ("serve", "serve stale and refresh", "load", "serve stale (error)", "error")
"""What a stale-while-revalidate cache does with a read, by the age of its value."""


def check_swr_action(swr_action: Callable[..., Any]) -> str:
    """Exercise 08.3: ``swr_action(age_s, fresh_ttl, stale_ttl, error_ttl, database_up)``."""
    fresh, stale, error = 10.0, 60.0, 300.0
    cases = [
        (0.0, True, "serve", "a value younger than fresh_ttl is served", "fresh"),
        (9.99, False, "serve", "a fresh value is served even with the database down", "fresh"),
        (
            30.0,
            True,
            "serve stale and refresh",
            "inside the window: served at once while a refresh runs",
            "window",
        ),
        (
            30.0,
            False,
            "serve stale and refresh",
            "inside the window the read never waits, database up or down (the refresh will fail "
            "behind it)",
            "window",
        ),
        (
            10.0,
            True,
            "serve stale and refresh",
            "at fresh_ttl the value is stale: served at once, one refresh behind it",
            "fresh",
        ),
        (
            60.0,
            True,
            "load",
            "at stale_ttl a value is too old: the reader waits for a load",
            "hard",
        ),
        (120.0, True, "load", "past stale_ttl, with the database up: load", "hard"),
        (
            120.0,
            False,
            "serve stale (error)",
            "past stale_ttl with the database down: stale-if-error, up to error_ttl",
            "error",
        ),
        (
            299.9,
            False,
            "serve stale (error)",
            "just inside error_ttl, the stale value still answers an error",
            "error",
        ),
        (300.0, False, "error", "at error_ttl not even an error may be answered with it", "error"),
        (None, True, "load", "nothing cached (age None): load", "hard"),
        (None, False, "error", "nothing cached and the database down: the error", "error"),
    ]
    for age, up, expected, prop, topic in cases:
        where = (
            f"age={age}, fresh_ttl={fresh:g}, stale_ttl={stale:g}, error_ttl={error:g}, "
            f"database_up={up}"
        )
        got = _call(
            swr_action, age, fresh, stale, error, up, property_=f"{prop} [{where}]", topic=topic
        )
        _expect(got in _SWR_ACTIONS, f"returns one of {_SWR_ACTIONS} [{where}]", got, topic="fresh")
        _expect(got == expected, f"{prop} [{where}]", got, topic=topic)
    return f"{len(cases)} reads, at and around each window's edge, with the database up and down"


_EXERCISES = {"08.1": check_load_once, "08.2": check_xfetch_rule, "08.3": check_swr_action}

_HINTS = {
    "08.1": {
        "hit": (
            "Look in the cache first, in a way that tells a cached None from a miss: a cached "
            "None is a hit too.",
            "cache.get(key, default) returns your default on a miss: make the default a sentinel "
            "object of your own (object()), which no cached value can be.",
            "Compare what came back with your sentinel by identity (is), and return it at once "
            "when it is not the sentinel, before any lock.",
        ),
        "fill": (
            "The one that holds the lock loads, then stores the value and releases the lock.",
            "cache.set_and_release stores the value and removes the lock in one atomic step, "
            "given the lock's key and your token.",
            "After storing, return the value the loader gave you: the caller is waiting for it.",
        ),
        "one-load": (
            "Only one caller may load: the one that gets the lock. Everyone else waits for the "
            "value to appear in the cache.",
            "cache.add(keys.lock(key), token, lock_ttl) succeeds for one caller only, with a "
            "token of your own making (uuid.uuid4().hex): only that caller loads.",
            "Between your miss and your add, the holder may have stored the value and released "
            "the lock: after a successful add, look in the cache once more before loading.",
        ),
        "lock-ttl": (
            "A holder can crash mid-load. What frees its lock then?",
            "cache.add takes a TTL as its third argument: give the lock lock_ttl, and the cache "
            "removes it after that long.",
            "Take the lock before the loader runs, and return the loaded value even when the lock "
            "ran out meanwhile.",
        ),
        "token": (
            "Your lock may have expired while you loaded, and another request may hold it now. A "
            "plain delete or set would undo their work.",
            "cache.set_and_release and cache.delete_if_equal both compare the lock with your "
            "token first, and do nothing when another request holds it.",
            "Keep the token you took the lock with, and release only through those two calls, "
            "never with cache.delete or cache.set.",
        ),
        "error": (
            "If the loader raises, nobody will ever store a value under this lock; the others "
            "would wait until its TTL runs out.",
            "cache.delete_if_equal(keys.lock(key), token) releases your own lock and nobody "
            "else's.",
            "Wrap only the loader call in try, release the lock when it raises, and raise the "
            "error again so that it reaches the caller.",
        ),
        "timeout": (
            "A waiter must not wait forever, and must not go to the database either.",
            "time.monotonic() at the start plus wait_timeout is the moment to give up; compare "
            "with it on every round of the wait.",
            "When that moment has passed, raise TimeoutError instead of loading; and if the lock "
            "disappears while you wait (its holder failed), try cache.add again.",
        ),
    },
    "08.2": {
        "far": (
            "Far from expiry the look-ahead −Δ·β·ln(u) almost never reaches the expiry.",
            "The rule compares now plus a look-ahead with expires_at; the look-ahead is zero when "
            "Δ is zero, so a value that took no time to compute is never refreshed early.",
        ),
        "sign": (
            "ln(u) is negative for u < 1, so −Δ·β·ln(u) is a positive look-ahead added to now.",
            "Check the sign by hand: with u = 0.5, Δ = 1 and β = 1, the look-ahead is about +0.69 "
            "s, so now moves later, not earlier.",
            "Return the comparison itself, a bool: True when now plus the look-ahead has reached "
            "expires_at.",
        ),
        "log": (
            "XFetch uses the natural logarithm: −ln(u) for u uniform in (0, 1] is exponentially "
            "distributed with mean 1.",
            "Python's math.log(x) with one argument is the natural logarithm; math.log10 and "
            "math.log2 are other bases.",
        ),
        "beta": (
            "The look-ahead is Δ·β·(−ln u): both Δ and β scale it.",
            "Does your look-ahead use delta_s and beta, each once, multiplied together? Leaving "
            "either out breaks the cases where it is not 1.",
        ),
        "expired": (
            "At or past expiry the value must be reloaded whatever u says.",
            "−ln(u) ≥ 0, so the look-ahead is never negative: at now == expires_at the rule holds "
            "as long as the comparison includes equality (>=, not >).",
        ),
    },
    "08.3": {
        "fresh": (
            "Ages are counted from the load: below fresh_ttl the value is fresh, from fresh_ttl "
            "on it is stale (fresh_ttl itself is stale).",
            "Compare age_s with fresh_ttl using <, and return exactly one of the five strings the "
            "exercise lists, spelled as they are.",
        ),
        "window": (
            "Inside the window (fresh_ttl ≤ age < stale_ttl) a reader never waits: it gets the "
            "stale value at once, and one refresh runs in the background.",
            "In the window the answer does not depend on database_up: the refresh behind the read "
            "may fail, the read itself does not.",
            "Test the windows from the youngest to the oldest, so each test only has to compare "
            "age_s with one edge.",
        ),
        "hard": (
            "From stale_ttl on (and when nothing is cached) the value may not be served as a "
            "normal answer: the reader loads, and waits.",
            "Handle age_s is None before you compare it with anything: nothing cached means a "
            "load, like a value past stale_ttl.",
        ),
        "error": (
            "stale-if-error: when the load fails, a stale value younger than error_ttl may answer "
            "instead of the error; older than that, the error it is.",
            "This only matters when the reader would load and database_up is False; then compare "
            "age_s with error_ttl (strictly below it to serve).",
            "Nothing cached (age None) and the database down has no stale value to offer: that "
            "read is an error.",
        ),
    },
}
