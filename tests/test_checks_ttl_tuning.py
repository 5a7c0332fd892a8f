"""The TTL-tuning checks (lesson 07) pass the reference answers and fail plausible wrong ones,
naming the budget.

A check that accepted a wrong pick would teach the mistake; one that rejected a
right answer would teach nothing.
"""

from __future__ import annotations

from support import assert_fails, failure_of, load_solutions

from cachelab import checks
from cachelab.checks.ttl_tuning import (
    DB_LOAD_BUDGET,
    WORKLOADS,
    _check_ttl_choice,
    check_longest_ttl_within,
    check_per_data_ttls,
)
from cachelab.lab.sim import model

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

    assert_fails(
        check_longest_ttl_within,
        bisect_returning_high,
        topic="good-end",
        match="within the staleness budget",
    )


def test_longest_ttl_check_rejects_the_small_mu_t_rule_of_thumb():
    """Mistake: stale ≈ μT/2, so T = 2·budget/μ -- close, but short by up to a fifth when μT is not
    small.
    """
    assert_fails(
        check_longest_ttl_within,
        lambda stale_budget, read_rate, write_rate: 2 * stale_budget / write_rate,
        topic="precision",
        match="the longest within the budget",
    )


def test_longest_ttl_check_rejects_a_timid_ttl():
    """Mistake: a coarse scan of round TTLs (1, 2, 5, 10, ...) stays in budget but stops short."""

    def coarse_scan(stale_budget, read_rate, write_rate):
        best = 0.1
        for ttl in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
            if model(ttl, read_rate, write_rate).stale_fraction <= stale_budget:
                best = ttl
        return best

    assert_fails(
        check_longest_ttl_within,
        coarse_scan,
        topic="precision",
        match="the longest within the budget",
    )


def test_longest_ttl_check_rejects_a_non_number():
    assert_fails(
        check_longest_ttl_within,
        lambda budget, read_rate, write_rate: None,
        topic="search",
        match="returns a TTL > 0",
    )


# --- Exercise 2: one TTL per data type ---


def test_per_data_check_accepts_the_reference():
    verdict = check_per_data_ttls(solutions.pick_ttls)
    assert "every budget holds" in verdict


def test_the_reference_leaves_room_under_the_load_budget():
    ttls = solutions.pick_ttls()
    total = sum(
        model(ttls[n], w.read_rate, w.write_rate).db_loads_per_s for n, w in WORKLOADS.items()
    )
    assert total < 0.9 * DB_LOAD_BUDGET


def test_per_data_check_accepts_a_hand_picked_answer():
    assert "every budget holds" in _check_ttl_choice({"price": 10, "stock": 3, "trending": 60})


def test_one_long_ttl_for_everything_breaks_the_price_staleness_budget():
    assert_fails(
        _check_ttl_choice,
        {"price": 60, "stock": 60, "trending": 60},
        topic="fraction",
        match=r"price: staleness budget missed",
    )


def test_a_stock_ttl_as_long_as_the_price_one_breaks_the_stock_budget():
    assert_fails(
        _check_ttl_choice,
        {"price": 10, "stock": 10, "trending": 60},
        topic="fraction",
        match=r"stock: staleness budget missed",
    )


def test_one_short_ttl_for_everything_breaks_the_database_load_budget():
    assert_fails(
        _check_ttl_choice,
        {"price": 3, "stock": 3, "trending": 3},
        topic="load",
        match="database-load budget missed",
    )


def test_a_ttl_within_the_stale_fraction_but_past_the_age_budget_is_caught():
    """Mistake: budgets read as fractions only -- trending's 181 s is within 25 % stale, but older
    than
    120 s.
    """
    ttls = {
        name: solutions.longest_ttl_within(w.stale_budget, w.read_rate, w.write_rate)
        for name, w in WORKLOADS.items()
    }
    assert_fails(_check_ttl_choice, ttls, topic="age", match="trending: age budget missed")


def test_a_passing_verdict_shows_only_figures_that_agree_with_it():
    verdict = _check_ttl_choice(solutions.pick_ttls())
    assert "simulated" not in verdict
    for name in WORKLOADS:
        assert f"{name} " in verdict


def test_a_missing_data_type_is_named():
    assert_fails(
        _check_ttl_choice, {"price": 10, "stock": 3}, topic="shape", match="exactly the keys"
    )


def test_a_negative_ttl_is_named():
    assert_fails(
        _check_ttl_choice,
        {"price": 10, "stock": -3, "trending": 60},
        topic="shape",
        match="TTL of 'stock'",
    )


def test_no_single_ttl_meets_every_budget():
    """The exercise's premise: per-data TTLs are necessary."""
    for ttl in (0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300):
        failure_of(_check_ttl_choice, {name: ttl for name in WORKLOADS})


def test_the_stub_is_reported_as_not_attempted(capsys):
    def stub():
        raise NotImplementedError

    checks.run(check_per_data_ttls, stub)
    assert "⏳" in capsys.readouterr().out
