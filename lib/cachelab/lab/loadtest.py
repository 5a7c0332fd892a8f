"""Many users at once: how throughput and latency change as load grows.

A homepage is rarely asked for by one visitor at a time. ``hammer`` plays ``users``
visitors who each open their own connection and then request the page as fast as
they can, all starting at the same moment; it returns every request's latency and
the throughput the whole crowd got. ``sweep_users`` does that for several crowd sizes,
so a lesson can draw throughput and latency against the number of users.

The users are threads. That is enough to load a database: SQLite releases
Python's GIL while a query runs (and a Redis client releases it while it waits on
the network), so several queries really do run at once, one per CPU core.

There is no "think time" between a user's requests: each user sends the next
request the moment the previous answer arrives. In such a closed loop the number
of requests in flight is always ``users``, so (Little's law) the mean latency is
about ``users / throughput`` -- once throughput stops growing, every extra user
adds latency instead.

>>> import time
>>> result = hammer(lambda: (lambda: time.sleep(0.001)), users=4, requests_per_user=10)
>>> result.requests, result.median_s >= 0.001
(40, True)

(Called as ``hammer(lambda: Shop(path).trending, users=4, requests_per_user=10)`` in
lesson 02: each user opens its own Shop, so its own SQLite connection.)
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from tqdm.auto import tqdm

from cachelab._internal.validation import validate_whole_number
from cachelab.lab.timing import Latencies

__all__ = ["hammer", "sweep_users"]

_MAX_USERS = 256
"""The most concurrent users (threads) one run starts."""


@dataclass
class HammerRun(Latencies):
    """What ``users`` concurrent users saw: every request's latency, and how long the run took.

    ``median_s``, ``p95_s``, ``p99_s`` and ``mean_s`` summarise ``latencies_s``
    (``timing.Latencies``).
    """

    users: int
    latencies_s: list[float] = field(repr=False)
    elapsed_s: float

    @property
    def requests(self) -> int:
        """How many requests were served, by all users together."""
        return len(self.latencies_s)

    @property
    def throughput_per_s(self) -> float:
        """Requests served per second of wall-clock time, by all users together: the X of
        Little's law, L = X·W, where L is ``users`` and W the mean latency.
        """
        return self.requests / self.elapsed_s

    def summary(self) -> dict[str, Any]:
        """One row for a table: users, requests, throughput, and median/p95/p99 latency in ms."""
        return {
            "users": self.users,
            "requests": self.requests,
            "throughput_per_s": round(self.throughput_per_s, 1),
            **super().summary(),
        }


def hammer(
    make_request: Callable[[], Callable[[], Any]],
    users: int,
    requests_per_user: int,
    clock: Callable[[], float] = time.perf_counter,
) -> HammerRun:
    """Run ``users`` users at once, each making ``requests_per_user`` requests back to back.

    ``make_request`` is called once in each user's own thread, before the clock
    starts, and returns the function that user calls for every request -- so each
    user can open its own connection (an SQLite connection belongs to the thread
    that opened it): ``hammer(lambda: Shop(path).trending, users=4, requests_per_user=10)``.

    All users start together. Each request is timed on its own, by ``clock`` (a test
    passes a fake one), and the elapsed time runs from the first request's start to
    the last one's end, on the same clock the users read: no user's requests can add
    up to more than it, so Little's law (mean latency <= users / throughput) holds
    even when the thread that started the users was itself kept waiting for a core.
    An exception in any user stops the run and is raised here.
    """
    if not callable(make_request):
        raise TypeError(
            "make_request must be a function that returns the request function, got "
            f"{make_request!r}"
        )
    validate_whole_number(users, "users", maximum=_MAX_USERS)
    validate_whole_number(requests_per_user, "requests_per_user", maximum=1_000_000)

    start_together = threading.Barrier(users + 1)
    latencies: list[list[float]] = [[] for _ in range(users)]
    spans: list[tuple[float, float]] = []  # each user's first start and last end
    errors: list[BaseException] = []

    def user(index: int) -> None:
        try:
            request = make_request()
            if not callable(request):
                raise TypeError(
                    f"make_request() must return a function to call per request, got {request!r}"
                )
        except BaseException as error:  # handed to the caller below
            errors.append(error)
            start_together.abort()
            return
        try:
            start_together.wait()
        except threading.BrokenBarrierError:
            return
        own = latencies[index]
        first_started = clock()
        try:
            for _ in range(requests_per_user):
                started = clock()
                request()
                ended = clock()
                own.append(ended - started)
                if errors:  # another user failed: stop early
                    return
        except BaseException as error:  # handed to the caller below
            errors.append(error)
            return
        spans.append((first_started, ended))  # list.append is atomic: threads may share it

    threads = [
        threading.Thread(target=user, args=(i,), name=f"cachelab-user-{i}", daemon=True)
        for i in range(users)
    ]
    for thread in threads:
        thread.start()
    try:
        start_together.wait()
    except threading.BrokenBarrierError:
        pass
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    samples = [s for own in latencies for s in own]
    return HammerRun(users=users, latencies_s=samples, elapsed_s=elapsed)


def sweep_users(
    make_request: Callable[[], Callable[[], Any]],
    user_counts: Sequence[int],
    requests_per_level: int,
    progress: bool = True,
) -> list[HammerRun]:
    """``hammer`` once for each number of users in ``user_counts``: a ``HammerRun`` for each.

    Every level serves about ``requests_per_level`` requests in all (split evenly
    between its users, at least one each), so each level's percentiles rest on a
    similar number of samples and the sweep's duration stays predictable.
    """
    if not user_counts:
        raise ValueError(
            "user_counts is empty: give the numbers of users to try, e.g. [1, 2, 4, 8]"
        )
    for users in user_counts:
        validate_whole_number(users, "every number of users", maximum=_MAX_USERS)
    validate_whole_number(requests_per_level, "requests_per_level", maximum=1_000_000)
    results = []
    for users in tqdm(list(user_counts), desc="users", disable=not progress):
        results.append(hammer(make_request, users, max(1, math.ceil(requests_per_level / users))))
    return results
