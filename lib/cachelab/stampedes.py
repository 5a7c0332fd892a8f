"""Stampedes: what happens when a hot key expires under load, and four ways to prevent it.

A key that many requests want (the homepage's trending list) expires. Every request
that arrives before someone has reloaded it misses, and with plain cache-aside
every miss asks the database: about ``1 + λD`` loads for one expiry, at read rate
λ and load time D -- a *stampede*, or thundering herd (lesson 08). This module holds
the building blocks that prevent it, each over any course cache:

- ``SingleFlight``           one load per key at a time: a lock in the cache (``SET NX``
  with a TTL, released only by its holder); the others wait for the value, and break a
  lock that would outlive ``lock_ttl``;
- ``EarlyRefresh``           probabilistic early recomputation (XFetch: Vattani,
  Chierichetti and Lowenstein, VLDB 2015): a reader refreshes a little before expiry,
  with a probability that rises as expiry nears;
- ``jittered_ttl``           spreads the TTLs of keys written together, so that they do
  not all expire together;
- ``StaleWhileRevalidate``   a soft and a hard TTL (as RFC 5861's ``stale-while-revalidate``
  and ``stale-if-error``): past the soft one, readers are served the old value at once
  while one background refresh runs; a failing loader is answered with the old value.

The locks are built from the three atomic operations of ``cache._AtomicCache``:
``add`` (Redis ``SET key token NX PX``: of two processes, exactly one gets the lock),
``delete_if_equal`` (compare-and-delete, one Lua script: only the holder's token
releases it) and ``set_and_release`` (store the value and release the lock in one
step, only while the lock is still ours). On a ``MemoryCache`` they coordinate the
threads of one process; on a ``RedisCache`` every process that shares the server.
Every lock and every stored record is a key from ``cachelab.keys``.

**On a server that evicts** (lesson 13), a lock or a refresh marker is an ordinary key
with a TTL: ``allkeys-*`` may evict it, and so may every ``volatile-*`` policy
(``volatile-ttl`` takes it first: its TTL is the shortest). Only ``noeviction`` keeps it.
A lost lock costs coordination, never correctness: a second request takes the lock and
loads beside the first, and the first one's fill is refused (``stats.late_fills``),
because a fill lands only while the lock still holds its holder's token -- so a slower,
older load never overwrites a newer value. Under steady memory pressure the guard
thins out into the herd it was there to stop; size the cache (lesson 13) so that it
does not evict every second, or keep the locks on a server that does not evict.

Times that are *stored* (an expiry, the moment a value was loaded) are read from
``clock``, by default ``time.time`` -- wall-clock seconds, which every process sharing
a Redis reads alike. Tests and lessons pass a ``FakeClock`` instead.

>>> from cachelab.cache import MemoryCache
>>> flight = SingleFlight(MemoryCache(), lock_ttl=5, wait_timeout=10)
>>> flight.get_or_load("trending:days=7:limit=10", lambda: ["kettle", "mug"], ttl=60)
['kettle', 'mug']
>>> flight.get_or_load("trending:days=7:limit=10", lambda: ["never", "called"], ttl=60)
['kettle', 'mug']
>>> flight.stats.loads, flight.stats.hits
(1, 1)
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Optional

import redis

from cachelab import keys
from cachelab._internal.validation import MAX_TTL_S, validate_number, validate_ttl
from cachelab.cache import Cache, CacheKeyError, CacheUnavailable, RedisCache, _AtomicCache

__all__ = [
    "EarlyRefresh",
    "SingleFlight",
    "StaleWhileRevalidate",
    "WaitTimeout",
    "jittered_ttl",
    "xfetch_probability",
]

_MISSING = object()  # "not in the cache", so that a cached None is still a hit
_UNREADABLE = object()  # a lock holding something the cache cannot decode (another client's)

_LOCK_FINGERPRINT = """
local function fingerprint()
    local kind = redis.call('TYPE', KEYS[1]).ok
    if kind == 'none' then return false end
    if kind ~= 'string' then return 'type:' .. kind end
    return redis.sha1hex(redis.call('GET', KEYS[1]))
end
"""
"""Lua: a fingerprint of what a lock key holds, any client's bytes (sha1), or false if none."""

_DELETE_IF_FINGERPRINT = """
if fingerprint() == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
"""Lua: delete the lock key only if its fingerprint is still ``ARGV[1]`` (compare-and-delete)."""

_MAX_MARKERS_REMEMBERED = 10_000
"""How many keys' refresh markers a ``StaleWhileRevalidate`` remembers trying; past it, it forgets
them all (the cost: one more ``SET NX`` per key)."""

_MAX_SPREAD = 0.5
"""The widest jitter ``jittered_ttl`` accepts: ±50 %. Jitter is a small spread around a TTL
you chose; at ±50 % one key may already live three times as long as another."""


class WaitTimeout(TimeoutError):
    """A ``SingleFlight`` waiter waited ``wait_timeout`` seconds and the value did not come.

    Another process holds the key's lock and has not stored a value yet (its load is
    slow, or it died and the lock's TTL has not run out). The caller decides what to
    show instead: an error page, a ``503`` with ``Retry-After``, a fallback.
    """


@dataclass
class _StampedeStats:
    """What one stampede guard has done, counted (each class uses the counters it needs).

    ``hits``                served from the cache, fresh, without waiting;
    ``loads``               calls of the loader by this object (each is one database load);
    ``waits``               requests that waited for another's load (``SingleFlight``);
    ``timeouts``            waits that ran out (``WaitTimeout`` raised);
    ``late_fills``          loads whose lock had expired by the time they finished: not stored;
    ``lock_renewals``       times a holder renewed its lock while its load ran (``SingleFlight``);
    ``broken_locks``        locks that would have outlived ``lock_ttl``, broken by a waiter;
    ``uncoordinated``       loads done without a lock because the cache was unavailable;
    ``early_refreshes``     loads made before expiry, by the XFetch rule (``EarlyRefresh``);
    ``stale_served``        requests served a value past its soft TTL (``StaleWhileRevalidate``);
    ``refreshes``           background refreshes started;
    ``refresh_errors``      background refreshes whose loader raised;
    ``stale_if_error``      requests whose own load raised, answered with the stale value.
    """

    hits: int = 0
    loads: int = 0
    waits: int = 0
    timeouts: int = 0
    late_fills: int = 0
    lock_renewals: int = 0
    broken_locks: int = 0
    uncoordinated: int = 0
    early_refreshes: int = 0
    stale_served: int = 0
    refreshes: int = 0
    refresh_errors: int = 0
    stale_if_error: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``name`` (threads may count at once: a lock keeps it exact)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def as_dict(self) -> dict[str, int]:
        """The counters, ready to print or show as a table."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            for name in self.as_dict():
                setattr(self, name, 0)


def _validate_cache(cache: Any, needs_atomic: bool) -> Any:
    kind, named = (_AtomicCache, "AtomicCache") if needs_atomic else (Cache, "Cache")
    if not isinstance(cache, kind):
        raise TypeError(
            f"cache must be a course cache ({named}: a MemoryCache or a RedisCache), "
            f"got {type(cache).__name__} {cache!r}"
        )
    return cache


def _validate_loader(loader: Any) -> Callable[[], Any]:
    if not callable(loader):
        raise TypeError(
            f"loader must be a function that takes no arguments and returns the value, "
            f"got {type(loader).__name__} {loader!r}"
        )
    return loader


def _validate_clock(clock: Any, name: str = "clock") -> Callable[[], float]:
    if not callable(clock):
        raise TypeError(
            f"{name} must be a function (such as time.time, or a FakeClock), got {clock!r}"
        )
    return clock


def _validate_rng(rng: Any) -> Any:
    if rng is None:
        return random.Random()
    if not callable(getattr(rng, "random", None)):
        raise TypeError(
            f"rng must be a random.Random (anything with a .random() method), got {rng!r}"
        )
    return rng


def _any_value(value: Any) -> bool:
    """``SingleFlight``'s default ``usable``: every cached value may be served."""
    return True


def _new_token() -> str:
    return uuid.uuid4().hex


def _quietly_release(cache: _AtomicCache, lock_key: str, token: str) -> None:
    """Release a lock we hold; if the cache cannot answer, its TTL releases it instead."""
    try:
        cache.delete_if_equal(lock_key, token)
    except CacheUnavailable:
        pass


# --------------------------------------------------------------------------- single-flight


class _LockKeeper:
    """Keeps a held lock alive while its holder loads: a heartbeat, as Redisson's lock watchdog.

    Every ``lock_ttl / 3`` seconds a thread swaps the lock's token for a new one and
    restarts its TTL (``replace_if_equal``: only while the lock still holds ours). Unlike
    Redisson's watchdog, a new token each time, so a waiter that sees one value held for
    ``lock_ttl`` still knows the lock is broken: a live holder changes it. A holder that
    dies stops renewing, and its lock expires as before. Renewals stop after ``give_up_s``
    or once the lock is lost; ``stop`` ends them and returns the token the lock holds now.
    A renewal whose answer is lost (a timeout) may or may not have swapped the token: the
    next beat, or ``stop``, reads the lock to find out which one it holds. The heartbeat
    runs on real time, in a daemon thread.
    """

    def __init__(
        self, cache: _AtomicCache, lock_key: str, token: str, lock_ttl: float, give_up_s: float
    ) -> None:
        self.cache, self.lock_key, self.token, self.lock_ttl = cache, lock_key, token, lock_ttl
        self.renewals = 0
        self._unsure: Optional[str] = None  # a token a renewal may have stored; no answer came
        self._give_up_at = time.monotonic() + give_up_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="cachelab-lock-keeper", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._done.wait(self.lock_ttl / 3) and time.monotonic() < self._give_up_at:
            try:
                if not self._settle():
                    return  # lost: it expired, or was broken, and another request holds it
                new_token = self._unsure = _new_token()
                swapped = self.cache.replace_if_equal(
                    self.lock_key, self.token, new_token, self.lock_ttl
                )
            except CacheUnavailable:
                continue  # no answer: the next beat finds out what the lock holds
            self._unsure = None
            if not swapped:
                return  # lost
            self.token = new_token
            self.renewals += 1

    def _settle(self) -> bool:
        """After a renewal that got no answer, read which of our tokens the lock holds (if one).

        True while the lock is still ours.
        """
        if self._unsure is None:
            return True
        held = self.cache.get(self.lock_key)
        if held == self._unsure:
            self.token = held
        self._unsure = None
        return held == self.token

    def stop(self) -> str:
        """End the renewals; the token the lock holds now (if it is still ours)."""
        self._done.set()
        self._thread.join()
        try:
            self._settle()
        except CacheUnavailable:
            pass  # the fill will tell: it is refused unless the lock holds this token
        return self.token


@dataclass
class _LockWatch:
    """What one waiter has seen of the lock it waits on: the value, since when, how many polls.

    ``SingleFlight`` keeps one per waiting request, to tell a lock held for
    ``lock_ttl`` seconds by one holder (broken) from locks taken in turn by live ones.
    ``looked_at`` is when the lock was last looked at (it is looked at on the first
    poll, then every ``LOOK_EVERY_S`` at most, not on every poll: two more calls).
    """

    held: Any = _MISSING
    since: float = 0.0
    polls: int = 0
    looked_at: Optional[float] = None

    LOOK_EVERY_S = 0.1


class SingleFlight:
    """Cache-aside in which only one request per key loads; the others wait for its value.

    On a miss, a request tries to take the key's lock, ``keys.lock(key)``, with
    ``cache.add(lock, token, lock_ttl)`` -- on Redis ``SET lock token NX PX``, so of all
    the processes that miss at once exactly one gets it. The holder loads, then stores
    the value *and* releases the lock in one step (``cache.set_and_release``), but only
    if the lock still holds its own token. Everyone else polls the cache every
    ``poll_interval`` seconds for the value, and does **not** go to the database.

    The lock expires after ``lock_ttl`` seconds, so a holder that crashes mid-load blocks the others
    for at most that long: the lock disappears, one waiter takes it and loads. **A lock that would
    live longer is broken.** Anything may write the lock's key -- another client, a bug, a
    ``PERSIST`` -- and a lock with no TTL would otherwise turn every miss into a failed wait,
    forever. So a waiter treats as broken a lock that the cache says has no TTL, or more than
    ``lock_ttl`` left (a ``RedisCache`` says, through ``ttl_of``), and a lock it has itself seen
    held, with one value, for ``lock_ttl`` seconds (on any cache). It deletes that lock only while
    it still holds what was seen (on Redis, one Lua script compares its raw bytes and deletes) and
    takes its place; ``stats.broken_locks`` counts them. Every ``SingleFlight`` sharing a key should
    therefore use one ``lock_ttl``: a longer one's locks look broken to a shorter one.

    **A slow load keeps its lock.** A herd slows its own loads, so a load can outlast
    ``lock_ttl``. If the lock then expired, a waiter would take it and load again, and
    the first holder's fill would be refused: every fill refused, nothing cached. So
    while it loads, the holder renews its lock every ``lock_ttl / 3`` seconds, with a new
    token each time (``_LockKeeper``, counted in ``stats.lock_renewals``), for up to
    ``wait_timeout``: a holder that hangs while alive blocks the others for at most
    ``wait_timeout + lock_ttl``, and one that dies stops renewing, so its lock expires
    within ``lock_ttl``. A load longer than ``wait_timeout + lock_ttl`` is therefore
    loaded again by a request that arrives after its lock expired. A holder whose lock
    was lost (renewals stopped, or the cache was unreachable) still returns its value
    but does not store it (``stats.late_fills``), and cannot release someone else's lock
    (compare-and-delete, one Lua script on Redis).

    **A waiter that waits longer than** ``wait_timeout`` **gets a** ``WaitTimeout``.
    Not a load of its own: the waits that run out are those where the load is slow,
    which is when the database is busiest, and letting every waiter load then would
    rebuild the herd at the worst moment. Not a stale value either: this class keeps
    none (``StaleWhileRevalidate`` is the one that serves stale on purpose). An error
    is bounded (a waiter returns within ``wait_timeout`` plus one poll), visible, and
    leaves the choice of fallback to the caller. Give ``wait_timeout`` more than
    ``lock_ttl`` plus one load, so that a waiter outlives a crashed holder's lock and
    is served by the waiter that takes over.

    If the shared cache is down (``CacheUnavailable`` from the lock), nothing can be
    coordinated: the request loads by itself, as lesson 04's fail-open does, and it
    is counted in ``stats.uncoordinated``. A loader that raises releases the lock at
    once, so the next request tries again; its error reaches its own caller.

    ``clock`` and ``sleep`` measure and spend the waiting time (``time.monotonic`` and
    ``time.sleep``; a test passes a ``FakeClock`` and its ``advance``). The lock's TTL
    is kept by the cache itself (by Redis, or by a ``MemoryCache``'s own clock).

    ``get_or_load`` waits by sleeping, which holds its thread. A caller that must not
    hold one -- an ``async`` web handler -- calls ``attempt`` instead, which never waits,
    and waits its own way between attempts (``cachelab.web._app`` does).

    >>> from cachelab.cache import MemoryCache
    >>> from cachelab.clock import FakeClock
    >>> clock = FakeClock()
    >>> cache = MemoryCache(clock=clock)
    >>> flight = SingleFlight(cache, lock_ttl=5, wait_timeout=1, clock=clock, sleep=clock.advance)
    >>> cache.add(keys.lock("k"), "another process's token", 5)  # someone else is loading "k"
    True
    >>> flight.get_or_load("k", lambda: "value")
    Traceback (most recent call last):
    ...
    cachelab.stampedes.WaitTimeout: waited 1 s for another request's load of 'k' ...
    """

    def __init__(
        self,
        cache: _AtomicCache,
        lock_ttl: float = 5.0,
        wait_timeout: float = 10.0,
        *,
        poll_interval: float = 0.005,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.cache = _validate_cache(cache, needs_atomic=True)
        if lock_ttl is None:
            raise TypeError(
                "lock_ttl must be a number of seconds: a lock that never expires blocks every "
                "waiter forever once its holder dies"
            )
        self.lock_ttl = validate_ttl(lock_ttl, "lock_ttl")
        self.wait_timeout = validate_number(
            wait_timeout, "wait_timeout", above=0, maximum=MAX_TTL_S, unit="seconds"
        )
        self.poll_interval = validate_number(
            poll_interval, "poll_interval", above=0, maximum=60, unit="seconds"
        )
        self.clock = _validate_clock(clock)
        self.sleep = _validate_clock(sleep, "sleep")
        self.stats = _StampedeStats()

    def acquire(self, key: str) -> Optional[str]:
        """Try to take the lock on ``key``; return the token that proves it, or None if taken.

        Raises ``CacheUnavailable`` when the cache cannot answer.
        """
        token = _new_token()
        return token if self.cache.add(keys.lock(key), token, self.lock_ttl) else None

    def release(self, key: str, token: str) -> bool:
        """Release the lock on ``key`` if ``token`` still holds it; True if released.

        Anyone else's token -- or ours after the lock expired and another request took
        it -- releases nothing.
        """
        return self.cache.delete_if_equal(keys.lock(keys._validate_key(key)), token)

    def get_or_load(
        self,
        key: str,
        loader: Callable[[], Any],
        ttl: Optional[float] = None,
        *,
        usable: Callable[[Any], bool] = _any_value,
    ) -> Any:
        """The cached value of ``key``; on a miss, ``loader()``'s -- loaded by one request only.

        ``ttl`` is the value's TTL (None: the cache's default). Raises ``WaitTimeout``
        when another request's load does not land within ``wait_timeout`` seconds.
        ``usable(value)`` False makes a cached value count as a miss (a record too old
        to serve: ``StaleWhileRevalidate`` passes one).
        """
        keys._validate_key(key)
        _validate_loader(loader)
        validate_ttl(ttl)
        value = self._usable_value(key, usable)
        if value is not _MISSING:
            self.stats.count("hits")
            return value
        deadline = self.clock() + self.wait_timeout
        watch = _LockWatch()
        while True:
            done, value = self._take_or_watch(key, loader, ttl, watch, usable)
            if done:
                return value
            if watch.polls == 1:
                self.stats.count("waits")
            remaining = deadline - self.clock()
            if remaining <= 0:
                self.stats.count("timeouts")
                raise WaitTimeout(
                    f"waited {self.wait_timeout:g} s for another request's load of {key!r} "
                    f"(its lock {keys.lock(key)!r} is still held); the load is slow or its "
                    f"holder died and the lock lives {self.lock_ttl:g} s"
                )
            self.sleep(min(self.poll_interval, remaining))
            value = self._usable_value(key, usable)
            if value is not _MISSING:
                return value

    def _usable_value(self, key: str, usable: Callable[[Any], bool]) -> Any:
        """The cached value of ``key`` if there is one and ``usable`` accepts it; else _MISSING."""
        value = self.cache.get(key, _MISSING)
        return value if value is not _MISSING and usable(value) else _MISSING

    def attempt(
        self,
        key: str,
        loader: Callable[[], Any],
        ttl: Optional[float] = None,
        watch: Optional["_LockWatch"] = None,
    ) -> tuple[bool, Any]:
        """One step of ``get_or_load`` that never waits: ``(True, value)`` or ``(False, None)``.

        ``(True, value)`` when the value is cached, or when this call took the lock (or
        broke a broken one) and loaded it; ``(False, None)`` when another request holds
        the lock: try again a little later, passing the same ``watch`` (a ``_LockWatch``)
        each time, so that a lock held too long is seen to be. Counts loads and broken
        locks; waiting, and giving up, are the caller's.

        >>> from cachelab.cache import MemoryCache
        >>> flight = SingleFlight(MemoryCache(), lock_ttl=5)
        >>> flight.attempt("k", lambda: "loaded")
        (True, 'loaded')
        >>> flight.cache.add(keys.lock("j"), "another request's token", 5)
        True
        >>> flight.attempt("j", lambda: "loaded", watch=_LockWatch())
        (False, None)
        """
        keys._validate_key(key)
        _validate_loader(loader)
        validate_ttl(ttl)
        value = self.cache.get(key, _MISSING)
        if value is not _MISSING:
            return True, value
        return self._take_or_watch(key, loader, ttl, watch if watch is not None else _LockWatch())

    def _take_or_watch(
        self,
        key: str,
        loader: Callable[[], Any],
        ttl: Optional[float],
        watch: "_LockWatch",
        usable: Callable[[Any], bool] = _any_value,
    ) -> tuple[bool, Any]:
        """Take the lock and load; or, if it is held, look at it (and break it if it is broken)."""
        try:
            token = self.acquire(key)
            if token is None and self._time_to_look(watch) and self._break_if_broken(key, watch):
                token = self.acquire(key)
        except CacheUnavailable:
            self.stats.count("uncoordinated")
            self.stats.count("loads")
            return True, loader()
        if token is not None:
            return True, self._load_holding_the_lock(key, loader, ttl, token, usable)
        watch.polls += 1
        return False, None

    def _time_to_look(self, watch: "_LockWatch") -> bool:
        """Whether to look at the lock now: first, then every ``LOOK_EVERY_S`` (or sooner)."""
        now = self.clock()
        every = min(_LockWatch.LOOK_EVERY_S, self.lock_ttl / 10)
        if watch.looked_at is not None and now - watch.looked_at < every:
            return False
        watch.looked_at = now
        return True

    def _break_if_broken(self, key: str, watch: "_LockWatch") -> bool:
        """Whether the lock on ``key`` was broken (and deleted) now; see the class docstring."""
        lock_key = keys.lock(key)
        held = self._read_lock(lock_key)
        if held is _MISSING:
            return False  # released meanwhile: the next acquire may get it
        now = self.clock()
        if watch.held is _MISSING or held != watch.held:
            watch.held, watch.since = held, now
        broken = now - watch.since >= self.lock_ttl or self._outlives_lock_ttl(lock_key)
        if not broken or not self._delete_lock_if(lock_key, held):
            return False
        self.stats.count("broken_locks")
        watch.held = _MISSING
        return True

    def _read_lock(self, lock_key: str) -> Any:
        """What the lock holds, to compare with what was seen before; ``_MISSING`` if none.

        On Redis, a fingerprint of its raw bytes (``_LOCK_FINGERPRINT``), so that any
        client's value compares exactly and can be deleted only if it is still the one
        judged broken (``_delete_lock_if``). Elsewhere the value itself.
        """
        if isinstance(self.cache, RedisCache):
            redis_key = keys._redis_key(self.cache.prefix, lock_key)
            try:
                found = self.cache.client.eval(
                    _LOCK_FINGERPRINT + "return fingerprint()", 1, redis_key
                )
            except redis.RedisError:  # cannot look: the next acquire reports the outage
                return _MISSING
            return _MISSING if found is None else found
        try:
            return self.cache.get(lock_key, _MISSING)
        except CacheKeyError:  # another client's bytes: still a lock, just not ours to read
            return _UNREADABLE

    def _delete_lock_if(self, lock_key: str, held: Any) -> bool:
        """Delete the lock if it still holds ``held`` (as ``_read_lock`` read it); True if deleted.

        On Redis one Lua script compares the raw bytes' fingerprint and deletes, so a live
        holder that took the lock since it was judged broken keeps it. Elsewhere (a
        ``MemoryCache``: the threads of one process) ``delete_if_equal``.
        """
        if isinstance(self.cache, RedisCache):
            redis_key = keys._redis_key(self.cache.prefix, lock_key)
            script = _LOCK_FINGERPRINT + _DELETE_IF_FINGERPRINT
            try:
                return bool(self.cache.client.eval(script, 1, redis_key, held))
            except redis.RedisError:
                return False
        if held is _UNREADABLE:
            return False
        return self.cache.delete_if_equal(lock_key, held)

    def _outlives_lock_ttl(self, lock_key: str) -> bool:
        """Whether the cache says the lock has no TTL, or more than ``lock_ttl`` left.

        Only a cache that can tell (``RedisCache.ttl_of``) is asked; for the others,
        a lock is judged by how long it has been seen held.
        """
        ttl_of = getattr(self.cache, "ttl_of", None)
        if ttl_of is None:
            return False
        try:
            remaining = ttl_of(lock_key)
            if remaining is None:  # no TTL -- or gone since we read it: then nothing is lost
                return True
        except redis.RedisError:  # cannot tell: judge by what has been seen
            return False
        return remaining > self.lock_ttl + 0.01  # PX rounds to the millisecond

    def _load_holding_the_lock(
        self,
        key: str,
        loader: Callable[[], Any],
        ttl: Optional[float],
        token: str,
        usable: Callable[[Any], bool],
    ) -> Any:
        lock_key = keys.lock(key)
        # The holder before us may have stored the value and released the lock between our
        # miss and our add: then the value is there, and loading again would be a second load.
        value = self._usable_value(key, usable)
        if value is not _MISSING:
            _quietly_release(self.cache, lock_key, token)
            return value
        keeper = _LockKeeper(self.cache, lock_key, token, self.lock_ttl, self.wait_timeout)
        try:
            value = loader()
        except BaseException:
            _quietly_release(self.cache, lock_key, keeper.stop())  # the next request may try now
            raise
        finally:
            token = keeper.stop()
            self.stats.count("lock_renewals", keeper.renewals)
        self.stats.count("loads")
        try:
            stored = self.cache.set_and_release(key, value, ttl, lock_key=lock_key, token=token)
        except CacheUnavailable:
            stored = True  # nothing to coordinate with any more; the value is still good
        if not stored:
            self.stats.count("late_fills")
        return value

    def __repr__(self) -> str:
        return (
            f"SingleFlight({self.cache!r}, lock_ttl={self.lock_ttl:g}, "
            f"wait_timeout={self.wait_timeout:g})"
        )


# --------------------------------------------------------------------------- early refresh


def xfetch_probability(gap_s: float, delta_s: float, beta: float = 1.0) -> float:
    """The chance that one read ``gap_s`` seconds before expiry refreshes early, by XFetch's rule.

    A read refreshes when ``now − Δ·β·ln(u) ≥ expiry`` for ``u`` uniform in (0, 1]; with
    ``gap = expiry − now`` that is ``u ≤ exp(−gap / (Δ·β))``, so the probability is
    ``exp(−gap / (Δ·β))``: 1 at expiry, ``1/e`` one ``Δ·β`` earlier. A read at or past
    expiry always reloads.

    >>> xfetch_probability(0.0, delta_s=0.05), round(xfetch_probability(0.05, 0.05), 3)
    (1.0, 0.368)
    """
    gap_s = validate_number(gap_s, "gap_s", unit="seconds")
    delta_s = validate_number(delta_s, "delta_s", minimum=0, unit="seconds")
    beta = validate_number(beta, "beta", above=0, maximum=100)
    if gap_s <= 0:
        return 1.0
    if delta_s == 0:
        return 0.0
    return math.exp(-gap_s / (delta_s * beta))


class EarlyRefresh:
    """Cache-aside that refreshes a value a little *before* it expires, at random (XFetch).

    Vattani, Chierichetti and Lowenstein (VLDB 2015) give the rule: keep, with the
    value, the time ``Δ`` its last recomputation took and its expiry time; a reader
    recomputes early when ``now − Δ·β·ln(rand()) ≥ expiry``. Since ``−ln(rand())`` is
    a random positive number (exponentially distributed, mean 1), each read draws a
    random "look-ahead" of mean ``Δ·β`` and refreshes if that reaches past expiry. Far
    from expiry that almost never happens; close to it, it almost surely does
    (``xfetch_probability``). So a value read often is usually reloaded shortly before
    it expires, while the other readers are still served the valid one. ``β`` above 1
    refreshes earlier, below 1 later; a slow recomputation (large ``Δ``) starts earlier.

    The value is kept under ``keys._early_refresh(key)`` as ``{"value", "delta_s",
    "expires_at"}``, with the cache's own TTL as a backstop. ``Δ`` and the expiry are
    measured by ``clock`` (``time.time`` by default: every process reads the same
    expiry from a shared Redis). ``rng`` draws the random numbers: pass a seeded
    ``random.Random`` to make a run repeatable.

    The rule coordinates nothing: two readers that both decide to refresh both load.
    That is common when reads are frequent next to the recomputation time (``λ·Δ``
    well above 1): the readers that arrive while the first refresh runs are closer
    still to expiry, and each draws again. Pass ``lock_ttl`` to let one early refresh
    run at a time (it must take the marker ``keys.refresh_lock(key)`` with
    ``cache.add``, so the cache must be an ``_AtomicCache``); the others go on serving
    the valid value. Neither form protects a value that expires before anyone
    refreshed it: that miss is plain cache-aside again.

    >>> from cachelab.cache import MemoryCache
    >>> from cachelab.clock import FakeClock
    >>> clock = FakeClock()
    >>> def slow_loader():                  # a recomputation that takes 2 s of (fake) time
    ...     clock.advance(2)
    ...     return "page"
    >>> early = EarlyRefresh(MemoryCache(clock=clock), beta=1.0, rng=random.Random(1), clock=clock)
    >>> early.get_or_load("home", slow_loader, ttl=60)
    'page'
    >>> early.entry("home")
    {'value': 'page', 'delta_s': 2.0, 'expires_at': 62.0}
    """

    def __init__(
        self,
        cache: Cache,
        beta: float = 1.0,
        rng: Optional[random.Random] = None,
        *,
        lock_ttl: Optional[float] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = _validate_cache(cache, needs_atomic=lock_ttl is not None)
        self.beta = validate_number(beta, "beta", above=0, maximum=100)
        self.rng = _validate_rng(rng)
        self.lock_ttl = validate_ttl(lock_ttl, "lock_ttl")
        self.clock = _validate_clock(clock)
        self.stats = _StampedeStats()

    def entry(self, key: str) -> Optional[dict]:
        """The stored ``{"value", "delta_s", "expires_at"}`` of ``key``, or None."""
        return self.cache.get(keys._early_refresh(key))

    def should_refresh(self, delta_s: float, expires_at: float) -> bool:
        """XFetch's rule, with one fresh random number: ``now − Δ·β·ln(rand()) ≥ expiry``."""
        u = 1.0 - self.rng.random()  # in (0, 1]: ln(0) would be minus infinity
        return self.clock() - delta_s * self.beta * math.log(u) >= expires_at

    def get_or_load(self, key: str, loader: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """The cached value of ``key``, reloaded early by XFetch's rule; ``loader()``'s on a miss.

        ``ttl`` is the value's TTL (None: the cache's default ``ttl``, which must be set:
        a value that never expires has nothing to refresh early).
        """
        stored_key = keys._early_refresh(key)
        _validate_loader(loader)
        validate_ttl(ttl)
        if ttl is None:
            ttl = getattr(self.cache, "ttl", None)
            if ttl is None:
                raise ValueError(
                    "EarlyRefresh needs a ttl: pass ttl= or give the cache a default ttl"
                )
        entry = self.cache.get(stored_key)
        token = None
        if _is_early_entry(entry):
            if not self.should_refresh(entry["delta_s"], entry["expires_at"]):
                self.stats.count("hits")
                return entry["value"]
            if self.clock() < entry["expires_at"]:  # early: the value is still valid
                if self.lock_ttl is not None:
                    token = _new_token()
                    if not self.cache.add(keys.refresh_lock(key), token, self.lock_ttl):
                        self.stats.count("hits")  # another early refresh is running
                        return entry["value"]
                    # One may have landed, and released the marker, since we read the entry.
                    current = self.cache.get(stored_key)
                    if _is_early_entry(current) and current["expires_at"] != entry["expires_at"]:
                        _quietly_release(self.cache, keys.refresh_lock(key), token)
                        self.stats.count("hits")
                        return current["value"]
                self.stats.count("early_refreshes")
        started = self.clock()
        try:
            value = loader()
        except BaseException:
            if token is not None:
                _quietly_release(self.cache, keys.refresh_lock(key), token)
            raise
        self.stats.count("loads")
        delta_s = max(0.0, self.clock() - started)
        if token is None:
            self.store(key, value, delta_s=delta_s, ttl=ttl)
        else:
            self.cache.set_and_release(
                stored_key,
                self._entry(value, delta_s, ttl),
                ttl,
                lock_key=keys.refresh_lock(key),
                token=token,
            )
        return value

    def _entry(self, value: Any, delta_s: float, ttl: float) -> dict:
        return {"value": value, "delta_s": delta_s, "expires_at": self.clock() + ttl}

    def store(self, key: str, value: Any, delta_s: float, ttl: float) -> bool:
        """Store ``value`` as a load that took ``delta_s`` seconds would: a warm-up, say.

        It expires ``ttl`` seconds from now, by ``clock``.
        """
        delta_s = validate_number(delta_s, "delta_s", minimum=0, unit="seconds")
        if ttl is None:
            raise TypeError("ttl must be a number of seconds, got None")
        validate_ttl(ttl)
        return self.cache.set(keys._early_refresh(key), self._entry(value, delta_s, ttl), ttl)

    def __repr__(self) -> str:
        lock = f", lock_ttl={self.lock_ttl:g}" if self.lock_ttl is not None else ""
        return f"EarlyRefresh({self.cache!r}, beta={self.beta:g}{lock})"


def _is_early_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and {"value", "delta_s", "expires_at"} <= entry.keys()


# --------------------------------------------------------------------------- jitter


def jittered_ttl(ttl: float, spread: float = 0.1, rng: Optional[random.Random] = None) -> float:
    """``ttl`` spread at random by up to ±``spread`` (0.1: ±10 %), uniformly.

    Keys written together -- a cache warm-up, a deploy, a batch job -- expire together
    if they share one TTL, and reload together: a spike of database loads every TTL.
    Giving each its own TTL in ``[ttl·(1 − spread), ttl·(1 + spread)]`` spreads those
    expiries over ``2·spread·ttl`` seconds. The result never exceeds the longest TTL
    the caches accept (``validation.MAX_TTL_S``).

    >>> ttls = [jittered_ttl(60, spread=0.1, rng=random.Random(seed)) for seed in range(1000)]
    >>> 54 <= min(ttls) < max(ttls) <= 66
    True
    """
    if ttl is None:
        raise TypeError("ttl must be a number of seconds to spread, got None (never expires)")
    validate_ttl(ttl)
    spread = validate_number(spread, "spread", minimum=0, maximum=_MAX_SPREAD)
    rng = _validate_rng(rng)
    factor = 1.0 + spread * (2.0 * rng.random() - 1.0)
    return min(ttl * factor, float(MAX_TTL_S))


# --------------------------------------------------------------------------- stale-while-revalidate


def _start_daemon_thread(job: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=job, name="cachelab-refresh", daemon=True)
    thread.start()
    return thread


class StaleWhileRevalidate:
    """Serve a value past its soft TTL at once, and refresh it in the background (RFC 5861).

    A value loaded ``age`` seconds ago is

    - **fresh** while ``age < fresh_ttl``: served, nothing else happens;
    - **stale** while ``fresh_ttl ≤ age < stale_ttl``: served at once, and one
      background refresh starts -- one per key at a time, across every process sharing
      the cache: it needs the marker ``keys.refresh_lock(key)``, taken with ``cache.add``
      for ``lock_ttl`` seconds and released by the fill (``cache.set_and_release``);
    - **too old** once ``age ≥ stale_ttl`` (or not cached at all): never served as a
      normal answer; the reader waits for a load, as in plain cache-aside -- but one load
      per key at a time: the foreground load goes through a ``SingleFlight`` (its lock
      ``keys.lock`` of the stored key, ``lock_ttl``, ``wait_timeout``), so the readers
      that arrive meanwhile wait for its value instead of each loading. A waiter whose
      wait runs out gets the stale value if there is one it may serve for errors, and
      ``WaitTimeout`` otherwise.

    What it costs Redis per read: one ``GET`` of the stored record. A stale read also
    tries to take the refresh marker (``SET NX``), at most once per key per ``lock_ttl``
    in each object: after an attempt, this object leaves the marker alone for
    ``lock_ttl``, since whoever took it is refreshing (or failed, and keeps it that long).

    That is RFC 5861's ``Cache-Control: max-age=<fresh_ttl>,
    stale-while-revalidate=<stale_ttl − fresh_ttl>``, with ages counted from the load.

    **Stale-if-error.** When a loader raises -- the database is down -- a stale value is
    served instead of the error for as long as it is younger than ``error_ttl``
    (default ``stale_ttl``; RFC 5861's ``stale-if-error=<error_ttl − fresh_ttl>``),
    and never longer: an older value is gone from the cache, and the error is
    raised. A failed background refresh keeps its marker until ``lock_ttl`` runs out,
    so a failing database is retried at most once per ``lock_ttl`` per key, not on
    every request. Errors are counted in ``stats`` (``refresh_errors``,
    ``stale_if_error``) so that monitoring sees them.

    The value is kept under ``keys._stale_while_revalidate(key)`` as ``{"value",
    "loaded_at"}``, with a cache TTL of ``error_ttl`` so that the cache drops it once
    nothing may serve it. ``clock`` (``time.time`` by default) stamps ``loaded_at``.
    ``spawn`` runs a refresh in the background (a daemon thread by default; a test
    passes ``lambda job: job()`` to run it at once).

    >>> from cachelab.cache import MemoryCache
    >>> from cachelab.clock import FakeClock
    >>> clock = FakeClock()
    >>> swr = StaleWhileRevalidate(MemoryCache(clock=clock), fresh_ttl=10, stale_ttl=60,
    ...                            clock=clock, spawn=lambda job: job())
    >>> swr.get_or_load("home", lambda: "v1")
    'v1'
    >>> _ = clock.advance(15)                          # past the soft TTL, inside the window
    >>> swr.get_or_load("home", lambda: "v2")          # served stale at once; v2 loads behind it
    'v1'
    >>> swr.get_or_load("home", lambda: "v3")          # the refresh landed: fresh again
    'v2'
    """

    def __init__(
        self,
        cache: _AtomicCache,
        fresh_ttl: float,
        stale_ttl: float,
        *,
        error_ttl: Optional[float] = None,
        lock_ttl: float = 10.0,
        wait_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        spawn: Callable[[Callable[[], None]], Any] = _start_daemon_thread,
    ) -> None:
        self.cache = _validate_cache(cache, needs_atomic=True)
        for name, value in (("fresh_ttl", fresh_ttl), ("stale_ttl", stale_ttl)):
            if value is None:
                raise TypeError(f"{name} must be a number of seconds, got None")
            validate_ttl(value, name)
        if not stale_ttl > fresh_ttl:
            raise ValueError(
                f"stale_ttl must be longer than fresh_ttl ({fresh_ttl!r} s): it is the age past "
                f"which a value is never served, got {stale_ttl!r}"
            )
        if error_ttl is None:
            error_ttl = stale_ttl
        validate_ttl(error_ttl, "error_ttl")
        if error_ttl < stale_ttl:
            raise ValueError(
                f"error_ttl must be at least stale_ttl ({stale_ttl!r} s): a value kept for "
                f"errors has to outlive the stale window, got {error_ttl!r}"
            )
        if lock_ttl is None:
            raise TypeError("lock_ttl must be a number of seconds, got None")
        self.fresh_ttl, self.stale_ttl, self.error_ttl = fresh_ttl, stale_ttl, error_ttl
        self.lock_ttl = validate_ttl(lock_ttl, "lock_ttl")
        self.clock = _validate_clock(clock)
        if not callable(spawn):
            raise TypeError(f"spawn must be a function that runs a job, got {spawn!r}")
        self.spawn = spawn
        self.stats = _StampedeStats()
        self.foreground = SingleFlight(
            self.cache, lock_ttl=self.lock_ttl, wait_timeout=wait_timeout
        )
        self._background: list[Any] = []
        self._leave_marker_until: dict[str, float] = {}  # key -> when to try its marker again

    def entry(self, key: str) -> Optional[dict]:
        """The stored ``{"value", "loaded_at"}`` of ``key``, or None."""
        return self.cache.get(keys._stale_while_revalidate(key))

    def get_or_load(self, key: str, loader: Callable[[], Any]) -> Any:
        """The value of ``key``: fresh, or stale while one refresh runs, or loaded now."""
        stored_key = keys._stale_while_revalidate(key)
        _validate_loader(loader)
        entry = self.cache.get(stored_key)
        if not _is_swr_entry(entry):
            return self._load_now(key, loader, stale=None)
        age = self.clock() - entry["loaded_at"]
        if age < self.fresh_ttl:
            self.stats.count("hits")
            return entry["value"]
        if age < self.stale_ttl:
            self.stats.count("stale_served")
            self._refresh_in_background(key, loader)
            return entry["value"]
        return self._load_now(key, loader, stale=entry if age < self.error_ttl else None)

    def _load_now(self, key: str, loader: Callable[[], Any], stale: Optional[dict]) -> Any:
        """Wait for one load of ``key`` (ours, or another reader's); stale only on an error."""

        def load_record() -> dict:
            value = loader()
            self.stats.count("loads")
            return {"value": value, "loaded_at": self.clock()}

        try:
            record = self.foreground.get_or_load(
                keys._stale_while_revalidate(key),
                load_record,
                self.error_ttl,
                usable=self._servable,
            )
        except Exception:  # the loader's error, or WaitTimeout
            if stale is None:
                raise
            self.stats.count("stale_if_error")
            return stale["value"]
        return record["value"]

    def _servable(self, record: Any) -> bool:
        """Whether a stored record may be served as a normal answer: younger than ``stale_ttl``."""
        return _is_swr_entry(record) and self.clock() - record["loaded_at"] < self.stale_ttl

    def store(self, key: str, value: Any) -> bool:
        """Store ``value`` as loaded now (fresh for ``fresh_ttl``): a warm-up, a write-through."""
        return self.cache.set(
            keys._stale_while_revalidate(key),
            {"value": value, "loaded_at": self.clock()},
            self.error_ttl,
        )

    def _refresh_in_background(self, key: str, loader: Callable[[], Any]) -> None:
        now = self.clock()
        if now < self._leave_marker_until.get(key, now):
            return  # tried lately: a refresh is running (or failed, and holds its marker)
        if len(self._leave_marker_until) > _MAX_MARKERS_REMEMBERED:
            self._leave_marker_until.clear()
        self._leave_marker_until[key] = now + self.lock_ttl
        token = _new_token()
        try:
            if not self.cache.add(keys.refresh_lock(key), token, self.lock_ttl):
                return  # a refresh of this key is running (or failed lately): serve stale
        except CacheUnavailable:
            return  # nothing to coordinate with: keep serving stale until the value ages out
        # A refresh may have landed, and released the marker, between our read and our add.
        current = self.cache.get(keys._stale_while_revalidate(key))
        if _is_swr_entry(current) and self.clock() - current["loaded_at"] < self.fresh_ttl:
            _quietly_release(self.cache, keys.refresh_lock(key), token)
            return
        self.stats.count("refreshes")

        def refresh() -> None:
            try:
                value = loader()
            except Exception:
                # Keep the marker until lock_ttl: a failing database is retried once per
                # lock_ttl per key, not on every request.
                self.stats.count("refresh_errors")
                return
            self.stats.count("loads")
            try:
                self.cache.set_and_release(
                    keys._stale_while_revalidate(key),
                    {"value": value, "loaded_at": self.clock()},
                    self.error_ttl,
                    lock_key=keys.refresh_lock(key),
                    token=token,
                )
            except CacheUnavailable:
                pass

        handle = self.spawn(refresh)
        if isinstance(handle, threading.Thread):
            self._background = [t for t in self._background if t.is_alive()] + [handle]

    def wait_for_refreshes(self, timeout_s: float = 10.0) -> bool:
        """Wait for this object's background refreshes to finish; True if none is left running."""
        timeout_s = validate_number(
            timeout_s, "timeout_s", minimum=0, maximum=MAX_TTL_S, unit="seconds"
        )
        deadline = time.monotonic() + timeout_s
        for thread in list(self._background):
            thread.join(max(0.0, deadline - time.monotonic()))
        self._background = [t for t in self._background if t.is_alive()]
        return not self._background

    def __repr__(self) -> str:
        return (
            f"StaleWhileRevalidate({self.cache!r}, fresh_ttl={self.fresh_ttl:g}, "
            f"stale_ttl={self.stale_ttl:g}, error_ttl={self.error_ttl:g})"
        )


def _is_swr_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and {"value", "loaded_at"} <= entry.keys()
