"""Lesson 05's checks accept the reference solutions and reject plausible wrong answers, with the
right hint.

Each wrong answer is a function named after its mistake, in a table with the hint topic and the
words the check's message must hold; the table's ids are those names.
"""

from __future__ import annotations

import pytest
from support import assert_fails, load_solutions, wrong_answers

from cachelab.checks.stale_reads import check_stale_age, check_stale_fraction

lesson05 = load_solutions("05_stale_reads")


# --------------------------------------------------------------------------- 05 · stale_fraction


def test_stale_fraction_check_passes_the_reference():
    assert check_stale_fraction(lesson05.stale_fraction)


def crashes_on_an_empty_log(reads):
    return sum(r.served != r.truth for r in reads) / len(reads)


def returns_a_percentage(reads):
    return 100 * lesson05.stale_fraction(reads)


def compares_only_the_price(reads):
    if not reads:
        return 0.0
    return sum(r.served["price_cents"] != r.truth["price_cents"] for r in reads) / len(reads)


def divides_by_the_hits_only(reads):
    hits = [r for r in reads if not r.loaded]
    return sum(r.served != r.truth for r in hits) / len(hits) if hits else 0.0


def compares_identity(reads):
    return sum(r.served is not r.truth for r in reads) / len(reads) if reads else 0.0


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (crashes_on_an_empty_log, "empty", "no reads"),
        (returns_a_percentage, "divide", "not a percentage"),
        (compares_only_the_price, "compare", "ANY field"),
        (divides_by_the_hits_only, "divide", "all reads"),
        (compares_identity, "compare", "equal copy"),
    ),
)
def test_stale_fraction_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_stale_fraction, answer, topic=topic, match=match)


# --------------------------------------------------------------------------- 05 · stale_age


def test_stale_age_check_passes_the_reference():
    assert check_stale_age(lesson05.stale_age)


def measures_from_the_latest_write(read_time, served, history):
    known = [(t, v) for t, v in history if t <= read_time]
    return 0.0 if served == known[-1][1] else read_time - known[-1][0]


def looks_at_writes_after_the_read(read_time, served, history):
    if served == history[-1][1]:
        return 0.0
    for i in range(len(history) - 1, -1, -1):
        if history[i][1] == served:
            return read_time - history[i + 1][0]
    raise ValueError


def takes_the_first_time_a_value_was_true(read_time, served, history):
    known = [(t, v) for t, v in history if t <= read_time]
    if served == known[-1][1]:
        return 0.0
    first = next(i for i, (_, v) in enumerate(known) if v == served)
    return read_time - known[first + 1][0]


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (measures_from_the_latest_write, "replaced", "REPLACED"),
        (looks_at_writes_after_the_read, "future", "only writes up to the read's time"),
        (takes_the_first_time_a_value_was_true, "last-time", "LAST time"),
    ),
)
def test_stale_age_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_stale_age, answer, topic=topic, match=match)
