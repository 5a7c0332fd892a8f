"""Two caches with one interface: ``MemoryCache`` (in this process) and ``RedisCache`` (shared).

Both offer the same five operations, so a lesson can swap one for the other:

- ``get(key, default=None)``       the cached value, or ``default`` on a miss;
- ``set(key, value, ttl=None)``    store a value, expiring after ``ttl`` seconds;
- ``delete(key)``                  invalidate one key;
- ``clear()``                      drop every key this cache owns;
- ``get_or_load(key, loader, ttl=None)``  cache-aside: return the cached value,
  or call ``loader()`` on a miss, store its result and return it.

and both count what happens in ``stats`` (a ``CacheStats``).
"""

from __future__ import annotations

import json
import math
import numbers
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional

import redis

from cachelab import keys

_MISSING = object()  # marks "not in the cache", so that a cached None is still a hit


@dataclass
class CacheStats:
    """What a cache has done since it was made (or since ``reset()``)."""

    hits: int = 0
    misses: int = 0
    sets: int = 0
    deletes: int = 0
    expirations: int = 0
    evictions: int = 0
    errors: int = 0

    @property
    def hit_ratio(self) -> float:
        """Hits divided by lookups (hits + misses); 0.0 before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def reset(self) -> None:
        """Set every counter back to zero."""
        for name in asdict(self):
            setattr(self, name, 0)

    def as_dict(self) -> dict[str, float]:
        """The counters and the hit ratio, ready to print or tabulate."""
        return {**asdict(self), "hit_ratio": self.hit_ratio}


def check_ttl(ttl: Optional[float], name: str = "ttl") -> Optional[float]:
    """Return ``ttl`` if it is ``None`` (never expires) or a finite number > 0, else raise."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, numbers.Real):  # Real: numpy's numbers are welcome too
        raise TypeError(f"{name} must be a number of seconds or None, got {type(ttl).__name__} {ttl!r}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise ValueError(f"{name} must be > 0 seconds, got {ttl!r}")
    return ttl


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise TypeError(f"cache keys are non-empty strings, got {key!r}")
    return key


class MemoryCache:
    """A cache that lives in this process's memory.

    Entries expire ``ttl`` seconds after they were set (measured by ``clock``, so
    lessons can use a fake one), and the least recently used entry is evicted once
    ``max_entries`` is reached. Every get, set and eviction is counted in ``stats``.

    Values are stored as they are, not copied: a hit hands back the very object
    that was stored, which is why this cache is so fast -- and why each process
    that has one holds its own, separate copy of the data.

    >>> from cachelab.clock import FakeClock
    >>> clock = FakeClock()
    >>> cache = MemoryCache(ttl=60, clock=clock)
    >>> cache.set("product:1", {"price_cents": 999})
    >>> cache.get("product:1")
    {'price_cents': 999}
    >>> _ = clock.advance(60)
    >>> cache.get("product:1") is None
    True
    """

    def __init__(
        self,
        ttl: Optional[float] = None,
        max_entries: Optional[int] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = check_ttl(ttl)
        if max_entries is not None and (
            isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1
        ):
            raise ValueError(f"max_entries must be a whole number >= 1 or None, got {max_entries!r}")
        self.max_entries = max_entries
        self.clock = clock
        self.stats = CacheStats()
        # key -> (value, expires_at or None); the order is least- to most-recently used.
        self._entries: OrderedDict[str, tuple[Any, Optional[float]]] = OrderedDict()

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value cached under ``key``, or ``default`` if it is missing or expired."""
        entry = self._entries.get(key, _MISSING)
        if entry is _MISSING:
            self.stats.misses += 1
            return default
        value, expires_at = entry
        if expires_at is not None and self.clock() >= expires_at:
            del self._entries[key]
            self.stats.expirations += 1
            self.stats.misses += 1
            return default
        self._entries.move_to_end(key)  # now the most recently used
        self.stats.hits += 1
        return value

    def set(self, key: str, value: Any, ttl: Optional[float] = None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (default: the cache's ``ttl``)."""
        _check_key(key)
        ttl = check_ttl(ttl) if ttl is not None else self.ttl
        expires_at = self.clock() + ttl if ttl is not None else None
        self._entries[key] = (value, expires_at)
        self._entries.move_to_end(key)
        self.stats.sets += 1
        if self.max_entries is not None and len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)  # the least recently used
            self.stats.evictions += 1

    def delete(self, key: str) -> bool:
        """Remove ``key``; return whether it was there. Counted in ``stats.deletes``."""
        self.stats.deletes += 1
        return self._entries.pop(key, _MISSING) is not _MISSING

    def clear(self) -> int:
        """Remove every entry and return how many there were (the stats are kept)."""
        removed = len(self._entries)
        self._entries.clear()
        return removed

    def get_or_load(self, key: str, loader: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Cache-aside: return the cached value, or call ``loader()`` on a miss and cache its result."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = loader()
            self.set(key, value, ttl)
        return value

    def keys(self) -> list[str]:
        """The keys held now, least recently used first (expired ones included until read)."""
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        entry = self._entries.get(key, _MISSING)
        if entry is _MISSING:
            return False
        expires_at = entry[1]
        return expires_at is None or self.clock() < expires_at

    def __repr__(self) -> str:
        return f"MemoryCache(ttl={self.ttl}, max_entries={self.max_entries}, entries={len(self)})"


class RedisCache:
    """A cache shared by every process that talks to one Redis server.

    Values travel as JSON (never pickle: unpickling what a shared server hands
    back would run whatever code someone put there). Every key is stored under
    ``prefix``, which must start with ``"cachelab:"``, and ``clear()`` deletes only
    keys under that prefix -- with SCAN and UNLINK, never FLUSHDB.

    With ``fail_open=True`` (the default) an unreachable Redis is not an outage:
    ``get`` answers ``default``, ``set`` and ``delete`` do nothing, and
    ``get_or_load`` calls the loader and returns its fresh value. Each such failure
    is counted in ``stats.errors``. With ``fail_open=False`` the Redis error is raised.

    Redis expires and evicts keys on the server, so ``stats.expirations`` and
    ``stats.evictions`` stay at 0 here: an expired key is simply a miss.
    """

    def __init__(
        self,
        client: Optional[redis.Redis] = None,
        prefix: str = keys.COURSE_PREFIX,
        ttl: Optional[float] = None,
        fail_open: bool = True,
    ) -> None:
        self.prefix = keys.check_prefix(prefix)
        self.ttl = check_ttl(ttl)
        if client is None:
            from cachelab.redis_server import connect  # started lazily, only when needed

            client = connect()
        self.client = client
        self.fail_open = fail_open
        self.stats = CacheStats()

    def _redis_error(self, error: redis.RedisError) -> None:
        """Count a failed call to Redis; re-raise it unless this cache fails open."""
        self.stats.errors += 1
        if not self.fail_open:
            raise error

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value stored under ``key`` (decoded from JSON), or ``default`` on a miss."""
        try:
            raw = self.client.get(keys.redis_key(self.prefix, key))
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self._redis_error(error)
            return default
        if raw is None:
            self.stats.misses += 1
            return default
        self.stats.hits += 1
        return json.loads(raw)

    def set(self, key: str, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` as JSON under ``key``, expiring after ``ttl`` seconds (``SET … EX``).

        Returns True if Redis stored it. A value JSON cannot encode is a ``TypeError``
        naming its type, whatever ``fail_open`` says: that is a bug, not an outage.
        """
        ttl = check_ttl(ttl) if ttl is not None else self.ttl
        payload = to_json(value)
        redis_key = keys.redis_key(self.prefix, key)
        try:
            if ttl is None:
                self.client.set(redis_key, payload)
            elif float(ttl).is_integer():
                self.client.set(redis_key, payload, ex=int(ttl))
            else:  # Redis's EX takes whole seconds; PX takes milliseconds
                self.client.set(redis_key, payload, px=max(1, round(ttl * 1000)))
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self._redis_error(error)
            return False
        self.stats.sets += 1
        return True

    def delete(self, key: str) -> bool:
        """Remove ``key`` (with UNLINK); return whether it was there."""
        self.stats.deletes += 1
        try:
            return bool(self.client.unlink(keys.redis_key(self.prefix, key)))
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self._redis_error(error)
            return False

    def clear(self) -> int:
        """Delete every key under this cache's prefix and return how many were deleted.

        Uses SCAN (which never blocks the server for long) and UNLINK in batches.
        Keys outside the prefix are never touched. Redis errors are raised.
        """
        return delete_keys_under(self.client, self.prefix)

    def get_or_load(self, key: str, loader: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Cache-aside: return the cached value, or call ``loader()`` on a miss and cache its result.

        If Redis is unreachable and the cache fails open, the loader's value is
        returned without trying to store it.
        """
        redis_key = keys.redis_key(self.prefix, key)
        try:
            raw = self.client.get(redis_key)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self._redis_error(error)
            return loader()
        if raw is not None:
            self.stats.hits += 1
            return json.loads(raw)
        self.stats.misses += 1
        value = loader()
        self.set(key, value, ttl)
        return value

    def ttl_of(self, key: str) -> Optional[float]:
        """Seconds until ``key`` expires; ``None`` if it has no TTL or does not exist."""
        milliseconds = self.client.pttl(keys.redis_key(self.prefix, key))
        return milliseconds / 1000 if milliseconds >= 0 else None

    def __repr__(self) -> str:
        return f"RedisCache(prefix={self.prefix!r}, ttl={self.ttl}, fail_open={self.fail_open})"


def delete_keys_under(client: redis.Redis, prefix: str, dry_run: bool = False, batch_size: int = 500) -> int:
    """Delete every key under ``prefix`` with SCAN + UNLINK, in batches; return how many.

    The one place the course deletes keys in bulk (``RedisCache.clear`` and ``make reset``).
    ``prefix`` must start with ``cachelab:``, so nothing outside the course is reachable.
    SCAN walks the key space a little at a time instead of blocking the server like
    ``KEYS`` would; UNLINK frees memory in the background. With ``dry_run=True`` the
    keys are only counted. Never FLUSHDB or FLUSHALL: the server may hold other data.
    """
    keys.check_prefix(prefix)
    deleted = 0
    batch: list[str] = []
    for redis_key in client.scan_iter(match=keys.scan_pattern(prefix), count=batch_size):
        batch.append(redis_key)
        if len(batch) == batch_size:
            deleted += len(batch) if dry_run else client.unlink(*batch)
            batch = []
    if batch:
        deleted += len(batch) if dry_run else client.unlink(*batch)
    return deleted


def to_json(value: Any) -> str:
    """Encode ``value`` as compact JSON, or raise a ``TypeError`` that names what could not be encoded."""
    try:
        return json.dumps(value, separators=(",", ":"))
    except TypeError as error:
        raise TypeError(
            f"a cached value must be JSON: dicts, lists, strings, numbers, booleans and None. "
            f"This one holds a {_unencodable_type(value) or type(value).__name__}; convert it first ({error})"
        ) from None
    except ValueError as error:  # e.g. a list that contains itself
        raise ValueError(f"this value cannot be encoded as JSON: {error}") from None


def _unencodable_type(value: Any) -> str:
    """Name the type of the first part of ``value`` that JSON cannot encode."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                return type(k).__name__ + " (as a key)"
            found = _unencodable_type(v)
            if found:
                return found
        return ""
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _unencodable_type(item)
            if found:
                return found
        return ""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return ""
    return type(value).__name__
