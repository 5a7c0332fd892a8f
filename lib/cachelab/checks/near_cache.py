"""Checks for lesson 11's exercises (a near cache the server keeps fresh): the guard against a
store after its invalidation, the flush on reconnect, and the safety-net TTL.

- ``check_fetch_guard(FetchGuard)``                11.1
- ``check_flush_on_reconnect(FlushOnReconnect)``   11.2
- ``check_safety_net_ttl(safety_net_ttl)``         11.3

Each check plays a known sequence of fetches, invalidations and reconnects on your code and
fails with a ❌ naming the first property that does not hold. Lessons call them by exercise id
(``checks.run("11.1", FetchGuard)``), so none is a public name of the library.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from cachelab.cache import MemoryCache
from cachelab.checks import _call, _CheckFailed, _expect

__all__: list[str] = []


def check_fetch_guard(guard_class: type) -> str:
    """``FetchGuard()``: ``start(key) -> mark``, ``invalidated(key)``, ``may_store(key, mark)``."""
    guard = _call(guard_class, property_="FetchGuard() takes no arguments", topic="marks")
    # (property, topic, key fetched, invalidated before its start, invalidated after, may store)
    cases = [
        ("a fetch with no invalidation in between may store its result",
         "marks", "a", None, None, True),
        ("a fetch whose key was invalidated after it started may NOT store (the race)",
         "voided", "a", None, "a", False),
        ("an invalidation of another key does not void this fetch",
         "per-key", "c", None, "d", True),
        ("an invalidation that came BEFORE a fetch started does not void it",
         "before", "a", "a", None, True),
    ]  # fmt: skip
    for prop, topic, key, before, after, may_store in cases:
        if before is not None:
            _call(guard.invalidated, before, property_=prop, topic=topic)
        mark = _call(guard.start, key, property_=prop, topic=topic)
        if after is not None:
            _call(guard.invalidated, after, property_=prop, topic=topic)
        got = _call(guard.may_store, key, mark, property_=prop, topic=topic)
        _expect(got is may_store, prop, topic=topic)

    prop = (
        "two fetches of one key: an invalidation between them voids the first only, and the "
        "second may still store"
    )
    first = _call(guard.start, "a", property_=prop, topic="overlap")
    _call(guard.invalidated, "a", property_=prop, topic="overlap")
    second = _call(guard.start, "a", property_=prop, topic="overlap")
    stores = (
        _call(guard.may_store, "a", second, property_=prop, topic="overlap"),
        _call(guard.may_store, "a", first, property_=prop, topic="overlap"),
    )
    _expect(stores == (True, False), prop, stores, topic="overlap")
    return "undisturbed fetches store, invalidated ones do not, per key, in order, overlapping"


def check_flush_on_reconnect(near_class: type) -> str:
    """``FlushOnReconnect(copies)`` with ``get(key, connection_id, fetch)``."""
    fetched: list[str] = []

    def fetch(key: str) -> str:
        fetched.append(key)
        return f"{key}@{len(fetched)}"

    near = _call(near_class, MemoryCache(), property_="FlushOnReconnect(copies)", topic="copy")
    prop = "on one connection, a second read of a key is served from the copy (no fetch)"
    first = _call(near.get, "a", 1, fetch, property_=prop, topic="copy")
    _expect(first == "a@1", "the first read returns what fetch(key) returned", first, topic="copy")
    again = _call(near.get, "a", 1, fetch, property_=prop, topic="copy")
    _expect(again == "a@1" and fetched == ["a"], prop, fetched, topic="copy")
    _call(near.get, "b", 1, fetch, property_=prop, topic="copy")

    prop = "after a reconnect (a new connection id) the key is fetched again, not served old"
    after = _call(near.get, "a", 2, fetch, property_=prop, topic="flush")
    _expect(after == "a@3", prop, after, topic="flush")
    prop = (
        "a reconnect drops EVERY copy made before it, not only the key being read: their "
        "invalidations were lost too"
    )
    other = _call(near.get, "b", 2, fetch, property_=prop, topic="all")
    _expect(other == "b@4", prop, other, topic="all")
    prop = "copies made on the new connection are kept: it is a reconnect only when the id changes"
    kept = _call(near.get, "a", 2, fetch, property_=prop, topic="remember")
    _expect(kept == "a@3" and len(fetched) == 4, prop, fetched, topic="remember")
    return "copies served on one connection; all dropped on a reconnect; kept on the new one"


def check_safety_net_ttl(safety_net_ttl: Callable[[float, float], float]) -> str:
    """``safety_net_ttl(staleness_budget_s, fetch_s)``: the longest TTL within the budget."""
    for budget, fetch in ((10.0, 0.5), (2.0, 0.002), (300.0, 1.0)):
        prop = (
            f"budget {budget:g} s, fetch {fetch:g} s: a copy whose invalidation was lost is "
            "stale for at most fetch + TTL, which must fit the budget"
        )
        ttl = _call(safety_net_ttl, budget, fetch, property_=prop, topic="sum")
        _expect(isinstance(ttl, (int, float)) and math.isfinite(ttl), prop, ttl, topic="sum")
        _expect(fetch + ttl <= budget + 1e-9, prop, ttl, topic="sum")
        prop = (
            f"budget {budget:g} s, fetch {fetch:g} s: the TTL is the LONGEST that fits (each "
            "second shaved off costs near hits)"
        )
        _expect(ttl >= budget - fetch - 1e-9, prop, ttl, topic="longest")
    for budget, fetch in ((0.5, 0.5), (0.1, 0.3)):
        prop = (
            f"budget {budget:g} s, fetch {fetch:g} s: no TTL can meet a budget no longer than "
            "a fetch; raise ValueError"
        )
        try:
            ttl: Any = safety_net_ttl(budget, fetch)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as error:
            raise _CheckFailed(
                f"{prop} (your code raised {type(error).__name__})", "impossible"
            ) from error
        _expect(False, prop, ttl, topic="impossible")
    return (
        "fetch + TTL fits the budget, the TTL is the longest that does, impossible budgets refused"
    )


_EXERCISES = {
    "11.1": check_fetch_guard,
    "11.2": check_flush_on_reconnect,
    "11.3": check_safety_net_ttl,
}

_HINTS = {
    "11.1": {
        "marks": (
            "start(key) hands out a mark (a number that never repeats); may_store(key, mark) "
            "says whether that fetch's result may go into the near tier.",
            "Keep, per key, the set of marks of fetches under way: start adds one, may_store "
            "looks it up.",
        ),
        "voided": (
            "An invalidation that arrives while a fetch is under way means the value it fetched "
            "may be old: that fetch must not store.",
            "invalidated(key) forgets every mark of that key; may_store finds its mark gone and "
            "says False.",
        ),
        "per-key": (
            "An invalidation names keys: only fetches of those keys are voided.",
            "Keep the marks in a dict of key -> set of marks, and drop only the invalidated key's "
            "entry.",
        ),
        "before": (
            "An invalidation voids fetches under way, not fetches still to come.",
            "A mark is handed out in start, after the invalidation: nothing should remember the "
            "invalidation itself, only which marks it removed.",
        ),
        "overlap": (
            "Two fetches of one key can be under way at once, started before and after an "
            "invalidation.",
            "Give each fetch its own mark (a counter), not one flag per key: the invalidation "
            "removes the first mark, the second is added afterwards.",
        ),
    },
    "11.2": {
        "copy": (
            "On one connection the server announces every change to a key you read: a copy is "
            "safe to serve until then.",
            "If the key is in copies, return it; else call fetch(key), store the result in "
            "copies and return it.",
        ),
        "flush": (
            "A new connection id means the old connection died, and with it whatever the server "
            "would have announced meanwhile.",
            "Remember the connection id you last saw; when get is called with another one, clear "
            "copies before anything else.",
        ),
        "all": (
            "The lost announcements could have been about any key, not only the one being read.",
            "copies.clear() drops every copy at once.",
        ),
        "remember": (
            "After a flush, remember the new connection id, or every read looks like a reconnect.",
            "Right after clearing, remember the new connection id as the one you last saw.",
        ),
    },
    "11.3": {
        "sum": (
            "Suppose every invalidation is lost: how long can a copy be served after the value "
            "changed on the server?",
            "The value can change just after Redis read it; the copy arrives up to fetch_s later "
            "and lives ttl more: stale for up to fetch_s + ttl.",
        ),
        "longest": (
            "A shorter TTL is safe but costs near hits: return the longest that fits.",
            "fetch_s + ttl <= budget, so the longest is budget - fetch_s.",
        ),
        "impossible": (
            "If the budget is no longer than one fetch, no TTL helps.",
            "When staleness_budget_s <= fetch_s, raise ValueError with a message saying why.",
        ),
    },
}
