"""Checks for lesson 13's exercises: sizing from a measured curve, a policy for a daily crawl, and a
version that never comes back.

- ``check_memory_for_hit_ratio`` (13.1): your ``memory_for_hit_ratio(sizes, hit_ratios, target)``
  interpolates the memory for a target hit ratio on a measured curve, and refuses a target
  outside it.
- ``check_policy_for_a_daily_crawl`` (13.2): the policy your ``policy_for_a_daily_crawl()``
  returns for Zipf reads, keys with TTLs, and a crawl of every page once a day counts reads
  (``allkeys-lfu`` or ``volatile-lfu``).
- ``check_next_version`` (13.3): your ``next_version(stored)`` adds one, and never starts a
  missing counter at a number it handed out before, however fast it was bumped.

The lesson runs them by id (``checks.run("13.1", memory_for_hit_ratio)``), so none is imported
by name.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from cachelab.checks import _call, _expect
from cachelab.checks.under_load import _refuses  # a refusal is checked as lesson 10's are

__all__: list[str] = []

# --------------------------------------------------------------------------- 13.1

_CURVE = ([1.0, 2.0, 4.0, 8.0], [0.40, 0.60, 0.75, 0.85])
"""A measured curve: memory (MB) and the hit ratio at each."""


def check_memory_for_hit_ratio(memory_for_hit_ratio: Callable[..., float]) -> str:
    """``memory_for_hit_ratio(sizes, hit_ratios, target)``: linear between the measured points."""
    sizes, ratios = _CURVE
    cases = [  # (target, want, property, topic)
        (0.60, 2.0, "a target that was measured gives its own size: 60 % -> 2 MB", "measured"),
        (0.50, 1.5, "halfway between 40 % (1 MB) and 60 % (2 MB) is 1.5 MB", "between"),
        (0.80, 6.0, "80 % lies between 75 % (4 MB) and 85 % (8 MB): 6 MB", "between"),
        (0.40, 1.0, "the first measured point: 40 % -> 1 MB", "measured"),
        (0.85, 8.0, "the last measured point: 85 % -> 8 MB", "measured"),
    ]
    for target, want, prop, topic in cases:
        got = _call(memory_for_hit_ratio, list(sizes), list(ratios), target, property_=prop,
                    topic=topic)  # fmt: skip
        _expect(isinstance(got, (int, float)) and not isinstance(got, bool), prop + " (a number)",
                got, topic=topic)  # fmt: skip
        _expect(abs(got - want) < 1e-6, prop, got, topic=topic)
    for target, why in ((0.90, "90 % is above the largest measured"),
                        (0.30, "30 % is below the smallest measured")):  # fmt: skip
        _refuses(memory_for_hit_ratio, (list(sizes), list(ratios), target),
                 f"outside the curve: {why}, so ValueError", "outside")  # fmt: skip
    return "linear between the two measured points around the target; outside them refused"


# --------------------------------------------------------------------------- 13.2

_GOOD_POLICIES = {"allkeys-lfu", "volatile-lfu"}
_WHY_NOT = {
    "noeviction": ("noeviction refuses writes once memory is full: the cache stops caching",
                   "noeviction"),
    "allkeys-lru": ("LRU lets the crawl push out the popular pages", "recency"),
    "volatile-lru": ("LRU lets the crawl push out the popular pages", "recency"),
    "allkeys-random": ("random eviction throws popular pages out as often as the crawl's",
                       "random"),
    "volatile-random": ("random eviction throws popular pages out as often as the crawl's",
                        "random"),
    "volatile-ttl": ("with one TTL for all, volatile-ttl evicts the oldest writes: the crawl "
                     "pushes out the popular pages as under LRU", "recency"),
}  # fmt: skip


def check_policy_for_a_daily_crawl(policy_for_a_daily_crawl: Callable[[], Any]) -> str:
    """``policy_for_a_daily_crawl()``: a maxmemory-policy that counts reads, so one crawl does not
    evict the popular pages."""
    policy = _call(policy_for_a_daily_crawl, property_="it returns a policy's name", topic="name")
    _expect(isinstance(policy, str), "the policy is a name, as a string ('allkeys-...')", policy,
            topic="name")  # fmt: skip
    name = policy.strip().lower()
    if name in _WHY_NOT:
        why, topic = _WHY_NOT[name]
        _expect(False, f"a policy that keeps the popular pages through a crawl: {why}", policy,
                topic=topic)  # fmt: skip
    _expect(name in _GOOD_POLICIES, "one of Redis's eviction policies, as CONFIG SET spells it",
            policy, topic="name")  # fmt: skip
    return f"{name}: a page read once by the crawler counts less than a popular one"


# --------------------------------------------------------------------------- 13.3

_BUMPS = 1_000
"""How many versions come before the counter is evicted, in the check of 13.3."""


def check_next_version(next_version: Callable[[Any], int]) -> str:
    """``next_version(stored)``: ``stored + 1``; for ``None``, a number never given before."""
    prop = "a counter that is not there starts a version (a whole number)"
    first = _call(next_version, None, property_=prop, topic="start")
    _expect(isinstance(first, int) and not isinstance(first, bool), prop, first, topic="start")
    given = [first]
    prop = "a stored counter gives the next version: stored + 1"
    for _ in range(_BUMPS):
        got = _call(next_version, given[-1], property_=prop, topic="plus-one")
        _expect(got == given[-1] + 1, prop + f" (after {given[-1]})", got, topic="plus-one")
        given.append(got)
    time.sleep(0.002)  # the eviction comes later than the versions before it
    prop = (
        f"after {_BUMPS:,} versions ({given[0]} to {given[-1]}) the counter is evicted: the next "
        "version must be none of the numbers handed out before"
    )
    again = _call(next_version, None, property_=prop, topic="restart")
    _expect(isinstance(again, int) and again not in set(given), prop, again, topic="restart")
    return "stored + 1; a missing counter starts where no number it gave before lies"


_EXERCISES = {
    "13.1": check_memory_for_hit_ratio,
    "13.2": check_policy_for_a_daily_crawl,
    "13.3": check_next_version,
}

_HINTS = {
    "13.1": {
        "measured": (
            "When the target is one of the measured hit ratios, answer the size measured with it.",
            "Find i with hit_ratios[i] == target and return sizes[i]; the general rule below "
            "gives the same.",
        ),
        "between": (
            "Find the two measured points whose hit ratios are on either side of the target, and "
            "draw a straight line between them.",
            "With (s0, h0) and (s1, h1) around the target: s0 + (target - h0) / (h1 - h0) * "
            "(s1 - s0). numpy's np.interp(target, hit_ratios, sizes) does it for you.",
        ),
        "outside": (
            "A measured curve says nothing beyond its ends: refuse a target it does not reach.",
            "raise ValueError when target < hit_ratios[0] or target > hit_ratios[-1] (np.interp "
            "would quietly answer the end's size instead).",
        ),
    },
    "13.2": {
        "name": (
            "Answer with the policy's name as a string, as CONFIG SET maxmemory-policy spells it.",
            "The names: noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, "
            "volatile-lfu, volatile-random, volatile-ttl.",
        ),
        "noeviction": (
            "A cache must be able to throw something away when it is full.",
            "Choose among the policies that evict, and think about which of them a crawl fools.",
        ),
        "recency": (
            "The crawler's reads are the most recent ones: a policy that keeps the recently used "
            "keeps the crawl and drops the popular pages.",
            "Look at the lesson's scan-resistance plot: which curve stays up in the first window "
            "after the crawl?",
        ),
        "random": (
            "Random eviction cannot tell a popular page from a page read once.",
            "You want a policy that counts how often a key is read: look for 'lfu' in its name.",
        ),
    },
    "13.3": {
        "start": (
            "For None (no counter), return a number to start from: a whole number (int).",
            "Convert with int(...) if your number comes from a float, such as the clock.",
        ),
        "plus-one": (
            "A stored counter's next version is one more than it.",
            "return stored + 1 when stored is not None.",
        ),
        "restart": (
            "Starting again at 0 or 1 after an eviction hands out old versions, whose old pages "
            "may still be in the cache. Start where no number handed out before lies.",
            "You cannot remember the old count (it was evicted), but the clock has moved on: "
            "start from the time now, in units finer than the fastest bumping. Or start at a "
            "random number so large that it meets an old one with no real chance.",
            "time.time_ns() // 1000, the microseconds since 1970: a counter bumped less than a "
            "million times a second never catches up with it (cachelab's increment does this); "
            "or secrets.randbits(63), as lesson 06's VersionedKeys does.",
        ),
    },
}
