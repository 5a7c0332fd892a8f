"""Reference solutions for lesson 13 · Memory and eviction (for instructors; learners: try
first!)."""

from __future__ import annotations

import time


def memory_for_hit_ratio(sizes: list[float], hit_ratios: list[float], target: float) -> float:
    """Exercise 1: the memory for ``target``, linear between the two measured points around it.

    A target outside the measured hit ratios is refused: the curve says nothing beyond its ends.
    """
    if not hit_ratios[0] <= target <= hit_ratios[-1]:
        raise ValueError(
            f"target {target} lies outside the measured hit ratios "
            f"{hit_ratios[0]}-{hit_ratios[-1]}: measure more sizes"
        )
    for (s0, h0), (s1, h1) in zip(zip(sizes, hit_ratios), zip(sizes[1:], hit_ratios[1:])):
        if h0 <= target <= h1:
            return s0 if h1 == h0 else s0 + (target - h0) / (h1 - h0) * (s1 - s0)
    return sizes[-1]


def policy_for_a_daily_crawl() -> str:
    """Exercise 2: a policy that counts reads keeps the popular pages through a crawl (every key
    has a TTL, so volatile-lfu would do as well)."""
    return "allkeys-lfu"


def next_version(stored: int | None) -> int:
    """Exercise 3: ``stored + 1``; a missing counter starts from the clock in microseconds, above
    every number a counter bumped less than a million times a second has handed out."""
    if stored is None:
        return time.time_ns() // 1000
    return stored + 1
