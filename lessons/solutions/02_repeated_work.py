"""Reference solutions for lesson 02 · The same work, over and over.

For instructors. Each function answers one exercise; the test suite runs the
lesson's checks against them.
"""

from __future__ import annotations


def my_percentile(samples: list[float], q: float) -> float:
    """Exercise 1: the q-th percentile (0–100) of ``samples``, interpolated between the nearest
    ranks.

    Sort a copy (never the caller's list), find the fractional position
    ``(n - 1) * q / 100`` and go that fraction of the way from the sample
    below to the sample above.
    """
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def db_cores_busy(requests_per_s: float, query_ms: float) -> float:
    """Exercise 2: how many CPU cores the database keeps busy serving ``requests_per_s``.

    Each request costs ``query_ms`` milliseconds of database work, so every second
    brings ``requests_per_s × query_ms / 1000`` seconds of work: that many cores
    are busy all the time. Above the machine's core count, requests queue.
    """
    if requests_per_s < 0 or query_ms < 0:
        raise ValueError(
            f"requests_per_s and query_ms must be >= 0, got requests_per_s={requests_per_s!r}, "
            f"query_ms={query_ms!r}"
        )
    return requests_per_s * query_ms / 1000
