"""An open-loop load generator for the web service: requests arrive on a schedule, answered or not.

Lesson 02's ``loadtest`` is a *closed* loop: a fixed crowd of users, each sending
the next request when the last answer arrives. When the server slows down, such a
crowd slows down with it, and sends less -- which hides exactly the queue we want to
see. Real visitors do not wait for each other. ``run_load`` is an *open* loop: it
draws the moments at which requests arrive (a Poisson process at ``rate_per_s``,
from ``workload.poisson_arrivals``, the course's one traffic generator) and sends
each request at its moment, however many earlier ones are still unanswered. Each
latency is measured from the moment the request was *due*, so time a request spent
waiting inside the generator (for a free connection, or because the generator fell
behind) is counted, not hidden -- the trap called coordinated omission.

Why not locust? Locust's users are a closed loop too (each waits for its answer,
then its ``wait_time``), and it runs on gevent, which patches the standard library
of the process it runs in -- not something to do inside a Jupyter kernel. Here an
asyncio event loop with aiohttp (an HTTP client with a C parser, so the generator
is not the bottleneck) runs in a thread of its own, beside the notebook's.

Every run is bounded: at most ``requests`` requests (the budget) and ``time_limit_s``
seconds; whatever is unanswered then is cut off and counted, and the run stops by
itself. It talks to 127.0.0.1 (or ``localhost``, ``::1``) only.

>>> from cachelab.web._service import WebService
>>> with WebService("redis", workers=1) as service:
...     run = run_load(service.url, rate_per_s=100, requests=50, time_limit_s=10, progress=False)
>>> run.sent, run.ok, run.errors
(50, 50, 0)
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Coroutine, Optional, Sequence
from urllib.parse import urlsplit

from tqdm.auto import tqdm

from cachelab._internal.validation import validate_number, validate_whole_number
from cachelab.lab.timing import Latencies, percentile
from cachelab.lab.workload import poisson_arrivals

__all__ = [
    "MAX_REQUESTS",
    "MAX_TIME_LIMIT_S",
    "MAX_RATE",
    "LoadRun",
    "run_load",
    "sweep_rates",
    "sustained",
    "fetch_stats",
    "wait_until_idle",
    "validate_local_url",
]

MAX_REQUESTS = 200_000
"""The largest request budget of one run."""
MAX_TIME_LIMIT_S = 120.0
"""The longest one run may last, in seconds, whatever its budget."""
MAX_RATE = 20_000.0
"""The fastest arrival rate one run offers, in requests per second."""


@dataclass
class LoadRun(Latencies):
    """What one open-loop run offered and got back.

    ``latencies_s`` holds the latency of every successful (2xx) answer, from the
    moment its request was due; ``due_s`` when that was, in seconds from the start of
    the run (in the same order). Requests that got another status, failed to connect,
    timed out, or were still unanswered when the run was cut off are ``errors``.
    ``db_queries``, ``cache_hits``/``cache_misses`` and ``cpu_s`` (the CPU seconds the
    service's workers used) are read from the service's ``/stats`` before and after the
    run (None if it has none). ``median_s``, ``p95_s``, ``p99_s`` and ``mean_s`` summarise
    ``latencies_s`` (``timing.Latencies``; ``inf`` when nothing was answered).
    """

    rate_per_s: float
    budget: int
    sent: int
    elapsed_s: float
    latencies_s: list[float] = field(repr=False)
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    late_s: list[float] = field(default_factory=list, repr=False)
    db_queries: Optional[int] = None
    cache_hits: Optional[int] = None
    cache_misses: Optional[int] = None
    due_s: list[float] = field(default_factory=list, repr=False)
    cpu_s: Optional[float] = None

    @property
    def ok(self) -> int:
        """Answers with a 2xx status."""
        return len(self.latencies_s)

    @property
    def errors(self) -> int:
        """Requests sent that did not get a 2xx answer, plus those never sent before the cut-off."""
        return self.budget - self.ok

    @property
    def error_fraction(self) -> float:
        return self.errors / self.budget if self.budget else 0.0

    @property
    def throughput_per_s(self) -> float:
        """Successful answers per second of the run."""
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def db_queries_per_s(self) -> Optional[float]:
        """SQL statements the service ran per second of the run."""
        if self.db_queries is None or self.elapsed_s <= 0:
            return None
        return self.db_queries / self.elapsed_s

    @property
    def cpu_per_answer_s(self) -> Optional[float]:
        """The service's CPU seconds per successful answer: what one answer costs it (None
        without ``/stats`` or answers). A ceiling of ``cores / cpu_per_answer_s`` follows.
        """
        if self.cpu_s is None or not self.ok:
            return None
        return self.cpu_s / self.ok

    @property
    def p99_late_s(self) -> float:
        """How late the generator sent its requests (p99): near 0 when it kept up."""
        return percentile(self.late_s, 99) if self.late_s else 0.0

    def summary(self) -> dict[str, Any]:
        """One row for a table: offered rate, answers, errors, throughput, median/p95/p99 in ms,
        queries/s, and the service's CPU milliseconds per answer.
        """
        queries = self.db_queries_per_s
        cpu = self.cpu_per_answer_s
        return {
            "rate_per_s": round(self.rate_per_s, 1),
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "throughput_per_s": round(self.throughput_per_s, 1),
            **super().summary(),
            "db_queries_per_s": round(queries, 1) if queries is not None else None,
            "cpu_ms_per_answer": round(cpu * 1e3, 2) if cpu is not None else None,
        }


# --------------------------------------------------------------------------- talking to the service


def validate_local_url(url: str) -> str:
    """Return ``url`` (without a trailing ``/``) if it is ``http://`` on this machine, else raise
    ``ValueError``.

    >>> validate_local_url("http://127.0.0.1:8000/")
    'http://127.0.0.1:8000'
    >>> validate_local_url("http://example.com")
    Traceback (most recent call last):
    ...
    ValueError: the load generator only sends to this machine (127.0.0.1, ::1 or localhost), \
got 'http://example.com'
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a str such as 'http://127.0.0.1:8000', got {url!r}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    local = host == "localhost"
    try:
        local = local or ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if parts.scheme != "http" or not local:
        raise ValueError(
            "the load generator only sends to this machine (127.0.0.1, ::1 or localhost), "
            f"got {url!r}"
        )
    return url.rstrip("/")


def fetch_stats(url: str, timeout_s: float = 10.0) -> dict:
    """The service's ``GET /stats`` (its workers' counters and their totals)."""
    parts = urlsplit(validate_local_url(url))
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout_s)
    try:
        connection.request("GET", "/stats", headers={"Connection": "close"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET /stats answered {response.status}: {body[:200]!r}")
        return json.loads(body)
    finally:
        connection.close()


def wait_until_idle(url: str, timeout_s: float = 15.0) -> bool:
    """Wait until no worker has a request in flight (requests that timed out on our side may
    still be queued there, and would slow the next run down); True if it got there in time.
    False at once for a server that has no ``/stats``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stats = _stats_or_none(url)
        if stats is None:
            return False
        if stats["total"]["in_flight"] == 0:
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- one run


async def _drive(
    url: str,
    due_s: Sequence[float],
    paths: Sequence[str],
    time_limit_s: float,
    timeout_s: float,
    connections: int,
    run: LoadRun,
    done: list[int],
) -> None:
    import aiohttp

    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = loop.time() + 0.01
        deadline = start + time_limit_s
        tasks: set[asyncio.Task] = set()

        async def one(path: str, due: float) -> None:
            run.late_s.append(max(0.0, loop.time() - due))
            try:
                async with session.get(url + path) as response:
                    await response.read()
                    status = response.status
            except asyncio.TimeoutError:
                run.failures["timeout"] += 1
            except aiohttp.ClientError as error:
                run.failures[type(error).__name__] += 1
            else:
                run.statuses[status] += 1
                if 200 <= status < 300:
                    run.latencies_s.append(loop.time() - due)
                    run.due_s.append(due - start)
            finally:
                done[0] += 1

        for due_offset, path in zip(due_s, paths):
            due = start + due_offset
            if due >= deadline:
                break
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = loop.create_task(one(path, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            run.sent += 1
        if tasks:
            _, unanswered = await asyncio.wait(set(tasks), timeout=max(0.0, deadline - loop.time()))
            for task in unanswered:
                task.cancel()
            if unanswered:
                run.failures["cut off at time_limit_s"] += len(unanswered)
                await asyncio.gather(*unanswered, return_exceptions=True)
        run.elapsed_s = loop.time() - start
    if run.sent < run.budget:
        run.failures["not sent before time_limit_s"] += run.budget - run.sent


def _new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # uvicorn's [standard] extra brings it: a faster event loop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover
        return asyncio.new_event_loop()


def run_load(
    url: str,
    rate_per_s: float,
    requests: int,
    *,
    paths: Sequence[str] = ("/",),
    time_limit_s: float = 30.0,
    timeout_s: float = 5.0,
    connections: int = 100,
    seed: int = 0,
    progress: bool = True,
    desc: Optional[str] = None,
) -> LoadRun:
    """Send ``requests`` GET requests to ``url`` at ``rate_per_s`` on average (Poisson arrivals).

    Each request goes to one of ``paths``, picked at random (seeded). At most
    ``connections`` connections are open at once (requests beyond wait for one, and
    that wait counts in their latency); each request gets ``timeout_s`` seconds. The
    run ends when every request has been answered or at ``time_limit_s``, whichever
    comes first. The service's ``/stats`` is read before and after, for the queries it
    ran (a server without one costs a second's wait at most). A progress bar shows the
    answers coming in (``progress=False`` hides it).
    """
    url = validate_local_url(url)
    rate_per_s = validate_number(
        rate_per_s, "rate_per_s", above=0, maximum=MAX_RATE, unit="requests per second"
    )
    requests = validate_whole_number(requests, "requests", maximum=MAX_REQUESTS)
    time_limit_s = validate_number(
        time_limit_s, "time_limit_s", above=0, maximum=MAX_TIME_LIMIT_S, unit="seconds"
    )
    timeout_s = validate_number(
        timeout_s, "timeout_s", above=0, maximum=MAX_TIME_LIMIT_S, unit="seconds"
    )
    connections = validate_whole_number(connections, "connections", maximum=10_000)
    _validate_paths(paths)
    due_s, chosen = _schedule(rate_per_s, requests, paths, seed)

    before = _stats_or_none(url)
    run = LoadRun(rate_per_s=rate_per_s, budget=requests, sent=0, elapsed_s=0.0, latencies_s=[])
    done = [0]  # requests finished so far, for the progress bar
    drive = _drive(url, due_s, chosen, time_limit_s, timeout_s, connections, run, done)
    _drive_in_a_thread(drive, requests, done, desc or f"{rate_per_s:,.0f} requests/s", progress)
    # A service that answered /stats before the run has one: give it time to answer after an
    # overloaded run too (its workers may still be busy with what the run left queued).
    after = _stats_or_none(url, timeout_s=max(10.0, timeout_s)) if before is not None else None
    if before is not None and after is not None:
        _count_service_work(run, before, after)
    return run


def _validate_paths(paths: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``paths`` is a non-empty list of paths that start with ``/``."""
    if (
        isinstance(paths, str)
        or not paths
        or not all(isinstance(p, str) and p.startswith("/") for p in paths)
    ):
        raise ValueError(
            f"paths must be a list of paths such as ['/', '/products/7'], got {paths!r}"
        )


def _schedule(
    rate_per_s: float, requests: int, paths: Sequence[str], seed: int
) -> tuple[Sequence[float], list[str]]:
    """When each request is due (seconds from the start) and its path, both drawn from ``seed``."""
    import numpy as np

    # The first `requests` arrivals of a Poisson process at rate_per_s (a window long enough
    # to hold them all, with a margin of many standard deviations).
    window_s = (requests + 10 * math.sqrt(requests) + 10) / rate_per_s
    due_s, _ = poisson_arrivals(rate_per_s, 0, window_s, seed=seed)
    due_s = due_s[:requests]
    rng = np.random.default_rng(seed)
    return due_s, [paths[i] for i in rng.integers(0, len(paths), size=len(due_s))]


def _drive_in_a_thread(
    drive: Coroutine[Any, Any, None], total: int, done: list[int], label: str, progress: bool
) -> None:
    """Run ``drive`` (a ``_drive``) on an event loop of its own thread (a notebook's already runs
    one), with a progress bar of the requests finished (``done[0]`` of ``total``)."""
    failure: list[BaseException] = []
    loop = _new_event_loop()
    main = loop.create_task(drive)

    finished = threading.Event()

    def drive() -> None:
        try:
            loop.run_until_complete(main)
        except BaseException as error:  # handed to the caller below
            failure.append(error)
        finally:
            loop.close()
            finished.set()

    thread = threading.Thread(target=drive, name="cachelab-load", daemon=True)
    with tqdm(total=total, desc=label, disable=not progress, leave=False) as bar:
        thread.start()
        try:
            while thread.is_alive():
                thread.join(0.1)
                bar.update(done[0] - bar.n)
        except KeyboardInterrupt:  # stop sending, close the connections, then stop
            loop.call_soon_threadsafe(main.cancel)
            finished.wait(timeout=10)
            raise
        bar.update(done[0] - bar.n)
    if failure and not isinstance(failure[0], asyncio.CancelledError):
        raise failure[0]


def _count_service_work(run: LoadRun, before: dict, after: dict) -> None:
    """Set ``run``'s queries, cache hits and misses and CPU time: the service's counters' growth."""
    run.db_queries = after["total"]["db_queries"] - before["total"]["db_queries"]
    run.cache_hits = after["total"].get("cache_hits", 0) - before["total"].get("cache_hits", 0)
    run.cache_misses = after["total"].get("cache_misses", 0) - before["total"].get(
        "cache_misses", 0
    )
    if "cpu_us" in after["total"] and "cpu_us" in before["total"]:
        run.cpu_s = (after["total"]["cpu_us"] - before["total"]["cpu_us"]) / 1e6


def _stats_or_none(url: str, timeout_s: float = 1.0) -> Optional[dict]:
    """``/stats``, or None from a server that has none (or does not answer within ``timeout_s``)."""
    try:
        return fetch_stats(url, timeout_s=timeout_s)
    except (OSError, RuntimeError, ValueError, http.client.HTTPException):
        return None


# --------------------------------------------------------------------------- many runs


def sweep_rates(
    url: str,
    rates: Sequence[float],
    *,
    duration_per_rate_s: float = 2.0,
    min_requests: int = 50,
    p95_budget_s: Optional[float] = None,
    paths: Sequence[str] = ("/",),
    time_limit_s: Optional[float] = None,
    timeout_s: float = 5.0,
    seed: int = 0,
    progress: bool = True,
    desc: str = "",
) -> list[LoadRun]:
    """``run_load`` at each rate in ``rates``, in order, for about ``duration_per_rate_s`` each.

    Rates are usually multiples of a measured capacity, so on a fast machine they can exceed
    ``MAX_RATE``: such a rate is offered at ``MAX_RATE`` instead (once, however many rates were
    above it). Each rate gets a budget of ``max(min_requests, rate × duration_per_rate_s)``
    requests, and as long as its schedule needs plus ``timeout_s`` (or ``time_limit_s``, if given)
    before the rest is cut off. Between runs it waits until the service has no request in flight,
    so one overloaded run does not spill into the next. With ``p95_budget_s``, the sweep stops
    after two runs in a row whose *median* latency is more than 4 times that budget, or that lost
    more than a tenth of their requests: the service is past its knee, and faster rates would only
    queue longer.
    (The median, not the p95, and two runs, not one: a short run's p95 is one of its slowest few
    answers, and one stall of a busy machine can slow a whole run, at any rate.)
    """
    if not rates:
        raise ValueError("rates is empty: give the arrival rates to try, e.g. [50, 100, 200]")
    duration_per_rate_s = validate_number(
        duration_per_rate_s,
        "duration_per_rate_s",
        above=0,
        maximum=MAX_TIME_LIMIT_S,
        unit="seconds",
    )
    min_requests = validate_whole_number(min_requests, "min_requests", maximum=MAX_REQUESTS)
    offered: list[float] = []
    for rate in rates:
        rate = min(validate_number(rate, "rate", above=0, unit="requests per second"), MAX_RATE)
        if not offered or rate != offered[-1]:
            offered.append(rate)
    runs: list[LoadRun] = []
    previous_past = False
    for index, rate in enumerate(tqdm(offered, desc=desc or "arrival rates", disable=not progress)):
        budget = max(min_requests, math.ceil(rate * duration_per_rate_s))
        limit_s = time_limit_s if time_limit_s is not None else budget / rate + timeout_s
        run = run_load(
            url,
            rate,
            budget,
            paths=paths,
            time_limit_s=min(MAX_TIME_LIMIT_S, limit_s),
            timeout_s=timeout_s,
            seed=seed + index,
            progress=progress,
        )
        runs.append(run)
        wait_until_idle(url)
        if p95_budget_s is None:
            continue
        past_the_knee = run.median_s > 4 * p95_budget_s or run.error_fraction > 0.1
        if past_the_knee and previous_past:
            break
        previous_past = past_the_knee
    return runs


def sustained(
    runs: Sequence[LoadRun], p95_budget_s: float, max_error_fraction: float = 0.01
) -> Optional[LoadRun]:
    """The run with the highest throughput whose p95 stayed within ``p95_budget_s`` with at most
    ``max_error_fraction`` errors: the load the service *sustains* at that latency budget (a
    service that cannot keep up builds a queue, and its p95 grows past any budget). None if no
    run did.
    """
    validate_number(p95_budget_s, "p95_budget_s", above=0, unit="seconds")
    good = [
        run
        for run in runs
        if run.p95_s <= p95_budget_s and run.error_fraction <= max_error_fraction
    ]
    return max(good, key=lambda run: run.throughput_per_s, default=None)
