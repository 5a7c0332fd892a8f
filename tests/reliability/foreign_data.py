"""Ten thousand keys that are not the course's, planted in a Redis, and a check that none was
touched.

A learner may point the course at a Redis that holds other data, and a whole room
may share one server. ``plant`` fills a server with every kind of key: strings,
hashes, lists, sets and sorted sets, some with TTLs, and look-alikes of the course's
prefix (``cachelab``, ``cachelabX:…``, ``Cachelab:…``, glob characters). ``changes``
compares the server with what was planted, value by value (``DUMP``) and TTL by TTL.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

COUNT = 10_000
LOOK_ALIKES = [
    "cachelab",
    "cachelabX:product:1",
    "Cachelab:product:1",
    "CACHELAB:ada:product:1",
    "cachelab*",
    "cachelab?",
    "[cachelab]:x",
    "cachelab\\:x",
    "xcachelab:ada:1",
    "user:cachelab:ada:1",
    " cachelab:ada:1",
    "cachelab_ada:1",
]


@dataclass(frozen=True)
class Planted:
    """What was planted: each key's dumped value and whether (and until when) it expires."""

    values: dict[bytes, bytes]
    expires_at_ms: dict[
        bytes, int
    ]  # key -> absolute expiry time in ms (server clock), for keys with a TTL


def plant(client: redis.Redis, count: int = COUNT) -> Planted:
    """Write ``count`` foreign keys (and the look-alikes) of every type, a fifth with a TTL."""
    raw = _raw(client)
    with raw.pipeline(transaction=False) as pipe:
        for i in range(count):
            key = f"other-app:{i % 7}:{i}"
            kind = i % 5
            if kind == 0:
                pipe.set(key, f"value {i}")
            elif kind == 1:
                pipe.hset(key, mapping={"field": i, "name": f"n{i}"})
            elif kind == 2:
                pipe.rpush(key, i, i + 1, i + 2)
            elif kind == 3:
                pipe.sadd(key, i, -i)
            else:
                pipe.zadd(key, {f"m{i}": i})
            if i % 5 == i % 3:  # about a fifth, spread over the types
                pipe.expire(key, 3_600 + i)
        for key in LOOK_ALIKES:
            pipe.set(key, "a look-alike, not the course's")
        pipe.execute()
    return snapshot(client)


def snapshot(client: redis.Redis) -> Planted:
    """Every key on the server now, dumped, with its expiry time (absolute, server clock, ms)."""
    raw = _raw(client)
    names = sorted(raw.scan_iter(count=1_000))
    try:
        raw.execute_command("PEXPIRETIME", "no-such-key")
    except redis.ResponseError:  # Redis 6.2 has no PEXPIRETIME (7.0 and Valkey have)
        return _snapshot_by_ttl(raw, names)
    with raw.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.dump(name)
            pipe.execute_command("PEXPIRETIME", name)  # -1: no TTL
        replies = pipe.execute()
    values = {name: replies[2 * i] for i, name in enumerate(names)}
    expires = {name: replies[2 * i + 1] for i, name in enumerate(names) if replies[2 * i + 1] > 0}
    return Planted(values, expires)


def _snapshot_by_ttl(raw: redis.Redis, names: list[bytes]) -> Planted:
    """``snapshot`` on a server without PEXPIRETIME: the time left (PTTL) plus the server's clock
    read before the pipeline. Each key's PTTL is read a little later than that clock, up to the
    pipeline's whole duration later; ``_same_expiry``'s slack has to cover it."""
    seconds, microseconds = raw.time()
    now_ms = seconds * 1_000 + microseconds // 1_000
    with raw.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.dump(name)
            pipe.pttl(name)
        replies = pipe.execute()
    values = {name: replies[2 * i] for i, name in enumerate(names)}
    expires = {
        name: now_ms + replies[2 * i + 1] for i, name in enumerate(names) if replies[2 * i + 1] > 0
    }
    return Planted(values, expires)


def changes(
    client: redis.Redis, planted: Planted, course_prefix: bytes = b"cachelab:"
) -> list[str]:
    """What differs from ``planted`` outside the course prefix; empty when nothing does."""
    now = snapshot(client)
    found = []
    for name, value in planted.values.items():
        if now.values.get(name) != value:
            found.append(f"{name!r} was changed or deleted")
        elif not _same_expiry(planted.expires_at_ms.get(name), now.expires_at_ms.get(name)):
            found.append(f"{name!r}'s TTL changed")
    for name in now.values.keys() - planted.values.keys():
        if not name.startswith(course_prefix):
            found.append(f"{name!r} was written outside the course prefix")
    return found


def _same_expiry(before: int | None, after: int | None, slack_ms: int = 1_000) -> bool:
    """Both without a TTL, or both expiring at the same moment (give or take the snapshots)."""
    if before is None or after is None:
        return before is after
    return abs(before - after) <= slack_ms


def _raw(client: redis.Redis) -> redis.Redis:
    """A client of the same server that answers bytes (DUMP's payload is not text)."""
    options = dict(client.connection_pool.connection_kwargs)
    options.pop("decode_responses", None)
    kind = client.connection_pool.connection_class
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=kind, **options))
