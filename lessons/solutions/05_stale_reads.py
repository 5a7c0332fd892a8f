"""Reference solutions for lesson 05 · Stale reads (for instructors; learners: try first!)."""

from __future__ import annotations

from typing import Any, Sequence


def stale_fraction(reads: Sequence[Any]) -> float:
    """Exercise 1: the fraction of reads whose served row differs from the database's row."""
    if not reads:
        return 0.0
    stale = sum(1 for read in reads if read.served != read.truth)
    return stale / len(reads)


def stale_age(read_time: float, served: Any, history: Sequence[tuple[float, Any]]) -> float:
    """Exercise 2: how long ``served`` had been wrong at ``read_time`` (0.0 if it is the truth)."""
    known = [(t, value) for t, value in history if t <= read_time]
    if served == known[-1][1]:
        return 0.0
    # walk back to the last moment the served value was true; the next write replaced it
    for index in range(len(known) - 1, -1, -1):
        if known[index][1] == served:
            replaced_at = known[index + 1][0]
            return read_time - replaced_at
    raise ValueError(f"{served!r} was never the truth")
