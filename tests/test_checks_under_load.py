"""The checks of lesson 10 accept the reference solutions and reject plausible wrong answers."""

from __future__ import annotations

import math

import pytest
from support import assert_fails, load_solutions

from cachelab import checks
from cachelab.checks.under_load import (
    check_oldest_page,
    check_sustained_rate,
    check_cores_needed,
)


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("10_under_load")


# --- exercise 1: the sustained rate -----------------------------------------------


def test_check_sustained_rate_accepts_the_reference_solution(solutions):
    assert "best throughput within the p95 budget" in check_sustained_rate(solutions.sustained_rate)


def test_check_sustained_rate_rejects_the_offered_rate_instead_of_the_throughput():
    def offered(runs, budget):
        good = [r.rate_per_s for r in runs if r.p95_s <= budget and r.error_fraction <= 0.01]
        return max(good, default=None)

    assert_fails(check_sustained_rate, offered, topic="throughput", match="not the offered rate")


def test_check_sustained_rate_rejects_ignoring_the_budget():
    def fastest(runs, budget):
        return max((r.throughput_per_s for r in runs), default=None)

    assert_fails(check_sustained_rate, fastest, topic="budget", match="missed the budget")


def test_check_sustained_rate_rejects_a_strict_comparison_with_the_budget():
    def strict(runs, budget):
        good = [r.throughput_per_s for r in runs if r.p95_s < budget and r.error_fraction <= 0.01]
        return max(good, default=None)

    assert_fails(check_sustained_rate, strict, topic="budget", match="exactly the budget")


def test_check_sustained_rate_rejects_ignoring_errors():
    def no_errors_bar(runs, budget):
        return max((r.throughput_per_s for r in runs if r.p95_s <= budget), default=None)

    assert_fails(check_sustained_rate, no_errors_bar, topic="errors", match="more than 1 % errors")


def test_check_sustained_rate_rejects_the_last_run_within_budget():
    def last(runs, budget):
        good = [r.throughput_per_s for r in runs if r.p95_s <= budget and r.error_fraction <= 0.01]
        return good[-1] if good else None

    assert_fails(check_sustained_rate, last, topic="best", match="in any order")


def test_check_sustained_rate_rejects_zero_for_nothing_sustained():
    def zero(runs, budget):
        good = [r.throughput_per_s for r in runs if r.p95_s <= budget and r.error_fraction <= 0.01]
        return max(good, default=0.0)

    assert_fails(check_sustained_rate, zero, topic="none", match="answer is None")


# --- exercise 2: workers needed ----------------------------------------------------


def test_check_workers_needed_accepts_the_reference_solution(solutions):
    assert "ceil(rate x service time / utilization)" in check_cores_needed(
        solutions.cores_needed
    )


def test_check_workers_needed_rejects_forgetting_the_utilization():
    def busy_only(rate, service_time, utilization=0.7):
        return max(1, math.ceil(rate * service_time))

    assert_fails(check_cores_needed, busy_only, topic="utilization", match="70 % utilization")


def test_check_workers_needed_rejects_rounding_to_nearest():
    def rounded(rate, service_time, utilization=0.7):
        if rate < 0 or service_time < 0 or not 0 < utilization <= 1:
            raise ValueError("bad")
        return max(1, round(rate * service_time / utilization))

    assert_fails(check_cores_needed, rounded, topic="ceil", match="round up")


def test_check_workers_needed_rejects_zero_workers_for_no_traffic():
    def no_minimum(rate, service_time, utilization=0.7):
        return math.ceil(rate * service_time / utilization)

    assert_fails(check_cores_needed, no_minimum, topic="minimum", match="still needs one")


def test_check_workers_needed_rejects_an_answer_that_accepts_impossible_input(solutions):
    def unchecked(rate, service_time, utilization=0.7):
        return max(1, math.ceil(rate * service_time / max(utilization, 1e-9)))

    assert_fails(check_cores_needed, unchecked, topic="refuse", match="refused with ValueError")


# --- exercise 3: the oldest page ---------------------------------------------------


def test_check_oldest_page_accepts_the_reference_solution(solutions):
    assert "server TTL + max-age" in check_oldest_page(solutions.oldest_page_s)


def test_check_oldest_page_rejects_forgetting_the_browsers_copy():
    def server_only(ttl, max_age, deletes_on_write):
        return 0 if ttl is None or deletes_on_write else ttl

    assert_fails(check_oldest_page, server_only, topic="add", match="60 s")


def test_check_oldest_page_rejects_delete_on_write_reaching_the_browser():
    def deletes_everywhere(ttl, max_age, deletes_on_write):
        if deletes_on_write:
            return 0
        return (ttl or 0) + max_age

    assert_fails(check_oldest_page, deletes_everywhere, topic="delete", match="delete-on-write")


def test_check_oldest_page_rejects_the_larger_of_the_two_instead_of_the_sum():
    def larger(ttl, max_age, deletes_on_write):
        return max(ttl or 0, max_age)

    assert_fails(check_oldest_page, larger, topic="add", match="60 s")


def test_check_oldest_page_rejects_an_answer_that_crashes_without_a_server_cache():
    def no_none(ttl, max_age, deletes_on_write):
        return max_age if deletes_on_write else ttl + max_age

    assert_fails(check_oldest_page, no_none, topic="none", match="no server cache")


# --- the runner's verdicts for these checks ----------------------------------------


def test_a_stub_is_reported_as_not_attempted(capsys):
    def stub(runs, budget):
        raise NotImplementedError

    checks.run(check_sustained_rate, stub)
    assert "⏳" in capsys.readouterr().out
