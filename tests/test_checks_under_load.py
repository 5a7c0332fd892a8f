"""The checks of lesson 10 accept the reference solutions and reject plausible wrong answers.

Each wrong answer is a function named after its mistake, in a table with the hint topic and the
words the check's message must hold; the table's ids are those names.
"""

from __future__ import annotations

import math

import pytest
from support import assert_fails, load_solutions, wrong_answers

from cachelab import checks
from cachelab.checks.under_load import (
    check_cores_needed,
    check_oldest_page,
    check_sustained_rate,
)


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("10_under_load")


# --- exercise 1: the sustained rate -----------------------------------------------


def test_check_sustained_rate_accepts_the_reference_solution(solutions):
    assert "best throughput within the p95 budget" in check_sustained_rate(solutions.sustained_rate)


def takes_the_offered_rate_instead_of_the_throughput(runs, budget):
    good = [r.rate_per_s for r in runs if r.p95_s <= budget and r.error_fraction <= 0.01]
    return max(good, default=None)


def ignores_the_budget(runs, budget):
    return max((r.throughput_per_s for r in runs), default=None)


def compares_strictly_with_the_budget(runs, budget):
    good = [r.throughput_per_s for r in runs if r.p95_s < budget and r.error_fraction <= 0.01]
    return max(good, default=None)


def ignores_errors(runs, budget):
    return max((r.throughput_per_s for r in runs if r.p95_s <= budget), default=None)


def takes_the_last_run_within_budget(runs, budget):
    good = [r.throughput_per_s for r in runs if r.p95_s <= budget and r.error_fraction <= 0.01]
    return good[-1] if good else None


def returns_zero_for_nothing_sustained(runs, budget):
    good = [r.throughput_per_s for r in runs if r.p95_s <= budget and r.error_fraction <= 0.01]
    return max(good, default=0.0)


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (takes_the_offered_rate_instead_of_the_throughput, "throughput", "not the offered rate"),
        (ignores_the_budget, "budget", "missed the budget"),
        (compares_strictly_with_the_budget, "budget", "exactly the budget"),
        (ignores_errors, "errors", "more than 1 % errors"),
        (takes_the_last_run_within_budget, "best", "in any order"),
        (returns_zero_for_nothing_sustained, "none", "answer is None"),
    ),
)
def test_check_sustained_rate_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_sustained_rate, answer, topic=topic, match=match)


# --- exercise 2: cores needed ------------------------------------------------------


def test_check_cores_needed_accepts_the_reference_solution(solutions):
    assert "ceil(rate x service time / utilization)" in check_cores_needed(solutions.cores_needed)


def forgets_the_utilization(rate, service_time, utilization=0.7):
    return max(1, math.ceil(rate * service_time))


def rounds_to_nearest(rate, service_time, utilization=0.7):
    if rate < 0 or service_time < 0 or not 0 < utilization <= 1:
        raise ValueError("bad")
    return max(1, round(rate * service_time / utilization))


def zero_cores_for_no_traffic(rate, service_time, utilization=0.7):
    return math.ceil(rate * service_time / utilization)


def accepts_impossible_input(rate, service_time, utilization=0.7):
    return max(1, math.ceil(rate * service_time / max(utilization, 1e-9)))


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (forgets_the_utilization, "utilization", "70 % utilization"),
        (rounds_to_nearest, "ceil", "round up"),
        (zero_cores_for_no_traffic, "minimum", "still needs one"),
        (accepts_impossible_input, "refuse", "refused with ValueError"),
    ),
)
def test_check_cores_needed_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_cores_needed, answer, topic=topic, match=match)


# --- exercise 3: the oldest page ---------------------------------------------------


def test_check_oldest_page_accepts_the_reference_solution(solutions):
    assert "server TTL + max-age" in check_oldest_page(solutions.oldest_page_s)


def forgets_the_browsers_copy(ttl, max_age, deletes_on_write):
    return 0 if ttl is None or deletes_on_write else ttl


def delete_on_write_reaching_the_browser(ttl, max_age, deletes_on_write):
    if deletes_on_write:
        return 0
    return (ttl or 0) + max_age


def the_larger_of_the_two_instead_of_the_sum(ttl, max_age, deletes_on_write):
    return max(ttl or 0, max_age)


def crashes_without_a_server_cache(ttl, max_age, deletes_on_write):
    return max_age if deletes_on_write else ttl + max_age


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (forgets_the_browsers_copy, "add", "60 s"),
        (delete_on_write_reaching_the_browser, "delete", "delete-on-write"),
        (the_larger_of_the_two_instead_of_the_sum, "add", "60 s"),
        (crashes_without_a_server_cache, "none", "no server cache"),
    ),
)
def test_check_oldest_page_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_oldest_page, answer, topic=topic, match=match)


# --- the runner's verdicts for these checks ----------------------------------------


def test_a_stub_is_reported_as_not_attempted(capsys):
    def stub(runs, budget):
        raise NotImplementedError

    checks.run(check_sustained_rate, stub)
    assert "⏳" in capsys.readouterr().out
