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
``RedisCache`` never lets the breaker skip a delete, and every delete is *owed* on
this process's ``_PendingDeletes`` for that server from before it is sent until Redis
has taken it. Any command of the process sends what is owed first; and a delete that
failed starts a background thread that retries every ``_RETRY_INTERVAL_S`` until
Redis takes it, so an idle process delivers it too (see ``RedisCache.delete`` for the
staleness this leaves).

>>> pending = _PendingDeletes()
>>> first = pending.add("cachelab:ada:product:7")   # a delete on its way
>>> second = pending.add("cachelab:ada:product:7")  # another, of the same key
>>> len(pending)   # a key is owed once, however many deletes of it are on their way
1
>>> pending.settle("cachelab:ada:product:7", first)  # the first landed: the second still owes
>>> len(pending)
1
>>> pending.settle("cachelab:ada:product:7", second)
>>> len(pending)
0
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

import redis

from cachelab._internal.validation import validate_number, validate_whole_number

__all__ = ["CircuitBreaker"]

_OUTAGE_REPLIES = (
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


def _is_outage(error: BaseException) -> bool:
    """Whether ``error`` from redis-py means the server cannot serve now (fail open) rather than a
    bug.

    >>> _is_outage(redis.ConnectionError("refused")), _is_outage(redis.TimeoutError("timed out"))
    (True, True)
    >>> _is_outage(redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'."))
    True
    >>> _is_outage(redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"))
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
        return first_word in _OUTAGE_REPLIES
    return False


class CircuitBreaker:
    """Stop calling a failing server for a while, then probe it with one request.

    States: ``"closed"`` (calls go through), ``"open"`` (calls are skipped, for
    ``open_s`` seconds after the last failure), ``"half-open"`` (one probe call is let
    through; the others are still skipped until it reports back). A probe that never
    reports (interrupted by ``KeyboardInterrupt`` in a notebook, or by an exception the
    caller does not count) would leave the breaker half-open for good, so a probe has
    ``open_s`` seconds to report: after that the next caller becomes the probe.
    ``clock`` measures both (a ``FakeClock`` in tests). Threads may share one breaker.
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
        self.probe_sent_at = 0.0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Whether a call may go to the server now."""
        with self._lock:
            if self.state == "closed":
                return True
            now = self.clock()
            probe_is_due = (self.state == "open" and now - self.opened_at >= self.open_s) or (
                self.state == "half-open" and now - self.probe_sent_at >= self.open_s
            )
            if probe_is_due:
                self.state = "half-open"
                self.probe_sent_at = now
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


_MAX_PENDING_DELETES = 100_000
"""The most keys one process keeps owing a server. Past it the oldest is dropped (counted in
``PendingDeletes.dropped``): that key's old value then lasts until its TTL, the backstop."""


_RETRY_INTERVAL_S = 0.2
"""How long ``_PendingDeletes``' background thread waits between two tries to deliver what is
owed, in seconds. Each try waits at most the client's command timeout."""


class _PendingDeletes:
    """Keys whose delete is on its way to one server, or could not reach it: owed until it lands.

    A delete is owed from *before* its UNLINK is sent (``add``, which gives a ticket)
    until it lands (``settle``), so another thread's command, which sends what is owed
    first (``send``), can never slip between a failed UNLINK and the moment it is
    owed. A key is owed once however many deletes of it are pending (deletes are
    idempotent); ``settle`` forgets it only if no later delete of it was added since,
    and ``send`` forgets exactly the keys it delivered, likewise.

    When a delete fails, ``retry_until_sent`` starts a daemon thread that tries
    ``send`` every ``_RETRY_INTERVAL_S`` until nothing is owed, then ends: a process
    that goes idle still delivers its deletes once Redis answers. Threads may share
    one list; ``_pending_deletes_for`` gives the one of a process for a server.

    A delete sent late may remove a value some writer cached after it (a fill that
    read the new row): that costs one miss, never a stale read, since the delete was
    for a change the database already holds.
    """

    def __init__(self, limit: int = _MAX_PENDING_DELETES) -> None:
        self.limit = validate_whole_number(limit, "limit", maximum=10_000_000)
        self.dropped = 0
        self._owed: dict[str, int] = {}  # key -> ticket of the newest delete of it
        self._tickets = 0
        self._lock = threading.Lock()
        self._retrying: Optional[threading.Thread] = None

    def add(self, redis_key: str) -> int:
        """Owe ``redis_key``'s delete (a whole Redis key, prefix included); return its ticket."""
        with self._lock:
            self._tickets += 1
            self._owed.pop(redis_key, None)
            self._owed[redis_key] = self._tickets  # now the newest
            while len(self._owed) > self.limit:
                del self._owed[next(iter(self._owed))]
                self.dropped += 1
            return self._tickets

    def settle(self, redis_key: str, ticket: int) -> None:
        """The delete with ``ticket`` landed: forget ``redis_key`` unless a later delete owes it."""
        with self._lock:
            if self._owed.get(redis_key) == ticket:
                del self._owed[redis_key]

    def send(self, client: redis.Redis, batch_size: int = 500, skip: Optional[str] = None) -> int:
        """UNLINK every key owed (but ``skip``), in batches; forget those delivered; return how
        many were sent.

        Redis errors are raised (the keys not yet delivered stay owed).
        """
        with self._lock:
            owed = [(key, ticket) for key, ticket in self._owed.items() if key != skip]
        for start in range(0, len(owed), batch_size):
            batch = owed[start : start + batch_size]
            client.unlink(*(key for key, _ in batch))
            for key, ticket in batch:
                self.settle(key, ticket)
        return len(owed)

    def retry_until_sent(self, client: redis.Redis) -> None:
        """Start the background thread that delivers what is owed through ``client``, unless it
        runs already."""
        with self._lock:
            if self._retrying is not None and self._retrying.is_alive():
                return
            self._retrying = threading.Thread(
                target=self._retry, args=(client,), name="cachelab-pending-deletes", daemon=True
            )
            self._retrying.start()

    def _retry(self, client: redis.Redis) -> None:
        """Try ``send`` every ``_RETRY_INTERVAL_S`` while anything is owed and Redis's errors are
        outages; a bug (``NOPERM``, say) stops it, and the next command raises it."""
        while True:
            time.sleep(_RETRY_INTERVAL_S)
            try:
                self.send(client)
                gave_up = False
            except redis.RedisError as error:
                if _is_outage(error):
                    continue
                gave_up = True  # a bug, not an outage: the process's next command raises it
            with self._lock:
                if gave_up or not self._owed:  # else more was owed meanwhile: go round again
                    self._retrying = None
                    return

    def __len__(self) -> int:
        return len(self._owed)

    def __repr__(self) -> str:
        return f"PendingDeletes(owed={len(self)}, dropped={self.dropped})"


_pending_by_server: dict[tuple, _PendingDeletes] = {}
_pending_lock = threading.Lock()


def _pending_deletes_for(client: redis.Redis) -> _PendingDeletes:
    """This process's ``_PendingDeletes`` for the server ``client`` talks to.

    Every ``RedisCache`` of the process on the same server (same host and port, or
    same socket, and same database number) shares it, so a delete one of them owes
    is sent before any of them reads from that server again. A cluster's client (redis-py's
    ``RedisCluster``, which has no single connection pool) is named by the nodes it started from.
    """
    if isinstance(client, redis.RedisCluster):
        server: tuple = ("cluster", *sorted(client.nodes_manager.startup_nodes))
    else:
        options = client.connection_pool.connection_kwargs
        server = (options.get("host"), options.get("port"), options.get("path"), options.get("db"))
    with _pending_lock:
        return _pending_by_server.setdefault(server, _PendingDeletes())
