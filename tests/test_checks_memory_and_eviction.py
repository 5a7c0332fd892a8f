"""The checks of lesson 13 accept the reference solutions and reject plausible wrong answers.

Each wrong answer is a function (or a value) named after its mistake, in a table with the hint
topic and the words the check's message must hold; the table's ids are those names.
"""

from __future__ import annotations

import secrets
import time

import numpy as np
import pytest
from support import assert_fails, load_solutions, wrong_answers

from cachelab.checks.memory_and_eviction import (
    _HINTS,
    check_memory_for_hit_ratio,
    check_next_version,
    check_policy_for_a_daily_crawl,
)


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("13_memory_and_eviction")


# --- exercise 1: memory for a target hit ratio ---------------------------------------


def test_check_memory_for_hit_ratio_accepts_the_reference_solution(solutions):
    assert "linear" in check_memory_for_hit_ratio(solutions.memory_for_hit_ratio)


def interp_without_bounds(sizes, hit_ratios, target):
    return float(np.interp(target, hit_ratios, sizes))


def rounds_up_to_a_measured_size(sizes, hit_ratios, target):
    if not hit_ratios[0] <= target <= hit_ratios[-1]:
        raise ValueError("outside")
    return next(s for s, h in zip(sizes, hit_ratios) if h >= target)


def swaps_the_axes(sizes, hit_ratios, target):
    if not hit_ratios[0] <= target <= hit_ratios[-1]:
        raise ValueError("outside")
    return float(np.interp(target, sizes, hit_ratios))


def scales_linearly_from_zero(sizes, hit_ratios, target):
    if not hit_ratios[0] <= target <= hit_ratios[-1]:
        raise ValueError("outside")
    return sizes[-1] * target / hit_ratios[-1]


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (interp_without_bounds, "outside", "outside the curve"),
        (rounds_up_to_a_measured_size, "between", "1.5 MB"),
        (swaps_the_axes, "measured", "60 % -> 2 MB"),
        (scales_linearly_from_zero, "measured", "60 % -> 2 MB"),
    ),
)
def test_check_memory_for_hit_ratio_rejects(answer, topic, match):
    assert_fails(check_memory_for_hit_ratio, answer, topic=topic, match=match)


# --- exercise 2: a policy for a daily crawl ------------------------------------------


def test_check_policy_accepts_the_reference_answer_and_volatile_lfu(solutions):
    assert "allkeys-lfu" in check_policy_for_a_daily_crawl(solutions.policy_for_a_daily_crawl)
    assert "volatile-lfu" in check_policy_for_a_daily_crawl(lambda: "volatile-lfu")


@pytest.mark.parametrize(
    "answer, topic, match",
    [
        pytest.param("allkeys-lru", "recency", "crawl push out", id="lru"),
        pytest.param("volatile-ttl", "recency", "oldest writes", id="volatile_ttl"),
        pytest.param("allkeys-random", "random", "random eviction", id="random"),
        pytest.param("noeviction", "noeviction", "refuses writes", id="noeviction"),
        pytest.param("lfu", "name", "as CONFIG SET spells it", id="a_name_redis_lacks"),
        pytest.param(3, "name", "as a string", id="not_a_string"),
    ],
)
def test_check_policy_rejects(answer, topic, match):
    assert_fails(check_policy_for_a_daily_crawl, lambda: answer, topic=topic, match=match)


# --- exercise 3: a version that never comes back -------------------------------------


def test_check_next_version_accepts_the_reference_solution_and_a_random_start(solutions):
    assert "stored + 1" in check_next_version(solutions.next_version)
    assert "stored + 1" in check_next_version(
        lambda stored: secrets.randbits(63) if stored is None else stored + 1
    )


def starts_at_one(stored):
    return 1 if stored is None else stored + 1


def starts_at_the_second(stored):
    return int(time.time()) if stored is None else stored + 1


def returns_a_string(stored):
    return "v1" if stored is None else stored + 1


def adds_two(stored):
    return time.time_ns() // 1000 if stored is None else stored + 2


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (starts_at_one, "restart", "none of the numbers handed out before"),
        (starts_at_the_second, "restart", "none of the numbers handed out before"),
        (returns_a_string, "start", "whole number"),
        (adds_two, "plus-one", r"stored \+ 1"),
    ),
)
def test_check_next_version_rejects(answer, topic, match):
    assert_fails(check_next_version, answer, topic=topic, match=match)


def test_every_topic_a_check_can_fail_on_has_hints():
    topics = {
        "13.1": {"measured", "between", "outside"},
        "13.2": {"name", "noeviction", "recency", "random"},
        "13.3": {"start", "plus-one", "restart"},
    }
    for exercise, needed in topics.items():
        assert needed <= set(_HINTS[exercise]), f"{exercise} lacks hints for some topics"
