"""The checks of lesson 02 accept the reference solutions and reject plausible wrong answers."""

from __future__ import annotations

import pytest
from support import assert_fails, load_solutions

from cachelab import checks
from cachelab.checks.repeated_work import check_db_cores_busy, check_percentile


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("02_repeated_work")


# --- exercise 1: percentile -------------------------------------------------


def test_check_percentile_accepts_the_reference_solution(solutions):
    assert "agrees with cachelab.lab.timing.percentile" in check_percentile(solutions.my_percentile)


def test_check_percentile_rejects_a_percentile_that_does_not_sort():
    def unsorted(samples, q):
        position = (len(samples) - 1) * q / 100
        return samples[round(position)]

    assert_fails(check_percentile, unsorted, topic="sort", match="sort the samples first")


def test_check_percentile_rejects_nearest_rank_that_overflows_at_q_100():
    def nearest_rank(samples, q):
        return sorted(samples)[int(len(samples) * q / 100)]

    assert_fails(
        check_percentile,
        nearest_rank,
        topic="ends",
        match="q=100 gives the largest sample.*IndexError",
    )


def test_check_percentile_rejects_a_percentile_without_interpolation():
    def rounded_rank(samples, q):
        ordered = sorted(samples)
        return ordered[round((len(ordered) - 1) * q / 100)]

    assert_fails(check_percentile, rounded_rank, topic="interpolate", match="interpolates linearly")


def test_check_percentile_rejects_sorting_the_callers_list_in_place(solutions):
    def sorts_in_place(samples, q):
        samples.sort()
        return solutions.my_percentile(samples, q)

    assert_fails(
        check_percentile, sorts_in_place, topic="copy", match="samples are left as they were"
    )


# --- exercise 2: database cores busy -------------------------------------------


def test_check_db_cores_busy_accepts_the_reference_solution(solutions):
    assert "requests/s × query seconds" in check_db_cores_busy(solutions.db_cores_busy)


def test_check_db_cores_busy_rejects_forgetting_that_query_ms_is_milliseconds():
    assert_fails(
        check_db_cores_busy,
        lambda requests_per_s, query_ms: requests_per_s * query_ms,
        topic="units",
        match="query_ms is in milliseconds.*2300",
    )


def test_check_db_cores_busy_rejects_dividing_instead_of_multiplying():
    assert_fails(
        check_db_cores_busy,
        lambda requests_per_s, query_ms: requests_per_s / max(query_ms, 1e-9) / 1000,
        topic="units",
        match="no traffic|milliseconds",
    )


def test_check_db_cores_busy_rejects_an_answer_that_accepts_negative_traffic():
    assert_fails(
        check_db_cores_busy,
        lambda requests_per_s, query_ms: requests_per_s * query_ms / 1000,
        topic="negative",
        match="negative input is refused with ValueError",
    )


# --- the runner's verdicts for these checks ---------------------------------------


def test_a_stub_is_reported_as_not_attempted(capsys):
    def stub(samples, q):
        raise NotImplementedError

    checks.run(check_percentile, stub)
    assert "⏳" in capsys.readouterr().out
