"""Checks for lesson 05's exercises (stale reads): counting stale reads, and how old they were.

- ``check_stale_fraction(stale_fraction)``   05.1
- ``check_stale_age(stale_age)``             05.2

Each check calls your function on small, known cases and fails with a ❌ naming the first
property that does not hold.
"""

from __future__ import annotations

from typing import Any, Callable

from cachelab.checks import _call, _expect
from cachelab.lab.staleness import Read

__all__ = ["check_stale_age", "check_stale_fraction"]


def _read(t: float, served: dict, truth: dict, loaded: bool = False) -> Read:
    return Read(t=t, product_id=1, served=served, truth=truth, loaded=loaded, stale_age_s=0.0)


def check_stale_fraction(stale_fraction: Callable[[list[Read]], float]) -> str:
    """``stale_fraction(reads)``: the fraction of reads whose served row differs from the
    database's.
    """
    row = {"id": 1, "price_cents": 1299, "stock": 5}
    new_price = {**row, "price_cents": 999}
    sold_out = {**row, "stock": 0}

    prop = "no reads → 0.0 (there is nothing stale to count, and no error)"
    result = _call(stale_fraction, [], property_=prop, topic="empty")
    _expect(result == 0.0, prop, result, topic="empty")

    fresh = [_read(t, dict(row), dict(row), loaded=(t == 0)) for t in range(4)]
    prop = "a read that served an equal copy of the database's row is fresh (compare values)"
    result = _call(stale_fraction, fresh, property_=prop, topic="compare")
    _expect(result == 0.0, prop, result, topic="compare")

    one_in_four = [
        _read(0, row, row, True),
        _read(1, row, row),
        _read(2, row, new_price),
        _read(3, new_price, new_price, True),
    ]
    prop = "1 stale read out of 4 → 0.25 (divide by all reads: hits and misses)"
    result = _call(stale_fraction, one_in_four, property_=prop, topic="divide")
    _expect(
        result != 25, "returns a fraction between 0 and 1, not a percentage", result, topic="divide"
    )
    _expect(isinstance(result, float) and abs(result - 0.25) < 1e-9, prop, result, topic="divide")

    sale = [
        _read(0, row, row, True),
        _read(1, row, sold_out),
        _read(2, row, sold_out),
        _read(3, row, sold_out),
    ]
    prop = "a read is stale when ANY field differs -- a sale changes the stock, not the price"
    result = _call(stale_fraction, sale, property_=prop, topic="compare")
    _expect(isinstance(result, float) and abs(result - 0.75) < 1e-9, prop, result, topic="compare")
    return "empty log, equal copies, hits and misses, price and stock changes"


def check_stale_age(stale_age: Callable[[float, Any, list[tuple[float, Any]]], float]) -> str:
    """``stale_age(read_time, served, history)``: how long the served value had been wrong."""
    history = [(0.0, "a"), (10.0, "b"), (14.0, "c")]
    cases = [
        ((20.0, "c", history), 0.0, "serving the current value → age 0.0", "fresh"),
        ((12.0, "a", history), 2.0, "served 'a' at t=12, replaced at t=10 → 2.0", "replaced"),
        (
            (20.0, "a", history),
            10.0,
            "the age runs from the write that REPLACED the served value (t=10), not from the "
            "latest write (t=14)",
            "replaced",
        ),
        (
            (20.0, "b", history),
            6.0,
            "served 'b' (true from t=10 to t=14) at t=20 → 6.0",
            "replaced",
        ),
        (
            (12.0, "b", history),
            0.0,
            "only writes up to the read's time count: at t=12 'b' is still the truth",
            "future",
        ),
        (
            (25.0, "a", [(0.0, "a"), (10.0, "b"), (20.0, "a")]),
            0.0,
            "a value that became true again (a → b → a) is fresh",
            "fresh",
        ),
        (
            (25.0, "b", [(0.0, "a"), (10.0, "b"), (20.0, "a")]),
            5.0,
            "served 'b' in a → b → a: wrong since t=20 → 5.0",
            "last-time",
        ),
        (
            (40.0, "a", [(0.0, "a"), (10.0, "b"), (20.0, "a"), (30.0, "c")]),
            10.0,
            "in a → b → a → c, 'a' was last true until t=30: count from the LAST time it was "
            "replaced → 10.0",
            "last-time",
        ),
    ]
    for args, wanted, property_, topic in cases:
        result = _call(stale_age, *args, property_=property_, topic=topic)
        _expect(
            isinstance(result, (int, float)) and abs(result - wanted) < 1e-9,
            property_,
            result,
            topic=topic,
        )
    return "fresh reads, one and several writes, future writes ignored, values that come back"


_EXERCISES = {"05.1": check_stale_fraction, "05.2": check_stale_age}

_HINTS = {
    "05.1": {
        "empty": (
            "With no reads there is nothing to divide by: decide what an empty list gives before "
            "anything else.",
            "The exercise says what no reads give: 0.0. Check for an empty list at the top, "
            "before you divide.",
        ),
        "compare": (
            "A read is stale when what it served differs from the database's row at that moment: "
            "compare the whole rows, by value.",
            "== and != compare rows by value, field by field; is and is not ask whether two "
            "objects are the same one, and two equal copies are not.",
            "Compare each read's .served with its .truth, the whole row, whether the read was a "
            "hit or a miss.",
        ),
        "divide": (
            "The fraction is stale reads divided by ALL reads, hits and misses alike, between 0 "
            "and 1.",
            "Count the stale reads, then divide by len(reads), the number of all reads.",
            "A fraction, not a percentage: 3 stale reads out of 12 is 0.25.",
        ),
    },
    "05.2": {
        "fresh": (
            "If the served value is the truth at read_time, its age is 0.0.",
            "The truth at read_time is the value of the last history entry whose time is <= "
            "read_time.",
        ),
        "future": (
            "Writes after read_time have not happened yet at the moment of the read: ignore them.",
            "Keep only the history entries whose time is <= read_time (a list comprehension does "
            "it), and work with those alone.",
        ),
        "replaced": (
            "The age is how long the served value had been wrong: from the write that replaced "
            "it, not from the latest write.",
            "Find the entry where the served value was true; the entry right after it is the "
            "write that replaced it.",
            "The age is read_time minus the time of that replacing entry, not of the last entry.",
        ),
        "last-time": (
            "A value can be the truth more than once (a price that goes back). Which time it was "
            "true counts?",
            "The served value was stored the last time it was the truth: search the past entries "
            "from the newest backwards for it.",
            "Once you find the newest entry holding the served value, the age counts from the "
            "entry that follows it.",
        ),
    },
}
