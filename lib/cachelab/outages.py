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
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import redis

from cachelab.validation import validate_number, validate_whole_number

__all__ = ["OUTAGE_REPLIES", "is_outage", "CircuitBreaker"]

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
