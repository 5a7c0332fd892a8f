"""The TTL-tuning checks (lesson 07) pass the reference answers and fail plausible wrong ones, naming the budget.

A check that accepted a wrong pick would teach the mistake; one that rejected a
right answer would teach nothing.
"""

from __future__ import annotations

import pytest

from cachelab import checks
from cachelab.checks import CheckFailed
from cachelab.checks.tuning import (
    DB_LOAD_BUDGET,
    WORKLOADS,
    check_longest_ttl_within,
    check_per_data_ttls,
    check_ttl_choice,
)
from cachelab.sim import model

from conftest import load_solutions

solutions = load_solutions("07_ttl_tuning")


# --- Exercise 1: the longest TTL within a staleness budget ---

def test_longest_ttl_check_accepts_the_reference():
    assert "longest TTLs found" in check_longest_ttl_within(solutions.longest_ttl_within)


def test_longest_ttl_check_rejects_a_ttl_over_the_budget():
    """Mistake: a bisection that returns the *upper* end, the first TTL known to be over budget."""
    def bisect_returning_high(stale_budget, read_rate, write_rate):
        low, high = 0.0, 10_000.0
        for _ in range(30):
            middle = (low + high) / 2
            if model(middle, read_rate, write_rate).stale_fraction <= stale_budget:
                low = middle
            else:
                high = middle
        return high

    with pytest.raises(CheckFailed, match="within the staleness budget"):
        check_longest_ttl_within(bisect_returning_high)


def test_longest_ttl_check_rejects_the_small_mu_t_rule_of_thumb():
    """Mistake: stale ≈ μT/2, so T = 2·budget/μ -- close, but short by up to a fifth when μT is not small."""
    with pytest.raises(CheckFailed, match="the longest within the budget"):
        check_longest_ttl_within(lambda stale_budget, read_rate, write_rate: 2 * stale_budget / write_rate)


def test_longest_ttl_check_rejects_a_timid_ttl():
    """Mistake: a coarse scan of round TTLs (1, 2, 5, 10, ...) stays in budget but stops short."""
    def coarse_scan(stale_budget, read_rate, write_rate):
        best = 0.1
        for ttl in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
            if model(ttl, read_rate, write_rate).stale_fraction <= stale_budget:
                best = ttl
        return best

    with pytest.raises(CheckFailed, match="the longest within the budget"):
        check_longest_ttl_within(coarse_scan)


def test_longest_ttl_check_rejects_a_non_number():
    with pytest.raises(CheckFailed, match="returns a TTL > 0"):
        check_longest_ttl_within(lambda budget, read_rate, write_rate: None)


# --- Exercise 2: one TTL per data type ---

def test_per_data_check_accepts_the_reference():
    verdict = check_per_data_ttls(solutions.pick_ttls)
    assert "every budget holds" in verdict


def test_the_reference_leaves_room_under_the_load_budget():
    ttls = solutions.pick_ttls()
    total = sum(model(ttls[n], w.read_rate, w.write_rate).db_loads_per_s for n, w in WORKLOADS.items())
    assert total < 0.9 * DB_LOAD_BUDGET


def test_per_data_check_accepts_a_hand_picked_answer():
    assert "every budget holds" in check_ttl_choice({"price": 10, "stock": 3, "trending": 60})


def test_one_long_ttl_for_everything_breaks_the_price_staleness_budget():
    with pytest.raises(CheckFailed, match=r"price: staleness budget violated"):
        check_ttl_choice({"price": 60, "stock": 60, "trending": 60})


def test_a_stock_ttl_as_long_as_the_price_one_breaks_the_stock_budget():
    with pytest.raises(CheckFailed, match=r"stock: staleness budget violated"):
        check_ttl_choice({"price": 10, "stock": 10, "trending": 60})


def test_one_short_ttl_for_everything_breaks_the_database_load_budget():
    with pytest.raises(CheckFailed, match="database-load budget violated"):
        check_ttl_choice({"price": 3, "stock": 3, "trending": 3})


def test_a_missing_data_type_is_named():
    with pytest.raises(CheckFailed, match="exactly the keys"):
        check_ttl_choice({"price": 10, "stock": 3})


def test_a_negative_ttl_is_named():
    with pytest.raises(CheckFailed, match="TTL of 'stock'"):
        check_ttl_choice({"price": 10, "stock": -3, "trending": 60})


def test_no_single_ttl_meets_every_budget():
    """The exercise's premise: per-data TTLs are necessary."""
    for ttl in (0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300):
        with pytest.raises(CheckFailed):
            check_ttl_choice({name: ttl for name in WORKLOADS})


def test_the_stub_is_reported_as_not_attempted(capsys):
    def stub():
        raise NotImplementedError

    checks.run(check_per_data_ttls, stub)
    assert "⏳" in capsys.readouterr().out
