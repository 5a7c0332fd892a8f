"""When the shared cache cannot answer: which errors are outages, and a circuit breaker.

A cache is an optimisation. When Redis is down, paused, full or read-only, a page
that fails open is served from the database -- slower, but served. Two questions
come with that, and this module answers both for ``RedisCache``:

**Which errors are outages?** The server being unreachable or too slow
(``ConnectionError``, ``TimeoutError``), still loading its data (``LOADING``), busy
with a long script (``BUSY``), out of memory with the ``noeviction`` policy (``OOM``),
a read-only replica (``READONLY``), a cluster without a master (``MASTERDOWN``,
``CLUSTERDOWN``, ``TRYAGAIN``), or refusing writes because it could not save
(``MISCONF``). Those are the infrastructure's trouble: fail open. Everything else
Redis answers with an error -- ``WRONGTYPE`` (a key under the course prefix holds a
hash, say), a syntax error -- is a bug, and is raised whatever ``fail_open`` says.

**How long may a page wait?** A paused server does not refuse connections; it just
never answers. Each command waits for the client's timeout (``redis_server``'s
``COMMAND_TIMEOUT_S``), and a page that sent every request into the stall would wait
that long every time. The ``CircuitBreaker`` stops that: after ``failures_to_open``
outages in a row it *opens*, and for ``open_s`` seconds requests do not call Redis at
all (they fail open at once); then it lets one request through (*half-open*): if that
one succeeds the breaker *closes* and traffic flows again, if not it opens again.

>>> from cachelab.clock import FakeClock
>>> clock = FakeClock()
>>> breaker = CircuitBreaker(failures_to_open=2, open_s=5, clock=clock)
>>> breaker.record_failure(); breaker.record_failure()
>>> breaker.state, breaker.allow()
('open', False)
>>> _ = clock.advance(5)
>>> breaker.allow(), breaker.state   # one probe may go
(True, 'half-open')
>>> breaker.record_success()
>>> breaker.state
'closed'

**What becomes of a delete that cannot reach Redis?** A delete is an invalidation: a
write has changed the database, and the cached value is now wrong. Skipped, it is
lost, and once Redis is back the old value is served until its TTL ends. So
``RedisCache`` never lets the breaker skip a delete, and a delete that fails anyway
goes on this process's list of ``PendingDeletes`` for that server, which is sent
before the process's next command reaches the server (see ``RedisCache.delete`` for
the staleness this leaves).

>>> pending = PendingDeletes()
>>> pending.add("cachelab:ada:product:7"); pending.add("cachelab:ada:product:7")
>>> len(pending)   # a key is owed once, however many deletes of it failed
1
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import redis

from cachelab.validation import validate_number, validate_whole_number

__all__ = [
    "OUTAGE_REPLIES",
    "is_outage",
    "CircuitBreaker",
    "PendingDeletes",
    "pending_deletes_for",
    "MAX_PENDING_DELETES",
]

OUTAGE_REPLIES = (
    "LOADING",
    "BUSY",
    "OOM",
    "READONLY",
    "MASTERDOWN",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "MISCONF",
    "NOREPLICAS",
)
"""First words of the error replies that mean "the server cannot serve now", not "a mistake"."""


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` from redis-py means the server cannot serve now (fail open) rather than a
    bug.

    >>> is_outage(redis.ConnectionError("refused")), is_outage(redis.TimeoutError("timed out"))
    (True, True)
    >>> is_outage(redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'."))
    True
    >>> is_outage(redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"))
    False
    """
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
        return True
    if isinstance(
        error,
        (
            redis.exceptions.OutOfMemoryError,
            redis.exceptions.ReadOnlyError,
            redis.exceptions.TryAgainError,
            redis.exceptions.ClusterDownError,
        ),
    ):
        return True
    if isinstance(error, redis.ResponseError):
        first_word = str(error).split(" ", 1)[0].upper()
        return first_word in OUTAGE_REPLIES
    return False


class CircuitBreaker:
    """Stop calling a failing server for a while, then probe it with one request.

    States: ``"closed"`` (calls go through), ``"open"`` (calls are skipped, for
    ``open_s`` seconds after the last failure), ``"half-open"`` (one probe call is let
    through; the others are still skipped until it reports back). ``clock`` measures
    the ``open_s`` (a ``FakeClock`` in tests). Threads may share one breaker.
    """

    def __init__(
        self,
        failures_to_open: int = 3,
        open_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures_to_open = validate_whole_number(
            failures_to_open, "failures_to_open", maximum=1_000
        )
        self.open_s = validate_number(open_s, "open_s", above=0, maximum=3_600, unit="seconds")
        self.clock = clock
        self.state = "closed"
        self.failures = 0  # outages in a row
        self.opened_at = 0.0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Whether a call may go to the server now."""
        with self._lock:
            if self.state == "closed":
                return True
            if self.state == "open" and self.clock() - self.opened_at >= self.open_s:
                self.state = "half-open"
                return True  # this caller is the probe
            return False

    def record_success(self) -> None:
        """A call answered: close the breaker and forget the failures."""
        with self._lock:
            self.state = "closed"
            self.failures = 0

    def record_failure(self) -> None:
        """A call met an outage: count it, and open the breaker once there were enough in a row."""
        with self._lock:
            self.failures += 1
            if self.state == "half-open" or self.failures >= self.failures_to_open:
                self.state = "open"
                self.opened_at = self.clock()

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(state={self.state!r}, failures={self.failures}, "
            f"failures_to_open={self.failures_to_open}, open_s={self.open_s:g})"
        )


MAX_PENDING_DELETES = 100_000
"""The most keys one process keeps owing a server. Past it the oldest is dropped (counted in
``PendingDeletes.dropped``): that key's old value then lasts until its TTL, the backstop."""


class PendingDeletes:
    """Keys whose delete could not reach one server, owed to it until ``send`` delivers them.

    A key is owed once however many of its deletes failed (deletes are idempotent).
    ``send`` UNLINKs the keys owed and forgets exactly those it delivered: a key whose
    delete failed again while ``send`` was on its way stays owed. Threads may share
    one; ``pending_deletes_for`` gives the one of a process for a server.
    """

    def __init__(self, limit: int = MAX_PENDING_DELETES) -> None:
        self.limit = validate_whole_number(limit, "limit", maximum=10_000_000)
        self.dropped = 0
        self._owed: dict[str, int] = {}  # key -> number of the failure that put it here
        self._failures = 0
        self._lock = threading.Lock()

    def add(self, redis_key: str) -> None:
        """Owe ``redis_key``'s delete (a whole Redis key, prefix included)."""
        with self._lock:
            self._failures += 1
            self._owed.pop(redis_key, None)
            self._owed[redis_key] = self._failures  # now the newest
            while len(self._owed) > self.limit:
                del self._owed[next(iter(self._owed))]
                self.dropped += 1

    def send(self, client: redis.Redis, batch_size: int = 500) -> int:
        """UNLINK every key owed, in batches; forget those delivered; return how many.

        Redis errors are raised (the keys not yet delivered stay owed).
        """
        with self._lock:
            owed = list(self._owed.items())
        for start in range(0, len(owed), batch_size):
            batch = owed[start : start + batch_size]
            client.unlink(*(key for key, _ in batch))
            with self._lock:
                for key, failure in batch:
                    if self._owed.get(key) == failure:
                        del self._owed[key]
        return len(owed)

    def __len__(self) -> int:
        return len(self._owed)

    def __repr__(self) -> str:
        return f"PendingDeletes(owed={len(self)}, dropped={self.dropped})"


_pending_by_server: dict[tuple, PendingDeletes] = {}
_pending_lock = threading.Lock()


def pending_deletes_for(client: redis.Redis) -> PendingDeletes:
    """This process's ``PendingDeletes`` for the server ``client`` talks to.

    Every ``RedisCache`` of the process on the same server (same host and port, or
    same socket, and same database number) shares it, so a delete one of them owes
    is sent before any of them reads from that server again.
    """
    options = client.connection_pool.connection_kwargs
    server = (options.get("host"), options.get("port"), options.get("path"), options.get("db"))
    with _pending_lock:
        return _pending_by_server.setdefault(server, PendingDeletes())
