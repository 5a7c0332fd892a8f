"""The checks of lesson 02 accept the reference solutions and reject plausible wrong answers.

Each wrong answer is a function named after its mistake, in a table with the hint topic and the
words the check's message must hold; the table's ids are those names.
"""

from __future__ import annotations

import pytest
from support import assert_fails, load_solutions, wrong_answers

from cachelab import checks
from cachelab.checks.repeated_work import check_db_cores_busy, check_percentile

solutions = load_solutions("02_repeated_work")


# --- exercise 1: percentile -------------------------------------------------


def test_check_percentile_accepts_the_reference_solution():
    assert "agrees with cachelab.lab.timing.percentile" in check_percentile(solutions.my_percentile)


def does_not_sort(samples, q):
    position = (len(samples) - 1) * q / 100
    return samples[round(position)]


def nearest_rank_that_overflows_at_q_100(samples, q):
    return sorted(samples)[int(len(samples) * q / 100)]


def does_not_interpolate(samples, q):
    ordered = sorted(samples)
    return ordered[round((len(ordered) - 1) * q / 100)]


def sorts_the_callers_list_in_place(samples, q):
    samples.sort()
    return solutions.my_percentile(samples, q)


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (does_not_sort, "sort", "sort the samples first"),
        (
            nearest_rank_that_overflows_at_q_100,
            "ends",
            "q=100 gives the largest sample.*IndexError",
        ),
        (does_not_interpolate, "interpolate", "interpolates linearly"),
        (sorts_the_callers_list_in_place, "copy", "samples are left as they were"),
    ),
)
def test_check_percentile_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_percentile, answer, topic=topic, match=match)


# --- exercise 2: database cores busy -------------------------------------------


def test_check_db_cores_busy_accepts_the_reference_solution():
    assert "requests/s × query seconds" in check_db_cores_busy(solutions.db_cores_busy)


def forgets_that_query_ms_is_milliseconds(requests_per_s, query_ms):
    return requests_per_s * query_ms


def divides_instead_of_multiplying(requests_per_s, query_ms):
    return requests_per_s / max(query_ms, 1e-9) / 1000


def accepts_negative_traffic(requests_per_s, query_ms):
    return requests_per_s * query_ms / 1000


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (forgets_that_query_ms_is_milliseconds, "units", "query_ms is in milliseconds.*2300"),
        (divides_instead_of_multiplying, "units", "no traffic|milliseconds"),
        (accepts_negative_traffic, "negative", "negative input is refused with ValueError"),
    ),
)
def test_check_db_cores_busy_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_db_cores_busy, answer, topic=topic, match=match)


# --- the runner's verdicts for these checks ---------------------------------------


def test_a_stub_is_reported_as_not_attempted(capsys):
    def stub(samples, q):
        raise NotImplementedError

    checks.run(check_percentile, stub)
    assert "⏳" in capsys.readouterr().out
