"""Two caches with one interface: ``MemoryCache`` (in this process) and ``RedisCache`` (shared).

The interface is written down as ``Cache``, a ``typing.Protocol``: six operations,
so a lesson can swap one cache for the other and every strategy in the library
works over either.

- ``get(key, default=None)``       the cached value, or ``default`` on a miss;
- ``set(key, value, ttl=None)``    store a value, expiring after ``ttl`` seconds; True if stored;
- ``delete(key)``                  invalidate one key; True if it was there;
- ``clear()``                      drop every key this cache owns; how many there were;
- ``get_or_load(key, loader, ttl=None)``  cache-aside: return the cached value,
  or call ``loader()`` on a miss, store its result and return it;
- ``stats``                        what happened, counted (a ``CacheStats``).

Coordination between requests -- a lock so that one process reloads a key while
the others wait, a lease that a delete voids, a version two writers cannot both
bump to the same number -- needs operations that check and change in one
indivisible step. ``_AtomicCache`` adds four; both caches have them (Redis runs each
as one command or one Lua script, ``MemoryCache`` under a lock):

- ``add(key, value, ttl=None)``    store only if the key is absent (Redis ``SET NX``);
- ``delete_if_equal(key, value)``  delete only if the key still holds ``value``;
- ``set_and_release(key, value, ttl, lock_key=..., token=...)``  store ``value`` only if
  ``lock_key`` still holds ``token``, and remove ``lock_key`` in the same step;
- ``increment(key, ttl=None)``     add one to a counter and return it (Redis ``INCR``); a
  counter that is not there starts from the clock, not from 0 (see ``_counter_epoch``).

Keys are logical keys (``keys.product(42)``); every TTL obeys ``validation.validate_ttl``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional, Protocol, TypeVar, runtime_checkable

import redis
from redis.client import NEVER_DECODE

from cachelab import keys
from cachelab._internal.validation import validate_ttl, validate_whole_number
from cachelab.outages import CircuitBreaker, _is_outage, _pending_deletes_for

_T = TypeVar("T")

__all__ = [
    "Cache",
    "CacheKeyError",
    "CacheStats",
    "CacheUnavailable",
    "MemoryCache",
    "RedisCache",
    "SET_AND_RELEASE_SCRIPT",
    "to_json",
]

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
    short_circuits: int = 0
    circuit: str = "closed"  # the breaker's state, for a RedisCache; a MemoryCache has none to open

    @property
    def hit_ratio(self) -> float:
        """Hits divided by lookups (hits + misses); 0.0 before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def reset(self) -> None:
        """Set every counter back to zero (the circuit's state is not a count: it stays)."""
        for name, value in asdict(self).items():
            if isinstance(value, int):
                setattr(self, name, 0)

    def as_dict(self) -> dict[str, Any]:
        """The counters and the hit ratio, ready to print or show as a table."""
        return {**asdict(self), "hit_ratio": self.hit_ratio}


@runtime_checkable
class Cache(Protocol):
    """What every course cache offers. ``MemoryCache`` and ``RedisCache`` both are one."""

    stats: CacheStats

    def get(self, key: str, default: Any = None) -> Any:
        """The value cached under ``key``, or ``default`` on a miss."""

    def set(self, key: str, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` under ``key`` for ``ttl`` seconds (default: the cache's); True if so."""

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there."""

    def clear(self) -> int:
        """Remove every key this cache owns; return how many."""

    def get_or_load(self, key: str, loader: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Cache-aside: the cached value, or ``loader()``'s, stored on the way."""


@runtime_checkable
class _AtomicCache(Cache, Protocol):
    """A cache with the check-and-change operations that locks and leases are built from."""

    def add(self, key: str, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` only if ``key`` holds nothing; True if it was stored."""

    def delete_if_equal(self, key: str, value: Any) -> bool:
        """Delete ``key`` only if it holds ``value``; True if it was deleted."""

    def replace_if_equal(self, key: str, expected: Any, value: Any, ttl: float) -> bool:
        """Store ``value`` for ``ttl`` seconds only if ``key`` holds ``expected``; True if so."""

    def set_and_release(
        self, key: str, value: Any, ttl: Optional[float] = None, *, lock_key: str, token: str
    ) -> bool:
        """If ``lock_key`` holds ``token``: store ``value`` under ``key``, delete ``lock_key``."""

    def increment(self, key: str, ttl: Optional[float] = None) -> int:
        """Add one to the whole number under ``key`` and return it; absent, start from the epoch.

        A counter that is not there -- never made, expired, evicted, lost in a restart without
        persistence -- starts again at ``_counter_epoch()``, not at 1: a number it handed out
        before is not handed out again, as long as it was bumped less than once a microsecond on
        average and the clock has not gone back (lesson 13). A counter restored *older* (from a
        snapshot, or by a failover to a replica that missed the last bumps) is not missing, and
        then numbers are handed out twice.
        """


class CacheKeyError(ValueError):
    """A key under the course prefix holds something the course did not store there.

    Not an outage: Redis answered, and the answer means a bug (another program, or
    an earlier version of a lesson, wrote a hash or plain text under the prefix).
    Raised whatever ``fail_open`` says, naming the key and what it holds.
    """


class CacheUnavailable(redis.RedisError):
    """The shared cache cannot answer: down, unreachable, too slow, full, or read-only.

    Raised by a ``RedisCache`` with ``fail_open=False`` (and by the atomic operations,
    which coordinate through the shared cache and cannot pretend to). A cache that
    fails open never raises it from ``get``, ``set``, ``delete`` or ``get_or_load``.
    """


# --------------------------------------------------------------------------- in this process


class MemoryCache:
    """A cache that lives in this process's memory.

    Entries expire ``ttl`` seconds after they were set (measured by ``clock``, so
    lessons can use a fake one), and the least recently used entry is evicted once
    ``max_entries`` is reached. Every get, set and eviction is counted in ``stats``.

    An expired entry is removed only when it is read (or evicted): without
    ``max_entries`` a TTL alone does not bound how much memory the cache holds.

    Values are stored as they are, not copied: a hit hands back the very object
    that was stored, which is why this cache is so fast -- and why each process
    that has one holds its own, separate copy of the data.

    Threads of one process may share it. Each operation is a few dictionary steps, which Python's
    GIL keeps from corrupting one another; the four atomic operations (``add``, ``delete_if_equal``,
    ``set_and_release``, ``increment``) hold a lock, so they are atomic with respect to each other.
    (Under heavy thread contention a stats counter can miss an increment; in one thread every count
    is exact.)

    >>> from cachelab.clock import FakeClock
    >>> clock = FakeClock()
    >>> cache = MemoryCache(ttl=60, clock=clock)
    >>> cache.set("product:1", {"price_cents": 999})
    True
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
        self.ttl = validate_ttl(ttl)
        self.max_entries = (
            None if max_entries is None else validate_whole_number(max_entries, "max_entries")
        )
        self.clock = clock
        self.stats = CacheStats()
        # key -> (value, expires_at or None); the order is least- to most-recently used.
        self._entries: OrderedDict[str, tuple[Any, Optional[float]]] = OrderedDict()
        self._lock = threading.RLock()

    def _live_entry(self, key: str) -> Any:
        """The (value, expires_at) of ``key`` if it is there and fresh, else ``_MISSING`` (dropping
        it if expired).
        """
        entry = self._entries.get(key, _MISSING)
        if entry is not _MISSING and entry[1] is not None and self.clock() >= entry[1]:
            if self._entries.pop(key, None) is not None:
                self.stats.expirations += 1
            return _MISSING
        return entry

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value cached under ``key``, or ``default`` if it is missing or expired."""
        entry = self._entries.get(keys._validate_key(key), _MISSING)
        if entry is not _MISSING and entry[1] is not None and self.clock() >= entry[1]:
            if self._entries.pop(key, None) is not None:  # expired: drop it now that it was read
                self.stats.expirations += 1
            entry = _MISSING
        if entry is _MISSING:
            self.stats.misses += 1
            return default
        try:
            self._entries.move_to_end(key)  # now the most recently used
        except KeyError:  # another thread removed it a moment ago: still a hit on what we read
            pass
        self.stats.hits += 1
        return entry[0]

    def set(self, key: str, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` under ``key`` for ``ttl`` seconds (default: the cache's ``ttl``). Always
        True.
        """
        keys._validate_key(key)
        ttl = validate_ttl(ttl) if ttl is not None else self.ttl
        expires_at = self.clock() + ttl if ttl is not None else None
        self._entries[key] = (value, expires_at)
        self._entries.move_to_end(key)
        self.stats.sets += 1
        while self.max_entries is not None and len(self._entries) > self.max_entries:
            try:
                self._entries.popitem(last=False)  # the least recently used
            except KeyError:  # emptied by another thread meanwhile
                break
            self.stats.evictions += 1
        return True

    def delete(self, key: str) -> bool:
        """Remove ``key``; return whether it was there. Counted in ``stats.deletes``."""
        self.stats.deletes += 1
        return self._entries.pop(keys._validate_key(key), _MISSING) is not _MISSING

    def clear(self) -> int:
        """Remove every entry and return how many there were (the stats are kept)."""
        removed = len(self._entries)
        self._entries.clear()
        return removed

    def get_or_load(self, key: str, loader: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Cache-aside: return the cached value, or call ``loader()`` on a miss and cache its
        result.

        The TTL is checked before anything is loaded. The loader runs outside the lock,
        so two threads that miss at once both load (lesson 08's stampede).
        """
        ttl = validate_ttl(ttl)
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = loader()
            self.set(key, value, ttl)
        return value

    def add(self, key: str, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` only if ``key`` holds nothing live; True if stored."""
        keys._validate_key(key)
        with self._lock:
            if self._live_entry(key) is not _MISSING:
                return False
            return self.set(key, value, ttl)

    def delete_if_equal(self, key: str, value: Any) -> bool:
        """Delete ``key`` only if it holds a value equal to ``value``; True if deleted."""
        keys._validate_key(key)
        with self._lock:
            entry = self._live_entry(key)
            if entry is _MISSING or entry[0] != value:
                return False
            return self.delete(key)

    def replace_if_equal(self, key: str, expected: Any, value: Any, ttl: float) -> bool:
        """Store ``value`` for ``ttl`` seconds only if ``key`` holds a value equal to
        ``expected``; True if stored (compare-and-set: a lock's holder renews it so)."""
        keys._validate_key(key)
        ttl = _required_ttl(ttl)
        with self._lock:
            entry = self._live_entry(key)
            if entry is _MISSING or entry[0] != expected:
                return False
            return self.set(key, value, ttl)

    def set_and_release(
        self, key: str, value: Any, ttl: Optional[float] = None, *, lock_key: str, token: str
    ) -> bool:
        """If ``lock_key`` holds ``token``: store ``value`` under ``key``, delete ``lock_key``;
        True if so.
        """
        keys._validate_key(key)
        ttl = validate_ttl(ttl)
        with self._lock:
            entry = self._live_entry(keys._validate_key(lock_key))
            if entry is _MISSING or entry[0] != token:
                return False
            self.set(key, value, ttl)
            self.delete(lock_key)
            return True

    def increment(self, key: str, ttl: Optional[float] = None) -> int:
        """Add one to the whole number under ``key`` and return it; absent, evicted or expired,
        the counter starts again at ``_counter_epoch()``, above the numbers it gave (under the
        assumptions the protocol's ``increment`` states)."""
        keys._validate_key(key)
        ttl = validate_ttl(ttl)
        with self._lock:
            entry = self._live_entry(key)
            value = _counter_epoch() if entry is _MISSING else int(entry[0]) + 1
            self.set(key, value, ttl)
            return value

    def keys(self) -> list[str]:
        """The keys held now, least recently used first (expired ones included until read)."""
        with self._lock:
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


# --------------------------------------------------------------------------- shared, in Redis

# Compare-and-delete: a lock is released only by the process that holds it.
_DELETE_IF_EQUAL_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# Compare-and-set: replace a lock's token, and restart its TTL, only while it holds ours.
_REPLACE_IF_EQUAL_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


def _counter_epoch() -> int:
    """Where a counter starts when its key is not there: the time now, in microseconds since 1970.

    A counter that started at 0 would, once evicted (``allkeys-lru`` takes any key) or lost
    in a restart, count 1, 2, 3 again: the numbers it gave before. A version counter that
    does that makes the entries stored under those old versions current again -- old rows
    served as new (lesson 13 measures it). Started from the clock, a new run of the counter
    is above every number the old run gave, as long as the old run was bumped less than
    once per microsecond on average (a bump takes the server, or this process, longer than
    that) and the clock has not been set back. Redis's script takes the server's clock
    (``TIME``), so every client agrees; a ``MemoryCache`` takes this process's.
    """
    return time.time_ns() // 1000


# Add one to a counter (setting its TTL), in one step: two writers never bump to the same version.
# A counter that is not there starts from the server's clock in microseconds (``_counter_epoch``).
# Lua's numbers are doubles: microseconds since 1970 (~1.8e15) are whole numbers below 2**53.
_INCREMENT_SCRIPT = """
local value
if redis.call('EXISTS', KEYS[1]) == 1 then
    value = redis.call('INCR', KEYS[1])
else
    local now = redis.call('TIME')
    value = tonumber(now[1]) * 1000000 + tonumber(now[2])
    redis.call('SET', KEYS[1], string.format('%.0f', value))  -- whole, on any Lua build
end
if ARGV[1] ~= '' then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return value
"""

# Store a value only while a lock (or lease) is held, and release it in the same step.
SET_AND_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then
    return 0
end
if ARGV[3] == '' then
    redis.call('SET', KEYS[1], ARGV[1])
else
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
end
redis.call('DEL', KEYS[2])
return 1
"""


class RedisCache:
    """A cache shared by every process that talks to one Redis server.

    Values travel as JSON (never pickle: unpickling what a shared server hands
    back would run whatever code someone put there). Every key is stored under
    ``prefix`` (default: this learner's, ``keys.learner_prefix()``), and ``clear()``
    deletes only keys under that prefix -- with SCAN and UNLINK, never FLUSHDB.

    With ``fail_open=True`` (the default) a Redis that cannot answer -- down, too slow,
    full, read-only; ``outages._is_outage`` decides -- is not an outage of the page:
    ``get`` answers ``default``, ``set`` and ``delete`` do nothing and return False,
    and ``get_or_load`` returns the loader's fresh value. Each failed call is counted
    in ``stats.errors``. With ``fail_open=False`` a ``CacheUnavailable`` is raised
    instead. An error that is a bug, not an outage (a key under the prefix holding a
    hash, say), is raised either way, naming the key and what is there.

    A ``CircuitBreaker`` (``breaker``) keeps a stalled server from stalling every
    request: after a few outages in a row, calls skip Redis for a while (counted in
    ``stats.short_circuits``; ``stats.circuit`` shows the breaker's state). A ``delete``
    is never skipped, and one that fails is sent again later: see ``delete``.

    Redis expires and evicts keys on the server, so ``stats.expirations`` and
    ``stats.evictions`` stay at 0 here: an expired key is simply a miss.
    """

    def __init__(
        self,
        client: Optional[redis.Redis] = None,
        prefix: Optional[str] = None,
        ttl: Optional[float] = None,
        fail_open: bool = True,
        breaker: Optional[CircuitBreaker] = None,
    ) -> None:
        self.prefix = keys._validate_prefix(prefix if prefix is not None else keys.learner_prefix())
        self.ttl = validate_ttl(ttl)
        if client is None:
            from cachelab.environment.redis_server import (
                connect,  # started lazily, only when needed
            )

            client = connect()
        self.client = client
        self.fail_open = fail_open
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.stats = CacheStats()
        self._pending = _pending_deletes_for(client)  # shared with the process's other caches
        self._delete_if_equal = client.register_script(_DELETE_IF_EQUAL_SCRIPT)
        self._replace_if_equal = client.register_script(_REPLACE_IF_EQUAL_SCRIPT)
        self._set_and_release = client.register_script(SET_AND_RELEASE_SCRIPT)
        self._increment = client.register_script(_INCREMENT_SCRIPT)

    # -- talking to Redis

    def _run(
        self,
        command: Callable[[], _T],
        redis_key: str,
        *,
        skippable: bool = True,
        delivers: Optional[str] = None,
    ) -> _T:
        """Run one Redis command through the breaker; an outage becomes a counted
        ``CacheUnavailable``.

        The deletes this process owes the server (``outages._PendingDeletes``: failed
        ones, and any on their way in another thread) are sent first, so no command
        reaches the server before them -- except ``delivers``, the key this command
        deletes itself. An error that is not an outage (``WRONGTYPE``, text that is not
        UTF-8, ...) is a bug: it is raised as ``CacheKeyError``, naming the key and the
        type of what is stored there. With ``skippable=False`` the command is sent even
        while the breaker is open.
        """
        if skippable and not self.breaker.allow():
            self.stats.short_circuits += 1
            self.stats.circuit = self.breaker.state
            raise CacheUnavailable(
                f"Redis is not being called for a moment: {self.breaker.failures} outage(s) in a "
                f"row opened the circuit breaker ({self.breaker.open_s:g} s)"
            )
        try:
            if self._pending:
                self._pending.send(self.client, skip=delivers)
            result = command()
        except UnicodeDecodeError:  # decode_responses=True: Redis answered with bytes, not text
            self.breaker.record_success()
            self.stats.circuit = self.breaker.state
            raise CacheKeyError(
                f"the Redis key {redis_key!r} holds bytes that are not UTF-8 text, not a value "
                "the course stored (JSON): something else wrote under the course prefix. Delete "
                "that key, or use another prefix"
            ) from None
        except redis.RedisError as error:
            if not _is_outage(error):
                self.breaker.record_success()  # Redis answered: the trouble is ours
                self.stats.circuit = self.breaker.state
                raise self._key_error(error, redis_key) from None
            self.breaker.record_failure()
            self.stats.errors += 1
            self.stats.circuit = self.breaker.state
            raise CacheUnavailable(
                f"Redis could not answer ({type(error).__name__}: {error})"
            ) from error
        self.breaker.record_success()
        self.stats.circuit = self.breaker.state
        return result

    def _key_error(self, error: redis.RedisError, redis_key: str) -> Exception:
        """A clear error for a Redis reply that means a mistake, not an outage."""
        try:
            held = self.client.type(redis_key)
        except redis.RedisError:
            held = "something"
        if str(error).startswith("WRONGTYPE"):
            return CacheKeyError(
                f"the Redis key {redis_key!r} holds a {held}, not a value the course stored (a "
                "JSON string): something else wrote under the course prefix. Delete that key, or "
                "use another prefix"
            )
        return CacheKeyError(f"Redis refused a command on {redis_key!r}: {error}")

    def _ttl_arguments(self, ttl: Optional[float]) -> dict[str, int]:
        """``SET``'s expiry options for ``ttl``: ``ex`` in whole seconds, else ``px`` in ms."""
        ttl = validate_ttl(ttl) if ttl is not None else self.ttl
        if ttl is None:
            return {}
        if float(ttl).is_integer():
            return {"ex": int(ttl)}
        return {"px": max(1, round(ttl * 1000))}  # Redis's EX takes whole seconds; PX milliseconds

    def _ttl_argument(self, ttl: Optional[float]) -> str:
        """A script's TTL argument for ``ttl``: milliseconds as text, or '' for no TTL."""
        expiry = self._ttl_arguments(ttl)
        return str(expiry.get("px", expiry.get("ex", 0) * 1000)) if expiry else ""

    def _decode(self, raw: str, redis_key: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            raise CacheKeyError(
                f"the Redis key {redis_key!r} holds text that is not JSON ({raw[:40]!r}...): "
                "something else wrote under the course prefix. Delete that key, or use another "
                "prefix"
            ) from None
        except RecursionError:
            raise CacheKeyError(
                f"the Redis key {redis_key!r} holds JSON nested too deeply to decode "
                f"({raw[:40]!r}...), not a value the course stored: something else wrote under "
                "the course prefix. Delete that key, or use another prefix"
            ) from None

    # -- the Cache interface

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value stored under ``key`` (decoded from JSON), or ``default`` on a miss."""
        redis_key = keys._redis_key(self.prefix, key)
        try:
            raw = self._run(lambda: self.client.get(redis_key), redis_key)
        except CacheUnavailable:
            if not self.fail_open:
                raise
            return default
        if raw is None:
            self.stats.misses += 1
            return default
        self.stats.hits += 1
        return self._decode(raw, redis_key)

    def set(self, key: str, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` as JSON under ``key``, expiring after ``ttl`` seconds (``SET … EX``).

        Returns True if Redis stored it; False when it could not (and the cache fails
        open): a full Redis refusing the write, say. A value JSON cannot encode is a
        ``TypeError`` naming its type, whatever ``fail_open`` says: a bug, not an outage.
        """
        redis_key = keys._redis_key(self.prefix, key)
        expiry = self._ttl_arguments(ttl)
        payload = to_json(value)
        try:
            self._run(lambda: self.client.set(redis_key, payload, **expiry), redis_key)
        except CacheUnavailable:
            if not self.fail_open:
                raise
            return False
        self.stats.sets += 1
        return True

    def delete(self, key: str) -> bool:
        """Remove ``key`` (with UNLINK); return whether it was there.

        A delete is an invalidation, so it is never skipped: it goes to Redis even while
        the circuit breaker is open (a write may then wait one command timeout). The key
        is *owed* on this process's pending deletes for the server from before the UNLINK
        is sent until Redis has taken it, and every command of every ``RedisCache`` of
        the process sends what is owed first. If Redis cannot take it (down, paused,
        read-only), ``delete`` returns False (or raises ``CacheUnavailable`` without
        ``fail_open``), the key stays owed (``pending_deletes()`` counts it), and a
        background thread tries again every ``outages._RETRY_INTERVAL_S`` (0.2 s) until
        Redis takes it.

        The staleness that leaves after an outage: this process never reads the old
        value from Redis in a call that began after the delete did. Other processes may,
        until Redis answers again plus at most one retry interval (and a command's round
        trip). If this process exits first, or owes more than
        ``outages._MAX_PENDING_DELETES`` keys (the oldest are dropped), the bound is the
        value's TTL, which is why every strategy keeps one (lesson 06). A late delete
        may remove a value cached after it: one extra miss, never a stale read.
        """
        redis_key = keys._redis_key(self.prefix, key)
        self.stats.deletes += 1
        ticket = self._pending.add(redis_key)
        try:
            removed = self._run(
                lambda: self.client.unlink(redis_key),
                redis_key,
                skippable=False,
                delivers=redis_key,
            )
        except CacheUnavailable:
            self._pending.retry_until_sent(self.client)
            if not self.fail_open:
                raise
            return False
        except CacheKeyError:
            self._pending.settle(redis_key, ticket)  # a refusal that is a bug: owing it won't help
            raise
        self._pending.settle(redis_key, ticket)
        return bool(removed)

    def pending_deletes(self) -> int:
        """How many deletes this process owes this cache's server (see ``delete``)."""
        return len(self._pending)

    def clear(self) -> int:
        """Delete every key under this cache's prefix and return how many were deleted.

        Uses SCAN (which never blocks the server for long) and UNLINK in batches.
        Keys outside the prefix are never touched. Redis errors are raised.
        """
        return _delete_keys_under(self.client, self.prefix)

    def get_or_load(self, key: str, loader: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Cache-aside: return the cached value, or call ``loader()`` on a miss and cache its
        result.

        The key and TTL are checked before anything is loaded. If Redis cannot answer
        and the cache fails open, the loader's value is returned: after a failed read
        without trying to store it, after a refused write (a full Redis) as it is.
        """
        redis_key = keys._redis_key(self.prefix, key)
        self._ttl_arguments(ttl)  # refuse a bad TTL before the loader runs
        try:
            raw = self._run(lambda: self.client.get(redis_key), redis_key)
        except CacheUnavailable:
            if not self.fail_open:
                raise
            return loader()
        if raw is not None:
            self.stats.hits += 1
            return self._decode(raw, redis_key)
        self.stats.misses += 1
        value = loader()
        self.set(key, value, ttl)
        return value

    # -- the atomic operations

    def add(self, key: str, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` only if ``key`` is absent (``SET … NX``); True if stored.

        An unreachable Redis raises ``CacheUnavailable`` even when failing open: the
        caller was coordinating with other processes, and must decide what to do alone.
        """
        redis_key = keys._redis_key(self.prefix, key)
        expiry = self._ttl_arguments(ttl)
        payload = to_json(value)
        stored = bool(
            self._run(lambda: self.client.set(redis_key, payload, nx=True, **expiry), redis_key)
        )
        if stored:
            self.stats.sets += 1
        return stored

    def delete_if_equal(self, key: str, value: Any) -> bool:
        """Delete ``key`` only if it holds ``value`` (compare-and-delete, one Lua script)."""
        redis_key = keys._redis_key(self.prefix, key)
        payload = to_json(value)
        deleted = bool(
            self._run(lambda: self._delete_if_equal(keys=[redis_key], args=[payload]), redis_key)
        )
        if deleted:
            self.stats.deletes += 1
        return deleted

    def replace_if_equal(self, key: str, expected: Any, value: Any, ttl: float) -> bool:
        """Store ``value`` for ``ttl`` seconds only if ``key`` holds ``expected`` (compare-and-set,
        one Lua script: a lock's holder renews it so); True if stored."""
        redis_key = keys._redis_key(self.prefix, key)
        milliseconds = str(max(1, round(_required_ttl(ttl) * 1000)))
        arguments = [to_json(expected), to_json(value), milliseconds]
        stored = bool(
            self._run(lambda: self._replace_if_equal(keys=[redis_key], args=arguments), redis_key)
        )
        if stored:
            self.stats.sets += 1
        return stored

    def set_and_release(
        self, key: str, value: Any, ttl: Optional[float] = None, *, lock_key: str, token: str
    ) -> bool:
        """If ``lock_key`` holds ``token``: store ``value`` under ``key`` and delete ``lock_key``.

        One Lua script, so nothing can come between the check and the store: a lease
        voided (deleted) a microsecond earlier means the value is not stored.
        """
        redis_key = keys._redis_key(self.prefix, key)
        redis_lock_key = keys._redis_key(self.prefix, lock_key)
        arguments = [to_json(value), to_json(token), self._ttl_argument(ttl)]
        stored = bool(
            self._run(
                lambda: self._set_and_release(keys=[redis_key, redis_lock_key], args=arguments),
                redis_key,
            )
        )
        if stored:
            self.stats.sets += 1
        return stored

    def increment(self, key: str, ttl: Optional[float] = None) -> int:
        """Add one to the whole number under ``key`` and return it (``INCR``, atomic); a key that
        is not there starts at the server's clock in microseconds (``_counter_epoch``), not at 1.

        ``ttl`` (if given) is set on the key each time, in the same script.
        """
        redis_key = keys._redis_key(self.prefix, key)
        argument = self._ttl_argument(ttl)
        value = int(
            self._run(lambda: self._increment(keys=[redis_key], args=[argument]), redis_key)
        )
        self.stats.sets += 1
        return value

    # -- for lessons

    def ttl_of(self, key: str) -> Optional[float]:
        """Seconds until ``key`` expires; ``None`` if it has no TTL or does not exist."""
        milliseconds = self.client.pttl(keys._redis_key(self.prefix, key))
        return milliseconds / 1000 if milliseconds >= 0 else None

    def __repr__(self) -> str:
        return f"RedisCache(prefix={self.prefix!r}, ttl={self.ttl}, fail_open={self.fail_open})"


def _delete_keys_under(
    client: redis.Redis, prefix: str, dry_run: bool = False, batch_size: int = 500
) -> int:
    """Delete every key under ``prefix`` with SCAN + UNLINK, in batches; return how many.

    The one place the course deletes keys in bulk (``RedisCache.clear`` and ``make reset``).
    ``prefix`` must be a valid course prefix (``keys._validate_prefix``), so nothing outside
    the course is reachable. SCAN walks the key space a little at a time instead of
    blocking the server like ``KEYS`` would; UNLINK frees memory in the background. With
    ``dry_run=True`` the keys are only counted. Never FLUSHDB or FLUSHALL: the server may
    hold other data. Key names that are not UTF-8 text are deleted like the others.
    """
    keys._validate_prefix(prefix)
    deleted = 0
    batch: list[bytes] = []
    pattern = keys._scan_pattern(prefix)
    # Key names as bytes, whatever the client decodes: a name under the prefix that is not
    # UTF-8 (written by someone else) must be deleted too, not raise UnicodeDecodeError.
    for redis_key in client.scan_iter(match=pattern, count=batch_size, **{NEVER_DECODE: True}):
        batch.append(redis_key)
        if len(batch) == batch_size:
            deleted += len(batch) if dry_run else client.unlink(*batch)
            batch = []
    if batch:
        deleted += len(batch) if dry_run else client.unlink(*batch)
    return deleted


def _required_ttl(ttl: Any) -> float:
    """A TTL that must be given: a renewed lock without one would never expire."""
    if ttl is None:
        raise TypeError("ttl must be a number of seconds: a lock without a TTL never expires")
    return validate_ttl(ttl)


def to_json(value: Any) -> str:
    """Encode ``value`` as compact JSON, or raise an error that names what could not be encoded.

    NaN and infinity are refused (``ValueError``): Python would write them as ``NaN`` and
    ``Infinity``, which are not JSON, and another program reading the cache would choke.
    """
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except TypeError as error:
        raise TypeError(
            f"a cached value must be JSON: dicts, lists, strings, numbers, booleans and None. "
            f"This one holds {_a(_unencodable_type(value) or type(value).__name__)}; convert it "
            f"first ({error})"
        ) from None
    except ValueError as error:  # NaN or infinity, or a list that contains itself
        raise ValueError(f"this value cannot be encoded as JSON: {error}") from None
    except RecursionError:
        raise ValueError("this value cannot be encoded as JSON: it is nested too deeply") from None


def _a(noun: str) -> str:
    """``"set"`` → ``"a set"``, ``"object"`` → ``"an object"``."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


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
