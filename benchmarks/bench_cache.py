"""Cache hits: is the course's cache code as cheap as the obvious alternatives?

- ``MemoryCache.get`` on a hit (stats counted, TTL checked, LRU order kept) against
  ``cachetools.TTLCache.get`` on a hit -- the well-known library doing the same job.
  Target: at least 2× faster.
- ``RedisCache.get`` on a hit against the least any Redis cache must do: the same
  client's ``GET`` of the same key plus ``json.loads``. Target: within 1.2×
  (the wrapper's bookkeeping must vanish next to the network round trip).

Both sides of each comparison are timed in alternating batches in the same
process, so a busy moment on a shared machine hurts both sides alike.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from typing import Any, Callable

from cachelab import keys
from cachelab.cache import MemoryCache, RedisCache
from cachelab.environment.redis_server import connect
from cachelab.lab.timing import Timing

# A realistic cached value: the homepage's trending list, about 1 KB of JSON.
TRENDING = [
    {
        "id": i,
        "name": f"Blue Cotton Mug {i}",
        "category": "kitchen",
        "price_cents": 1299 + i,
        "stock": 40 + i,
        "units_sold": 900 - 7 * i,
    }
    for i in range(1, 11)
]


def interleaved(
    subject: Callable[[], Any], baseline: Callable[[], Any], rounds: int, number: int
) -> tuple[Timing, Timing]:
    """Time ``rounds`` batches of ``number`` calls of each function, alternating the first."""
    for func in (
        subject,
        baseline,
    ):  # warm up: caches, connections, the interpreter's specialisations
        for _ in range(number):
            func()
    samples: dict[Callable, list[float]] = {subject: [], baseline: []}
    batch = range(number)
    for round_number in range(rounds):
        order = (subject, baseline) if round_number % 2 == 0 else (baseline, subject)
        for func in order:
            started = time.perf_counter()
            for _ in batch:
                func()
            samples[func].append((time.perf_counter() - started) / number)
    return Timing("subject", samples[subject]), Timing("baseline", samples[baseline])


def paired_ratio(subject: Timing, baseline: Timing) -> float:
    """The median of batch-by-batch ratios: each subject batch against the baseline batch timed
    beside it.

    Steadier than the ratio of the medians when other programs come and go on the machine.
    """
    return statistics.median(s / b for s, b in zip(subject.latencies_s, baseline.latencies_s))


def memory_vs_cachetools(quick: bool) -> dict:
    from cachetools import TTLCache

    ours = MemoryCache(ttl=300, max_entries=1_000)
    theirs = TTLCache(maxsize=1_000, ttl=300)
    for i in range(1_000):  # full caches, so the lookup is not in a toy-sized table
        ours.set(f"product:{i}", {"id": i})
        theirs[f"product:{i}"] = {"id": i}
    ours.set("trending", TRENDING)
    theirs["trending"] = TRENDING
    ours_get, theirs_get = ours.get, theirs.get
    assert ours_get("trending") is TRENDING and theirs_get("trending") is TRENDING
    rounds, number = (15, 2_000) if quick else (201, 5_000)
    subject, baseline = interleaved(
        lambda: ours_get("trending"), lambda: theirs_get("trending"), rounds, number
    )
    assert ours.stats.hits > 0 and ours.stats.misses == 0, "every call must have been a counted hit"
    return {
        "name": "MemoryCache.get hit (stats on) vs cachetools.TTLCache.get hit",
        "median": subject.median_s,
        "baseline": baseline.median_s,
        "target": 0.5,
        "note": f"{rounds} alternating batches of {number:,} hits each (median of paired batch "
        "ratios "
        f"{paired_ratio(subject, baseline):.3f}); both caches full (1,000 entries), both on "
        f"time.monotonic; a lambda call on both sides",
    }


def redis_vs_raw(quick: bool) -> dict:
    client = connect()
    prefix = f"{keys.learner_prefix()}bench:{uuid.uuid4().hex[:8]}:"
    cache = RedisCache(client, prefix=prefix, ttl=600)
    try:
        cache.set("trending", TRENDING)
        raw_key = prefix + "trending"
        get, loads, cache_get = client.get, json.loads, cache.get
        assert cache_get("trending") == loads(get(raw_key)) == TRENDING
        rounds, number = (21, 100) if quick else (301, 100)
        subject, baseline = interleaved(
            lambda: cache_get("trending"), lambda: loads(get(raw_key)), rounds, number
        )
        assert cache.stats.misses == 0 and cache.stats.errors == 0
        size = len(get(raw_key))
    finally:
        cache.clear()
    return {
        "name": "RedisCache.get hit vs client.get + json.loads",
        "median": subject.median_s,
        "baseline": baseline.median_s,
        "target": 1.2,
        "note": f"{rounds} alternating batches of {number:,} GETs of one {size:,}-byte JSON value "
        f"(median of paired batch ratios {paired_ratio(subject, baseline):.3f}), "
        "same client, same key, server at "
        f"{client.connection_pool.connection_kwargs.get('path') or 'REDIS_URL'}",
    }


def run(quick: bool = False) -> list[dict]:
    return [memory_vs_cachetools(quick), redis_vs_raw(quick)]


if __name__ == "__main__":
    for row in run():
        print(
            row["name"],
            f"{row['median'] * 1e9:,.0f} ns vs {row['baseline'] * 1e9:,.0f} ns",
            f"ratio {row['median'] / row['baseline']:.3f}",
        )
