"""The TTL-tuning checks (lesson 07) pass the reference answers and fail plausible wrong ones,
naming the budget.

A check that accepted a wrong pick would teach the mistake; one that rejected a right answer
would teach nothing. The wrong answers and picks are tables whose ids name the mistake.
"""

from __future__ import annotations

import pytest
from support import assert_fails, failure_of, load_solutions, wrong_answers

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


def bisect_returning_high(stale_budget, read_rate, write_rate):
    """A bisection that returns the *upper* end, the first TTL known to be over budget."""
    low, high = 0.0, 10_000.0
    for _ in range(30):
        middle = (low + high) / 2
        if model(middle, read_rate, write_rate).stale_fraction <= stale_budget:
            low = middle
        else:
            high = middle
    return high


def small_mu_t_rule_of_thumb(stale_budget, read_rate, write_rate):
    """stale ≈ μT/2, so T = 2·budget/μ: close, but short by up to a fifth when μT is not small."""
    return 2 * stale_budget / write_rate


def coarse_scan(stale_budget, read_rate, write_rate):
    """A scan of round TTLs (1, 2, 5, 10, ...): stays in budget but stops short."""
    best = 0.1
    for ttl in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if model(ttl, read_rate, write_rate).stale_fraction <= stale_budget:
            best = ttl
    return best


def returns_a_non_number(stale_budget, read_rate, write_rate):
    return None


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (bisect_returning_high, "good-end", "within the staleness budget"),
        (small_mu_t_rule_of_thumb, "precision", "the longest within the budget"),
        (coarse_scan, "precision", "the longest within the budget"),
        (returns_a_non_number, "search", "returns a TTL > 0"),
    ),
)
def test_longest_ttl_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_longest_ttl_within, answer, topic=topic, match=match)


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


def test_a_passing_verdict_shows_only_figures_that_agree_with_it():
    verdict = _check_ttl_choice(solutions.pick_ttls())
    assert "simulated" not in verdict
    for name in WORKLOADS:
        assert f"{name} " in verdict


def _longest_within_each_budgets_fraction() -> dict:
    """Budgets read as fractions only: trending's 181 s is within 25 % stale, but older than
    120 s.
    """
    return {
        name: solutions.longest_ttl_within(w.stale_budget, w.read_rate, w.write_rate)
        for name, w in WORKLOADS.items()
    }


@pytest.mark.parametrize(
    "ttls, topic, match",
    [
        pytest.param(
            {"price": 60, "stock": 60, "trending": 60},
            "fraction",
            r"price: staleness budget missed",
            id="one_long_ttl_for_everything",
        ),
        pytest.param(
            {"price": 10, "stock": 10, "trending": 60},
            "fraction",
            r"stock: staleness budget missed",
            id="a_stock_ttl_as_long_as_the_price_one",
        ),
        pytest.param(
            {"price": 3, "stock": 3, "trending": 3},
            "load",
            "database-load budget missed",
            id="one_short_ttl_for_everything",
        ),
        pytest.param(
            _longest_within_each_budgets_fraction(),
            "age",
            "trending: age budget missed",
            id="within_the_stale_fraction_but_past_the_age_budget",
        ),
        pytest.param(
            {"price": 10, "stock": 3}, "shape", "exactly the keys", id="a_missing_data_type"
        ),
        pytest.param(
            {"price": 10, "stock": -3, "trending": 60},
            "shape",
            "TTL of 'stock'",
            id="a_negative_ttl",
        ),
    ],
)
def test_per_data_check_rejects_a_wrong_choice(ttls, topic, match):
    assert_fails(_check_ttl_choice, ttls, topic=topic, match=match)


@pytest.mark.parametrize(
    "ttl", [0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300], ids=lambda ttl: f"{ttl}_s_for_everything"
)
def test_no_single_ttl_meets_every_budget(ttl):
    """The exercise's premise: per-data TTLs are necessary."""
    failure_of(_check_ttl_choice, {name: ttl for name in WORKLOADS})


def test_the_stub_is_reported_as_not_attempted(capsys):
    def stub():
        raise NotImplementedError

    checks.run(check_per_data_ttls, stub)
    assert "⏳" in capsys.readouterr().out
