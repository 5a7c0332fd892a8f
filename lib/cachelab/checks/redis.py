"""Checks for lesson 04's exercises: cache-aside on Redis by hand, and failing open.

Both checks run your function against a real Redis server, never a fake:

- ``check_get_or_load_json`` uses the course's Redis (``connect()``: ``$REDIS_URL`` or
  this process's private server), under a key prefix of its own that it deletes
  afterwards (``cachelab:check04:<random>:``) -- and nothing else;
- ``check_safe_get_or_load`` starts a ``PrivateRedisServer`` of its own, uses it,
  then *stops* it to see what your function does when Redis is down.

Each raises ``CheckFailed`` naming the first property that does not hold.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any, Callable

import redis

from cachelab.cache import CacheStats
from cachelab.checks import CheckFailed, expect
from cachelab.keys import COURSE_PREFIX
from cachelab.redis_server import PrivateRedisServer, connect

# What the loaders in these checks return: a small homepage-like value, as JSON can carry it.
_PAGE = {
    "products": [
        {"id": 7, "name": "Oak stool", "price_cents": 4599, "stock": 12},
        {"id": 42, "name": "Rustic maple bird feeder", "price_cents": 1099, "stock": 171},
    ],
    "count": 2,
}


class _CountingLoader:
    """A loader that returns a fresh copy of ``_PAGE`` and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return copy.deepcopy(_PAGE)


def _decode_json(raw: Any, property_: str) -> Any:
    """``json.loads(raw)``, or ``CheckFailed`` naming ``property_`` when ``raw`` is not JSON."""
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        text = raw if isinstance(raw, str) else repr(raw)
        raise CheckFailed(f"{property_} (json.loads could not read what Redis holds: {text[:80]!r})") from None


def check_get_or_load_json(get_or_load_json: Callable[..., Any]) -> str:
    """Exercise 1 of lesson 04: ``get_or_load_json(client, key, loader, ttl)``.

    Properties, in order: a miss returns the loader's value and calls it once; the
    value is stored in Redis under ``key`` as JSON; with a TTL of ``ttl`` seconds;
    a hit returns the decoded value without calling the loader; once the key is
    gone the loader runs again; a key outside ``cachelab:`` is refused with
    ``ValueError`` and nothing is written there.
    """
    client = connect()
    prefix = f"{COURSE_PREFIX}check04:{uuid.uuid4().hex[:10]}:"
    key = prefix + "homepage"
    ttl = 120
    loader = _CountingLoader()
    try:
        first = get_or_load_json(client, key, loader, ttl)
        expect(loader.calls == 1, "a miss calls the loader exactly once", loader.calls)
        expect(first == _PAGE, "a miss returns what the loader returned", first)

        raw = client.get(key)
        expect(raw is not None, f"a miss stores the value in Redis under the key it was given ({key!r} is empty)")
        stored = _decode_json(raw, "the value is stored as JSON")
        expect(stored == _PAGE, "the stored JSON decodes to the loader's value", stored)

        pttl_ms = client.pttl(key)
        expect(pttl_ms != -1, "the key has a TTL (SET … EX ttl); Redis says it never expires")
        expect(
            (ttl - 5) * 1000 < pttl_ms <= ttl * 1000,
            f"the TTL is ttl seconds: asked for {ttl} s (EX takes seconds, PX milliseconds)",
            f"{pttl_ms / 1000:.3f} s left",
        )

        second = get_or_load_json(client, key, loader, ttl)
        expect(loader.calls == 1, "a hit does not call the loader", f"{loader.calls} calls after 2 requests")
        expect(second == _PAGE, "a hit returns the decoded value (the dict, not the JSON text)", second)

        client.unlink(key)  # as if the TTL had run out
        third = get_or_load_json(client, key, loader, ttl)
        expect(
            loader.calls == 2 and third == _PAGE,
            "once the key has expired, the next request calls the loader again",
            f"{loader.calls} loader calls",
        )

        outside = f"check04-outside-the-course-prefix:{uuid.uuid4().hex[:10]}"
        refused = False
        try:
            get_or_load_json(client, outside, loader, 1)  # if it is written anyway, it expires in 1 s
        except ValueError:
            refused = True
        expect(refused, "a key that does not start with 'cachelab:' is refused with ValueError", outside)
        expect(not client.exists(outside), "nothing is written outside the course prefix", outside)
    finally:
        for leftover in client.scan_iter(match=prefix + "*"):
            client.unlink(leftover)
    return (
        f"stored as JSON under the key, TTL {ttl} s, the loader ran once per miss, "
        f"hits decoded, keys outside {COURSE_PREFIX!r} refused"
    )


def check_safe_get_or_load(safe_get_or_load: Callable[..., Any]) -> str:
    """Exercise 2 of lesson 04: ``safe_get_or_load(client, key, loader, ttl, stats)``.

    With Redis up it is cache-aside (JSON, a TTL, one miss then hits, counted in
    ``stats``); an error raised by the loader itself propagates and is not counted;
    with Redis *stopped* it still returns the loader's value, calls the loader once
    per request, lets no Redis error escape, and adds one to ``stats.errors`` per
    request.
    """
    server = PrivateRedisServer().start()
    try:
        client = server.client()
        key = f"{COURSE_PREFIX}check04:safe:homepage"
        ttl = 60
        loader = _CountingLoader()
        stats = CacheStats()

        answers = [safe_get_or_load(client, key, loader, ttl, stats) for _ in range(3)]
        expect(answers == [_PAGE] * 3, "with Redis up, it returns the loader's value", answers[-1])
        expect(
            loader.calls == 1,
            "with Redis up, it is cache-aside: the loader runs on the first request only",
            f"{loader.calls} loader calls for 3 requests",
        )
        expect(
            (stats.misses, stats.hits, stats.errors) == (1, 2, 0),
            "with Redis up, stats count 1 miss, 2 hits and 0 errors for 3 requests",
            f"misses={stats.misses}, hits={stats.hits}, errors={stats.errors}",
        )
        stored = _decode_json(client.get(key), "with Redis up, the value is stored as JSON")
        expect(stored == _PAGE, "with Redis up, the stored JSON decodes to the loader's value", stored)
        expect(client.ttl(key) > 0, "with Redis up, the key is stored with a TTL (SET … EX ttl)", client.ttl(key))

        def broken_loader() -> Any:
            raise LookupError("no product with id 999")

        try:
            safe_get_or_load(client, f"{COURSE_PREFIX}check04:safe:missing", broken_loader, ttl, stats)
            propagated = False
        except LookupError:
            propagated = True
        expect(
            propagated,
            "an error raised by the loader itself is not hidden: only Redis errors fail open "
            "(catch redis.ConnectionError and redis.TimeoutError, not Exception)",
        )
        expect(stats.errors == 0, "a loader's own error is not counted as a Redis error", stats.errors)

        server.stop()
        loader.calls = 0
        errors_before = stats.errors
        answers = []
        for _ in range(3):
            try:
                answers.append(safe_get_or_load(client, key, loader, ttl, stats))
            except redis.RedisError as error:
                raise CheckFailed(
                    f"with Redis down, the page is still served: no Redis error escapes "
                    f"(got {type(error).__name__}: {error})"
                ) from None
        expect(answers == [_PAGE] * 3, "with Redis down, it returns the loader's value", answers[-1])
        expect(
            loader.calls == 3,
            "with Redis down, the loader runs exactly once per request",
            f"{loader.calls} loader calls for 3 requests",
        )
        expect(
            stats.errors - errors_before == 3,
            "with Redis down, stats.errors grows by one per request",
            f"{stats.errors - errors_before} errors counted for 3 requests",
        )
    finally:
        server.stop()
    return "cache-aside while Redis is up; with Redis stopped, every request served from the loader and each failure counted once"
