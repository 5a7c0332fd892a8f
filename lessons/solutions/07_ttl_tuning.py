"""Reference solutions for lesson 07 · Tuning TTLs (for instructors).

One answer per exercise; ``tests/test_checks_ttl_tuning.py`` runs each through its
check. Learners: try the exercise first, and ask for hints (``checks.hint("07.1")``).
"""

from __future__ import annotations

from cachelab.checks.ttl_tuning import WORKLOADS
from cachelab.lab.sim import model


def longest_ttl_within(stale_budget: float, read_rate: float, write_rate: float) -> float:
    """Exercise 1: the longest TTL whose modelled stale fraction is at most ``stale_budget``.

    The stale fraction rises with the TTL, so bisect -- on a log scale, because
    the answer may be a tenth of a second or an hour.
    """
    low, high = 1e-3, 1e6  # seconds: the answer lies between
    for _ in range(100):
        middle = (low * high) ** 0.5
        if model(middle, read_rate, write_rate).stale_fraction <= stale_budget:
            low = middle
        else:
            high = middle
    return low


def pick_ttls() -> dict[str, float]:
    """Exercise 2: one TTL per data type within every budget.

    Give each data type the longest TTL its staleness budgets allow -- the
    longest within its stale fraction, capped at its maximum age (with a TTL
    alone, no stale value outlives its entry). That is also the TTL that loads
    the database least, so if this misses the load budget, nothing does.
    """
    return {
        name: min(longest_ttl_within(w.stale_budget, w.read_rate, w.write_rate), w.max_stale_age_s)
        for name, w in WORKLOADS.items()
    }
