"""A near cache: an in-process tier in front of Redis that the server keeps fresh (lesson 11).

A ``RedisCache`` hit costs a round trip; a ``MemoryCache`` hit costs a dictionary lookup, but
each process's copy goes stale on its own. ``NearCache`` keeps both: a bounded ``MemoryCache``
(LRU, a TTL as a safety net) in front of a ``RedisCache``, and asks the server to say when a
key it copied changes. That is Redis's *client-side caching*: ``CLIENT TRACKING ON``.

Two modes (the ``bcast`` argument):

- **default**: the server remembers which keys this connection read, and sends an
  invalidation when one of them changes (once: it forgets the key until it is read again).
  It costs the server memory per key and client (bounded by ``tracking-table-max-keys``; when
  the table is full the server invalidates keys to make room).
- **BCAST** with prefixes: the server remembers nothing per key; every write to a key under
  one of the prefixes (here the learner's, ``cachelab:<learner>:``) is announced to every
  client subscribed to that prefix, whether it holds the key or not.

Two transports (the ``transport`` argument):

- ``"resp3"``: invalidations arrive as RESP3 *push* messages on the very connection that reads.
- ``"redirect"``: the RESP2 way. A second connection subscribes to ``__redis__:invalidate``
  and the reading connection is told ``CLIENT TRACKING ON REDIRECT <its id>``; invalidations
  arrive there as pub/sub messages.

Two options this class does not use, and what they are for:

- ``NOLOOP``: do not send a connection invalidations for keys it changed itself. Useful when
  the writer updates its own near copy on write; here writes go through the ``RedisCache``'s
  own connections, and ``set``/``delete`` drop the near copy themselves.
- ``OPTIN``: track only the reads that follow ``CLIENT CACHING yes``, so a client can keep
  the server's tracking table small by caching only what it chose (hot keys, small values).

Two failure modes the field knows, both handled:

- **the lost invalidation** (lesson 06 again): a read fetched a value, an invalidation for
  the key arrived before the value was stored, and the store keeps an old value. Each fetch
  is marked; an invalidation voids the marks of its key; a fetch whose mark was voided is
  returned to its caller but not stored (the Redis documentation describes this placeholder).
- **the dropped connection**: the server forgets a connection's tracking when it closes,
  and whatever changed meanwhile is never announced. Whenever a connection is (re)made,
  the near tier is flushed before tracking is turned on again. (The documentation also advises
  pinging the invalidation connection, to find one that hangs without closing; this class does
  not, a simplification: its TTL bounds what such a connection can cost.)

Invalidations are read when the cache is used: every ``get`` first reads what has arrived
(a non-blocking poll of the socket, as redis-py's own client-side cache does). ``peek`` is the
near hit alone, for a caller that must not wait (the web service's event loop, lesson 11), and
``keep`` chooses what is kept of a value read from Redis (the web service keeps the encoded HTTP
answer, so that a near hit encodes nothing). redis-py's
cache refuses any server whose ``HELLO`` does not name it ``redis``, or older than 7.4; the
course's bundled Valkey names itself ``valkey``, so the course builds its own -- which is the
point of the lesson.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Optional

import redis
from redis.connection import AbstractConnection

from cachelab import keys
from cachelab._internal.validation import validate_ttl, validate_whole_number
from cachelab.cache import CacheStats, MemoryCache, RedisCache

__all__ = ["NearCache"]

_TRANSPORTS = ("resp3", "redirect")
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError)
_INVALIDATE_CHANNEL = "__redis__:invalidate"


class NearCache:
    """A bounded in-process copy of a ``RedisCache``'s values, invalidated by the server.

    ``get`` answers from memory when it can (a *near hit*), else reads Redis over a tracked
    connection of its own and keeps a copy; ``set`` and ``delete`` go to Redis through
    ``shared`` and drop the near copy. At most ``max_entries`` copies are kept (least recently
    used evicted first), each for at most ``ttl`` seconds: the safety net for an invalidation
    that never came. A copy also lives no longer than its Redis key has left (``PTTL``, read
    with the value), so a near tier never stretches the TTL the shared cache gave a value.

    ``keep(key, value)``, if given, makes what is kept near (and what ``get`` and ``peek``
    return) from a value read from Redis, once per fetch: lesson 11's web service keeps the
    page's encoded HTTP answer rather than the value it would encode on every hit.

    ``guard_fetches=False`` and ``flush_on_reconnect=False`` switch off the two fixes, so that
    lesson 11 can show the failures they prevent; ``on_fetched(key)``, if given, is called
    between a fetch from Redis and its store, so a test or a lesson can land a write there.

    When Redis cannot be reached, the near copies are dropped (no invalidation can arrive) and
    ``get`` reads through ``shared``, which fails open or raises as it was made to.

    Threads may share one ``NearCache``: a lock serialises its use of its connections.

    >>> from cachelab import keys
    >>> shared = RedisCache(prefix=keys.learner_prefix() + "example:near:")
    >>> near = NearCache(shared, max_entries=100, ttl=60)
    >>> near.set("product:1", {"price_cents": 999})
    True
    >>> near.get("product:1"), near.get("product:1")  # read from Redis, then a near hit
    ({'price_cents': 999}, {'price_cents': 999})
    >>> _ = shared.set("product:1", {"price_cents": 1099})  # a write on another connection
    >>> near.wait_for_invalidation(timeout_s=1.0)
    True
    >>> near.get("product:1")
    {'price_cents': 1099}
    >>> near.close(); _ = shared.clear()
    """

    def __init__(
        self,
        shared: RedisCache,
        max_entries: int = 1000,
        ttl: float = 60.0,
        *,
        bcast: bool = False,
        transport: str = "resp3",
        guard_fetches: bool = True,
        flush_on_reconnect: bool = True,
        on_fetched: Optional[Callable[[str], None]] = None,
        keep: Optional[Callable[[str, Any], Any]] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if transport not in _TRANSPORTS:
            raise ValueError(f"transport must be 'resp3' or 'redirect', got {transport!r}")
        validate_whole_number(max_entries, "max_entries")
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.shared = shared
        if ttl is None:
            raise ValueError("a near cache needs a ttl: the safety net for a lost invalidation")
        self.local = MemoryCache(ttl=validate_ttl(ttl), max_entries=max_entries, clock=clock)
        self.bcast = bcast
        self.transport = transport
        self.guard_fetches = guard_fetches
        self.flush_on_reconnect = flush_on_reconnect
        self.on_fetched = on_fetched
        self.keep = keep
        self.stats = CacheStats()
        self.invalidations = 0
        self.reconnects = 0
        self._lock = threading.RLock()
        self._fetches: dict[str, set[int]] = {}  # key -> the marks of fetches under way
        self._next_mark = 0
        self._connected_once = False
        self._data_id: Optional[int] = None  # the server's CLIENT ID of each connection
        self._listener_id: Optional[int] = None
        pool = shared.client.connection_pool
        options = dict(pool.connection_kwargs)
        options["protocol"] = 3 if transport == "resp3" else 2
        self._data: AbstractConnection = pool.connection_class(**options)
        self._listener: Optional[AbstractConnection] = None
        if transport == "redirect":
            self._listener = pool.connection_class(**{**options, "protocol": 2})
        self._data.register_connect_callback(self._on_connect)
        with self._lock:
            self._data.connect()

    # -- connections

    def _on_connect(self, connection: AbstractConnection) -> None:
        """Turn tracking on for a new connection, and flush what an old one may have missed.

        redis-py calls this on every connect, also on a silent reconnect inside a command, so
        no connection reads without tracking. Between the old connection's end and this one's
        start the server announced nothing to us: every near copy may be stale.
        """
        if self._connected_once:
            self.reconnects += 1
            if self.flush_on_reconnect:
                self._forget_everything()
        self._connected_once = True
        connection.send_command("CLIENT", "ID")
        self._data_id = connection.read_response()
        arguments = ["CLIENT", "TRACKING", "ON"]
        if self._listener is not None:
            self._listener.disconnect()
            self._listener.connect()
            self._listener.send_command("CLIENT", "ID")
            self._listener_id = self._listener.read_response()
            self._listener.send_command("SUBSCRIBE", _INVALIDATE_CHANNEL)
            self._listener.read_response()
            arguments += ["REDIRECT", str(self._listener_id)]
        if self.bcast:
            arguments += ["BCAST", "PREFIX", self.shared.prefix]
        connection.send_command(*arguments)
        connection.read_response()
        if self.transport == "resp3":
            # The way redis-py's own client-side cache registers for push messages.
            connection._parser.set_invalidation_push_handler(self._on_push)

    def _forget_everything(self) -> None:
        """Drop every near copy and void every fetch under way."""
        self.local.clear()
        self._fetches.clear()

    def _on_push(self, message: list) -> None:
        """A RESP3 push ``["invalidate", [keys]]`` (``None`` instead of keys: drop everything)."""
        self._invalidate(message[1])

    def _invalidate(self, redis_keys: Optional[list]) -> None:
        self.invalidations += 1
        if redis_keys is None:  # the server flushed its data
            self._forget_everything()
            return
        for redis_key in redis_keys:
            if isinstance(redis_key, bytes):
                redis_key = redis_key.decode()
            if not redis_key.startswith(self.shared.prefix):
                continue
            key = redis_key[len(self.shared.prefix) :]
            self.local.delete(key)
            self._fetches.pop(key, None)  # a fetch under way now holds an old value

    def _drain(self, timeout_s: float = 0.0) -> None:
        """Read every invalidation that has arrived; wait up to ``timeout_s`` for the first.

        A connection found dead is closed, which flushes the near tier when it reconnects.
        """
        connection = self._listener if self._listener is not None else self._data
        try:
            if not connection.is_connected:
                self._data.disconnect()
                self._data.connect()
                return
            while connection.can_read(timeout=timeout_s):
                timeout_s = 0.0
                message = connection.read_response(push_request=True)
                if self._listener is not None:
                    if message and message[0] == "message" and message[1] == _INVALIDATE_CHANNEL:
                        self._invalidate(message[2])
                # resp3: the push handler has run already, inside read_response
        except _UNREACHABLE:
            self._data.disconnect()
            if self._listener is not None:
                self._listener.disconnect()
            self._data.connect()

    def wait_for_invalidation(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` seconds for an invalidation and apply it (and any that came
        with it); True if one arrived. Lessons use it to time the server's announcement."""
        with self._lock:
            before = self.invalidations
            self._drain(timeout_s)
            return self.invalidations > before

    def simulate_disconnect(self) -> None:
        """Break the tracking connection as a failing network would, without telling this cache:
        the socket is shut down, and the next call finds it dead. (A room learner cannot run
        ``CLIENT KILL``; this shows the same failure from the client's side.)"""
        with self._lock:
            connection = self._listener if self._listener is not None else self._data
            connection._sock.shutdown(socket.SHUT_RDWR)

    # -- the cache

    def peek(self, key: str, default: Any = None) -> Any:
        """The near copy of ``key`` (what ``keep`` made of it), or ``default``: never Redis.

        It applies the invalidations that have arrived first, as ``get`` does, and it never
        waits: while another thread uses this cache (a fetch under way) it answers ``default``
        at once. So a caller that must not block -- an event loop -- serves a near hit itself
        and hands anything else to ``get`` on a thread.
        """
        if not self._lock.acquire(blocking=False):
            return default
        try:
            self._drain()
            value = self.local.get(key, _MISSING)
            if value is _MISSING:
                return default  # not a miss yet: get, which the caller calls next, counts it
            self.stats.hits += 1
            return value
        except _UNREACHABLE:
            return default  # get, on a thread, reconnects or reads through shared
        finally:
            self._lock.release()

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``: the near copy if there is one, else Redis's (then copied here).

        A miss in Redis returns ``default`` and copies nothing. The Redis read goes over the
        tracked connection, so the server now announces changes to the key. With ``keep``, what
        comes back (from the near copy or from Redis) is what ``keep`` made of the value.
        """
        keys._validate_key(key)
        with self._lock:
            try:
                self._drain()
            except _UNREACHABLE:
                return self._without_redis(key, default)
            value = self.local.get(key, _MISSING)
            if value is not _MISSING:
                self.stats.hits += 1
                return value
            self.stats.misses += 1
            mark = self._next_mark
            self._next_mark += 1
            self._fetches.setdefault(key, set()).add(mark)
            try:
                raw, left_ms = self._fetch(keys._redis_key(self.shared.prefix, key))
            except _UNREACHABLE:
                return self._without_redis(key, default)
        if self.on_fetched is not None:
            self.on_fetched(key)
        with self._lock:
            try:
                self._drain()
            except _UNREACHABLE:  # gone since the fetch: nothing can invalidate what we keep now
                self._forget_everything()  # and this fetch with the rest: returned, not kept
            current = self._fetches.get(key, set())
            fresh = mark in current
            current.discard(mark)
            if not current:
                self._fetches.pop(key, None)
            if raw is None:
                return default
            value = self.shared._decode(raw, keys._redis_key(self.shared.prefix, key))
            if self.keep is not None:
                value = self.keep(key, value)
            if left_ms == 0:
                return value  # its Redis key expires now: nothing to keep
            ttl = self.local.ttl if left_ms < 0 else min(self.local.ttl, left_ms / 1000)
            if fresh or (not self.guard_fetches and self._data.is_connected):
                self.local.set(key, value, ttl)
            return value

    def _without_redis(self, key: str, default: Any) -> Any:
        """Redis cannot be reached: no invalidation can reach us either, so drop every copy and
        read through ``shared``, which fails open (``default``) or raises, as it was made to."""
        self._forget_everything()
        self._data.disconnect()
        return self.shared.get(key, default)

    def _fetch(self, redis_key: str) -> tuple[Optional[str], int]:
        """``GET`` and ``PTTL`` over the tracked connection, sent together: the value and the
        milliseconds its key has left (-1: no expiry). One retry on a reconnect (which flushed).
        """
        for attempt in (1, 2):
            try:
                self._data.send_command("GET", redis_key)
                self._data.send_command("PTTL", redis_key)
                return self._data.read_response(), self._data.read_response()
            except (redis.ConnectionError, redis.TimeoutError):
                self._data.disconnect()
                if attempt == 2:
                    raise
        return None, -2  # unreachable

    def set(self, key: str, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` in Redis (through ``shared``) and drop the near copy."""
        with self._lock:
            self.local.delete(key)
            self._fetches.pop(key, None)
        return self.shared.set(key, value, ttl)

    def delete(self, key: str) -> bool:
        """Delete ``key`` from Redis (through ``shared``) and drop the near copy."""
        with self._lock:
            self.local.delete(key)
            self._fetches.pop(key, None)
        return self.shared.delete(key)

    def close(self) -> None:
        """Close this cache's own connections (``shared`` stays open)."""
        with self._lock:
            self._data.deregister_connect_callback(self._on_connect)
            self._data.disconnect()
            if self._listener is not None:
                self._listener.disconnect()
            self._forget_everything()

    def __len__(self) -> int:
        return len(self.local)

    def __repr__(self) -> str:
        mode = "BCAST" if self.bcast else "default"
        return (
            f"NearCache({len(self)}/{self.local.max_entries} near copies, {mode} tracking over "
            f"{self.transport}, in front of {self.shared!r})"
        )


_MISSING = object()
