"""Checks for lesson 07's exercises: choosing TTLs against a staleness and a database-load budget.

Three kinds of data on the shop's pages change at very different speeds, and
tolerate staleness very differently: a wrong *price* at checkout is a complaint,
a *stock* figure a little behind is an annoyance, and nobody notices that the
*trending* list is a minute old. ``WORKLOADS`` gives each its read rate, write
rate and staleness budget; ``DB_LOAD_BUDGET`` caps the database loads of all
three together. No single TTL meets every budget -- that is the point.

The verdicts use the closed-form ``cachelab.sim.model`` (exact, no noise); a
passing answer is then confirmed by simulating the real cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

from cachelab.checks import CheckFailed, expect
from cachelab.sim import model, simulate


@dataclass(frozen=True)
class Workload:
    """One kind of cached data: how often it is read and changed, and how much staleness it tolerates."""

    name: str
    read_rate: float  # reads per second of one cached item
    write_rate: float  # changes per second of that item in the database
    stale_budget: float  # the largest acceptable fraction of stale reads
    why: str


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("price", 20.0, 1 / 600, 0.01, "a price changes every 10 minutes; a wrong price at checkout is costly"),
        Workload("stock", 20.0, 1 / 30, 0.05, "a hot product sells every 30 s; a stock figure may lag a little"),
        Workload("trending", 50.0, 1 / 300, 0.25, "the homepage list shifts every 5 minutes; minutes-old is fine"),
    )
}
"""The three kinds of data of the exercise, by name."""

DB_LOAD_BUDGET = 0.5
"""Database loads per second the three caches may cause together."""


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def check_ttl_choice(ttls: Mapping[str, float]) -> str:
    """Check a dict of TTLs (``{"price": ..., "stock": ..., "trending": ...}``) against every budget.

    Raises ``CheckFailed`` naming the first budget that is violated.
    """
    expect(isinstance(ttls, Mapping), "the answer is a dict {data type: TTL in seconds}", type(ttls).__name__)
    expect(set(ttls) == set(WORKLOADS), f"the dict has exactly the keys {sorted(WORKLOADS)}", sorted(ttls))
    for name, ttl in ttls.items():
        expect(_number(ttl), f"the TTL of {name!r} is a number of seconds > 0", ttl)
    outcomes = {name: model(ttls[name], w.read_rate, w.write_rate) for name, w in WORKLOADS.items()}
    for name, w in WORKLOADS.items():
        stale = outcomes[name].stale_fraction
        if stale > w.stale_budget:
            raise CheckFailed(
                f"{name}: staleness budget violated -- with a TTL of {ttls[name]:g} s, {stale:.1%} of reads are "
                f"stale, over the budget of {w.stale_budget:.0%} (a shorter TTL is staler less often)"
            )
    total = sum(o.db_loads_per_s for o in outcomes.values())
    if total > DB_LOAD_BUDGET:
        worst = max(outcomes, key=lambda n: outcomes[n].db_loads_per_s)
        raise CheckFailed(
            f"database-load budget violated -- the three caches cause {total:.2f} loads/s, over the budget of "
            f"{DB_LOAD_BUDGET:g} loads/s; {worst!r} causes most ({outcomes[worst].db_loads_per_s:.2f}/s): "
            f"lengthen the TTLs that have staleness to spare"
        )
    # Confirm with the real cache: the model is what the simulation converges to.
    simulated = {
        name: simulate(ttls[name], w.read_rate, w.write_rate, duration=min(1_000 * (ttls[name] + 1 / w.read_rate), 100_000 / w.read_rate), seed=1)
        for name, w in WORKLOADS.items()
    }
    return (
        "every budget holds: "
        + ", ".join(f"{n} {ttls[n]:g} s → {outcomes[n].stale_fraction:.1%} stale (simulated {simulated[n].stale_fraction:.1%})"
                    for n in WORKLOADS)
        + f"; {total:.2f} database loads/s ≤ {DB_LOAD_BUDGET:g}"
    )


def check_per_data_ttls(pick_ttls: Callable[[], Mapping[str, float]]) -> str:
    """Exercise 2: ``pick_ttls()`` returns one TTL per data type that meets all the budgets."""
    return check_ttl_choice(pick_ttls())


CASES = (  # (stale budget, read rate, write rate): a spread of rates and budgets
    (0.01, 20.0, 1 / 600),
    (0.05, 20.0, 1 / 30),
    (0.25, 50.0, 1 / 300),
    (0.10, 2.0, 0.5),
    (0.02, 0.5, 0.01),
)


def check_longest_ttl_within(longest_ttl_within: Callable[[float, float, float], float]) -> str:
    """Exercise 1: ``longest_ttl_within(stale_budget, read_rate, write_rate)`` finds the longest TTL
    whose modelled stale fraction stays within the budget (to within 5 %)."""
    found = []
    for budget, read_rate, write_rate in CASES:
        where = f"(stale_budget={budget}, read_rate={read_rate:g}, write_rate={write_rate:.3g})"
        ttl = longest_ttl_within(budget, read_rate, write_rate)
        expect(_number(ttl), f"returns a TTL > 0 seconds {where}", ttl)
        stale = model(ttl, read_rate, write_rate).stale_fraction
        expect(stale <= budget * (1 + 1e-6), f"the TTL stays within the staleness budget {where}: "
                                             f"TTL {ttl:g} s gives {stale:.2%} stale", None)
        longer = model(ttl * 1.05, read_rate, write_rate).stale_fraction
        expect(longer > budget, f"the TTL is the longest within the budget (5 % longer must exceed it) {where}: "
                                f"TTL {ttl * 1.05:g} s still gives only {longer:.2%} stale", None)
        found.append(f"{ttl:.3g} s")
    return f"longest TTLs found for {len(CASES)} workloads: {', '.join(found)}"
