"""Checks for lesson 07's exercises: choosing TTLs against staleness budgets and a database-load
budget.

- ``check_longest_ttl_within(longest_ttl_within)``   07.1
- ``check_per_data_ttls(pick_ttls)``                 07.2

Three kinds of data on the shop's pages change at very different speeds, and
tolerate staleness very differently: a wrong *price* at checkout is a complaint,
a *stock* figure a little behind is an annoyance, and nobody notices that the
*trending* list is a minute old. ``WORKLOADS`` gives each its read rate, write
rate and staleness budget -- as lesson 05 measured staleness, both a stale
*fraction* (how often) and a maximum *age* (how old) -- and ``DB_LOAD_BUDGET`` caps
the database loads of all three together. No single TTL meets every budget.

The verdicts use the closed-form ``cachelab.lab.sim.model`` (exact, no noise), whose
assumptions are lesson 07's: Poisson reads and writes, one key per data type, a
load that takes no time. Under them, with TTL-only caching, no read serves a value
that has been wrong for longer than the TTL, so the age budget holds exactly when
the TTL is at most the maximum age.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

from cachelab.checks import _call, _CheckFailed, _expect
from cachelab.lab.sim import model

__all__ = ["DB_LOAD_BUDGET", "WORKLOADS", "check_longest_ttl_within", "check_per_data_ttls"]


@dataclass(frozen=True)
class _Workload:
    """One kind of cached data: how often it is read and changed, and how much staleness it
    tolerates.
    """

    name: str
    read_rate: float  # reads per second of one cached item
    write_rate: float  # changes per second of that item in the database
    stale_budget: float  # the largest acceptable fraction of stale reads
    max_stale_age_s: float  # the oldest a stale read's value may be, in seconds
    why: str


WORKLOADS: dict[str, _Workload] = {
    w.name: w
    for w in (
        _Workload(
            "price",
            20.0,
            1 / 600,
            0.01,
            30.0,
            "a price changes every 10 minutes; a wrong price at checkout is costly",
        ),
        _Workload(
            "stock",
            20.0,
            1 / 30,
            0.05,
            10.0,
            "a hot product sells every 30 s; a stock figure may lag a little",
        ),
        _Workload(
            "trending",
            50.0,
            1 / 300,
            0.25,
            120.0,
            "the homepage list shifts every 5 minutes; a list up to 2 minutes old is fine",
        ),
    )
}
"""The three kinds of data of the exercise, by name."""

DB_LOAD_BUDGET = 0.5
"""Database loads per second the three caches may cause together."""


def _number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _check_ttl_choice(ttls: Mapping[str, float]) -> str:
    """Check a dict of TTLs (``{"price": ..., "stock": ..., "trending": ...}``) against every
    budget.

    Raises ``_CheckFailed`` naming the data type and the first budget it misses, and by how much.
    """
    _expect(
        isinstance(ttls, Mapping),
        "the answer is a dict {data type: TTL in seconds}",
        type(ttls).__name__,
        topic="shape",
    )
    _expect(
        set(ttls) == set(WORKLOADS),
        f"the dict has exactly the keys {sorted(WORKLOADS)}",
        sorted(ttls),
        topic="shape",
    )
    for name, ttl in ttls.items():
        _expect(_number(ttl), f"the TTL of {name!r} is a number of seconds > 0", ttl, topic="shape")
    outcomes = {name: model(ttls[name], w.read_rate, w.write_rate) for name, w in WORKLOADS.items()}
    for name, w in WORKLOADS.items():
        stale = outcomes[name].stale_fraction
        if stale > w.stale_budget:
            raise _CheckFailed(
                f"{name}: staleness budget missed -- with a TTL of {ttls[name]:g} s, {stale:.1%} "
                f"of reads are stale, over the budget of {w.stale_budget:.0%} (a shorter TTL is "
                "staler less often)",
                "fraction",
            )
        if ttls[name] > w.max_stale_age_s:
            raise _CheckFailed(
                f"{name}: age budget missed -- a TTL of {ttls[name]:g} s lets a stale read serve a "
                f"value up to {ttls[name]:g} s old, {ttls[name] - w.max_stale_age_s:g} s over the "
                f"budget of {w.max_stale_age_s:g} s",
                "age",
            )
    total = sum(o.db_loads_per_s for o in outcomes.values())
    if total > DB_LOAD_BUDGET:
        worst = max(outcomes, key=lambda n: outcomes[n].db_loads_per_s)
        raise _CheckFailed(
            f"database-load budget missed -- the three caches cause {total:.2f} loads/s, over the "
            f"budget of {DB_LOAD_BUDGET:g} loads/s; {worst!r} causes most "
            f"({outcomes[worst].db_loads_per_s:.2f}/s): lengthen the TTLs that have staleness to "
            "spare",
            "load",
        )
    return (
        "every budget holds, by the model: "
        + ", ".join(
            f"{n} {ttls[n]:g} s → {outcomes[n].stale_fraction:.1%} stale, none older than "
            f"{ttls[n]:g} s"
            for n in WORKLOADS
        )
        + f"; {total:.2f} database loads/s ≤ {DB_LOAD_BUDGET:g}"
    )


def check_per_data_ttls(pick_ttls: Callable[[], Mapping[str, float]]) -> str:
    """Exercise 07.2: ``pick_ttls()`` returns one TTL per data type that meets all the budgets."""
    return _check_ttl_choice(
        _call(pick_ttls, property_="pick_ttls() returns a dict of TTLs", topic="shape")
    )


_CASES = (  # (stale budget, read rate, write rate): a spread of rates and budgets
    (0.01, 20.0, 1 / 600),
    (0.05, 20.0, 1 / 30),
    (0.25, 50.0, 1 / 300),
    (0.10, 2.0, 0.5),
    (0.02, 0.5, 0.01),
)


def check_longest_ttl_within(longest_ttl_within: Callable[[float, float, float], float]) -> str:
    """Exercise 07.1: ``longest_ttl_within(stale_budget, read_rate, write_rate)`` finds the longest
    TTL whose modelled stale fraction stays within the budget (to within 5 %)."""
    found = []
    for budget, read_rate, write_rate in _CASES:
        where = f"(stale_budget={budget}, read_rate={read_rate:g}, write_rate={write_rate:.3g})"
        ttl = _call(
            longest_ttl_within,
            budget,
            read_rate,
            write_rate,
            property_=f"longest_ttl_within{where[1:-1]} returns a TTL",
            topic="search",
        )
        _expect(_number(ttl), f"returns a TTL > 0 seconds {where}", ttl, topic="search")
        stale = model(ttl, read_rate, write_rate).stale_fraction
        _expect(
            stale <= budget * (1 + 1e-6),
            f"the TTL stays within the staleness budget {where}: "
            f"TTL {ttl:g} s gives {stale:.2%} stale",
            None,
            topic="good-end",
        )
        longer = model(ttl * 1.05, read_rate, write_rate).stale_fraction
        _expect(
            longer > budget,
            f"the TTL is the longest within the budget (5 % longer must exceed it) {where}: "
            f"TTL {ttl * 1.05:g} s still gives only {longer:.2%} stale",
            None,
            topic="precision",
        )
        found.append(f"{ttl:.3g} s")
    return f"longest TTLs found for {len(_CASES)} workloads: {', '.join(found)}"


_EXERCISES = {
    "07.1": check_longest_ttl_within,
    "07.2": check_per_data_ttls,
}

_HINTS = {
    "07.1": {
        "search": (
            "The stale fraction only grows with the TTL, so you can search for the TTL where it "
            "reaches the budget: a TTL is good when model(ttl, read_rate, "
            "write_rate).stale_fraction <= stale_budget.",
            "Bisection finds such a boundary: keep one TTL known to be good and one known to be "
            "too stale, and try a TTL between them.",
            "Each round, the TTL you tried replaces whichever end it agrees with (good or too "
            "stale), so the two ends close in on the boundary.",
        ),
        "good-end": (
            "Your TTL is over the budget. When a search stops, which of its two ends is known to "
            "be good?",
            "The end that was always tested good is the one to return, never the too-stale end "
            "(nor their middle, untested).",
        ),
        "precision": (
            "Your TTL is within the budget but stops short of the longest one.",
            "The answer can be a tenth of a second or an hour: start with ends far apart (a "
            "millisecond and many days), and run enough rounds to close the gap.",
            "Halving the gap in seconds is slow over such a range: take the middle on a log scale "
            "(the geometric mean of the two ends).",
        ),
    },
    "07.2": {
        "shape": (
            "Return a dict with exactly the keys price, stock and trending, each a number of "
            "seconds > 0.",
            "The keys are the names in ttl_tuning.WORKLOADS, as strings; the values are plain "
            "numbers of seconds, not None nor a string.",
        ),
        "fraction": (
            "Start from the staleness budgets: each data type has a longest TTL it tolerates, and "
            "for price and stock these differ a lot (stock changes twenty times as often).",
            "Your exercise 1 finds exactly that TTL, given a type's stale_budget, read_rate and "
            "write_rate from ttl_tuning.WORKLOADS.",
        ),
        "age": (
            "The fraction is only half of a staleness budget: a stale read may also be no older "
            "than max_stale_age_s. With a TTL alone, how old can a stale value get?",
            "With TTL-only caching no stale value outlives its entry, so a stale read is at most "
            "one TTL old.",
            "Cap each type's TTL by its max_stale_age_s as well as by its stale fraction: the "
            "smaller of the two limits wins.",
        ),
        "load": (
            "Shorter TTLs mean more misses. The longest TTL within a type's staleness budgets is "
            "also the one that loads the database least.",
            "model(...).db_loads_per_s gives each type's database loads for a TTL: add them up "
            "for your three TTLs and compare with ttl_tuning.DB_LOAD_BUDGET.",
            "Give each type the longest TTL that both of its budgets allow, rather than a round "
            "number below it.",
        ),
    },
}
