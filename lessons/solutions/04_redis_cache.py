"""Reference solutions for lesson 04 · Redis: one cache for every worker.

One function per exercise. tests/test_checks_redis_cache.py runs each lesson check
against these (they must pass) and against plausible wrong answers (they must not).
"""

from __future__ import annotations

import json
from typing import Any, Callable

import redis

from cachelab.cache import CacheStats

COURSE_PREFIX = "cachelab:"


def get_or_load_json(client: redis.Redis, key: str, loader: Callable[[], Any], ttl: int) -> Any:
    """Exercise 1: cache-aside on Redis by hand: GET; on a miss load, then SET … EX as JSON."""
    if not key.startswith(COURSE_PREFIX):
        raise ValueError(f"cache keys must start with {COURSE_PREFIX!r}, got {key!r}")
    raw = client.get(key)
    if raw is not None:
        return json.loads(raw)
    value = loader()
    client.set(key, json.dumps(value), ex=ttl)
    return value


def safe_get_or_load(
    client: redis.Redis, key: str, loader: Callable[[], Any], ttl: int, stats: CacheStats
) -> Any:
    """Exercise 2: the same cache-aside, failing open -- Redis down means "ask the database"."""
    try:
        raw = client.get(key)
    except (redis.ConnectionError, redis.TimeoutError):
        stats.errors += 1
        return loader()  # outside the try: the loader's own errors must not be swallowed
    if raw is not None:
        stats.hits += 1
        return json.loads(raw)
    stats.misses += 1
    value = loader()
    try:
        client.set(key, json.dumps(value), ex=ttl)
    except (redis.ConnectionError, redis.TimeoutError):
        stats.errors += 1
    return value
