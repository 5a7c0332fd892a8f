"""Lesson 05's checks accept the reference solutions and reject plausible wrong answers, with the
right
hint.
"""

from __future__ import annotations

from support import assert_fails, load_solutions

from cachelab.checks.stale_reads import check_stale_age, check_stale_fraction

lesson05 = load_solutions("05_stale_reads")


# --------------------------------------------------------------------------- 05 · stale_fraction


def test_stale_fraction_check_passes_the_reference():
    assert check_stale_fraction(lesson05.stale_fraction)


def test_stale_fraction_check_rejects_a_crash_on_an_empty_log():
    def wrong(reads):
        return sum(r.served != r.truth for r in reads) / len(reads)

    assert_fails(check_stale_fraction, wrong, topic="empty", match="no reads")


def test_stale_fraction_check_rejects_a_percentage():
    def wrong(reads):
        return 100 * lesson05.stale_fraction(reads)

    assert_fails(check_stale_fraction, wrong, topic="divide", match="not a percentage")


def test_stale_fraction_check_rejects_comparing_only_the_price():
    def wrong(reads):
        if not reads:
            return 0.0
        return sum(r.served["price_cents"] != r.truth["price_cents"] for r in reads) / len(reads)

    assert_fails(check_stale_fraction, wrong, topic="compare", match="ANY field")


def test_stale_fraction_check_rejects_dividing_by_the_hits_only():
    def wrong(reads):
        hits = [r for r in reads if not r.loaded]
        return sum(r.served != r.truth for r in hits) / len(hits) if hits else 0.0

    assert_fails(check_stale_fraction, wrong, topic="divide", match="all reads")


def test_stale_fraction_check_rejects_comparing_identity():
    def wrong(reads):
        return sum(r.served is not r.truth for r in reads) / len(reads) if reads else 0.0

    assert_fails(check_stale_fraction, wrong, topic="compare", match="equal copy")


# --------------------------------------------------------------------------- 05 · stale_age


def test_stale_age_check_passes_the_reference():
    assert check_stale_age(lesson05.stale_age)


def test_stale_age_check_rejects_measuring_from_the_latest_write():
    def wrong(read_time, served, history):
        known = [(t, v) for t, v in history if t <= read_time]
        return 0.0 if served == known[-1][1] else read_time - known[-1][0]

    assert_fails(check_stale_age, wrong, topic="replaced", match="REPLACED")


def test_stale_age_check_rejects_looking_at_writes_after_the_read():
    def wrong(read_time, served, history):
        if served == history[-1][1]:
            return 0.0
        for i in range(len(history) - 1, -1, -1):
            if history[i][1] == served:
                return read_time - history[i + 1][0]
        raise ValueError

    assert_fails(check_stale_age, wrong, topic="future", match="only writes up to the read's time")


def test_stale_age_check_rejects_the_first_time_a_value_was_true():
    def wrong(read_time, served, history):
        known = [(t, v) for t, v in history if t <= read_time]
        if served == known[-1][1]:
            return 0.0
        first = next(i for i, (_, v) in enumerate(known) if v == served)
        return read_time - known[first + 1][0]

    assert_fails(check_stale_age, wrong, topic="last-time", match="LAST time")
