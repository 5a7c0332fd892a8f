"""A hot key expiring under load, measured: the burst of lesson 08, and the fixes run on it.

``run_burst`` plays one *burst*: the trending lists (``key_count`` of them, the homepage's
top 10, the "see more" top 20, ...) are written to the shared Redis cache together, as
by a deploy or a cache warm-up, with one TTL; then requests arrive at random
(``workload.poisson_arrivals``, ``read_rate`` per second over every list) for
``duration_s`` seconds, through the window in which the lists expire. Every request is a
thread of its own, started at its arrival time whatever the others are doing (an
*open* loop, as independent users are), and with ``processes=2`` the requests are
shared between two worker processes (``workers.run_workers``) that talk to the same
Redis and the same shop database. A load is the real trending query on the real shop.

Each request goes through one ``strategy`` (a ``Protection``): plain cache-aside, or one
of ``cachelab.stampedes``'s guards. The run reports every request (when it arrived, how
long it took, how stale its value was) and every database load (when it started and
ended), so a lesson can count the loads of one expiry, read p95 latencies, and draw
the herd. Values reloaded during the burst keep for ``_REFILL_TTL_S`` (under
stale-while-revalidate: are fresh for that long), far past the burst's end however late a
busy machine runs its requests, so each list expires exactly once in a run, and
``loads_per_expiry`` is loads divided by lists.

**Stale seconds.** A value carries the wall-clock moment it was loaded and the TTL it
was meant to have (the nominal ``ttl`` -- the soft TTL under stale-while-revalidate --
for the warm-up's values, ``_REFILL_TTL_S`` for values reloaded during the burst); a
request's ``stale_s`` is how far past that TTL its value's age was when the request
asked for it (0 for a younger value; measured when the request starts, so that a
request descheduled on a busy machine after its answer came is not counted stale).
Plain cache-aside never serves a value past its TTL -- Redis removed it -- while
stale-while-revalidate does so on purpose, and a jittered TTL longer than the nominal
one does so by the jitter.

The burst is compressed in time: TTLs of a few load times, so a run takes about a
second or less. What makes a herd is the read rate λ and the load time D, not the TTL:
lesson 08 sets λ and the TTL from the D it measured, so that a burst holds the same
number of requests, and the same λD, on any machine. Time runs from the burst's start,
which every process agrees on; the warm-up writes the lists a moment before it, with
TTLs that count from the start, so a list written to expire at ``ttl`` expires ``ttl``
seconds into the burst however short ``ttl`` is.

>>> from cachelab.shop.data import build_shop
>>> result = run_burst(build_shop(size="tiny"), Protection.SINGLE_FLIGHT, read_rate=100,
...                    duration_s=0.4, ttl=0.2, seed=1)
>>> result.loads_per_expiry, result.errors
(1.0, 0)
"""

from __future__ import annotations

import math
import os
import random
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable, Optional, Sequence

from tqdm.auto import tqdm

from cachelab import keys
from cachelab._internal.validation import validate_choice, validate_number, validate_whole_number
from cachelab.cache import MemoryCache, RedisCache
from cachelab.clock import FakeClock
from cachelab.environment.redis_server import _gone_client, connect, url_of
from cachelab.lab.timing import Latencies
from cachelab.lab.workers import run_workers
from cachelab.lab.workload import _key_of, poisson_arrivals
from cachelab.shop.app import Shop
from cachelab.stampedes import (
    _MAX_SPREAD,
    EarlyRefresh,
    SingleFlight,
    StaleWhileRevalidate,
    jittered_ttl,
)

__all__ = [
    "Protection",
    "plot_burst",
    "run_burst",
    "SimulatedReads",
]


class Protection(StrEnum):
    """What a burst's requests go through: plain cache-aside, or one of ``cachelab.stampedes``'s
    guards.

    Each member is also its string (``Protection.SINGLE_FLIGHT == "single_flight"``), so a report
    keeps reading plainly; ``label`` is the name lessons show.

    >>> [protection.label for protection in Protection][:3]
    ['no protection', 'single-flight lock', 'early refresh (XFetch)']
    """

    NONE = "none"
    SINGLE_FLIGHT = "single_flight"
    EARLY_REFRESH = "early_refresh"
    EARLY_REFRESH_MARKER = "early_refresh_marker"
    JITTER = "jitter"
    STALE_WHILE_REVALIDATE = "stale_while_revalidate"

    @property
    def label(self) -> str:
        """The protection's name in lesson 08's tables and figures."""
        return _LABELS[self]


_LABELS = {
    Protection.NONE: "no protection",
    Protection.SINGLE_FLIGHT: "single-flight lock",
    Protection.EARLY_REFRESH: "early refresh (XFetch)",
    Protection.EARLY_REFRESH_MARKER: "early refresh + marker",
    Protection.JITTER: "TTL jitter",
    Protection.STALE_WHILE_REVALIDATE: "stale-while-revalidate",
}

_TRENDING_LIMITS = (10, 20, 50, 5, 30, 40, 15, 25)
"""The trending lists a burst caches, in order: ``keys.trending(7, limit)`` for each."""

_REFILL_TTL_S = 60.0
"""Values reloaded during a burst live this many seconds, so each list expires once per run."""

_SWR_STALE_S = 60.0
"""Under stale-while-revalidate, a value past its soft TTL may be served stale for this many
seconds more: longer than any burst, so that one background refresh per list is enough even
when a busy machine makes it slow."""

_START_LEAD_S = 0.05
"""How far ahead of its start a burst writes its lists (and tells its processes the start)."""

_MAX_REQUESTS = 2_000
"""The most requests one burst starts (one thread each)."""

_REDIS_TIMEOUT_S = 10.0
"""How long a burst's requests wait for Redis. The course's usual quarter of a second would
turn a busy machine's late answer into an outage (and the cache, failing open, into a miss):
a burst measures herds, not outages."""

_MAX_READ_RATE = 100_000.0
"""The fastest arrivals a burst accepts, per second. Lessons set the rate from the measured
load time (λD fixed), so a fast machine asks for thousands per second; the bound that keeps a
burst small is ``_MAX_REQUESTS``."""


@dataclass(frozen=True)
class _BurstRequest:
    """One request: arrival (s after the start), the list it asked for, latency, staleness.

    ``started_s`` is when it really began: its arrival, or later when a busy machine woke
    its thread late (its latency counts from the arrival, as a visitor's would).
    ``loaded`` says that it ran the query itself and waited for it (a background refresh
    it started does not count).
    """

    arrived_s: float
    key_index: int
    latency_s: float
    stale_s: float
    error: str = ""
    started_s: float = 0.0
    loaded: bool = False


@dataclass(frozen=True)
class _BurstLoad:
    """One database load: which list, and when it started and ended (s after the start)."""

    key_index: int
    started_s: float
    ended_s: float

    @property
    def duration_s(self) -> float:
        return self.ended_s - self.started_s


@dataclass
class BurstRun(Latencies):
    """Everything one burst did, with the figures lesson 08 compares.

    ``median_s``, ``p95_s`` and ``p99_s`` summarise the served requests' ``latencies_s``
    (``timing.Latencies``).
    """

    strategy: Protection
    read_rate: float
    duration_s: float
    ttl: float
    key_count: int
    processes: int
    expiries_s: list[float]
    requests: list[_BurstRequest] = field(repr=False)
    loads: list[_BurstLoad] = field(repr=False)
    pids: list[int] = field(default_factory=list, repr=False)
    cache_down: bool = False
    stored_s: dict[int, float] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return self.strategy.label + (", cache down" if self.cache_down else "")

    @property
    def load_count(self) -> int:
        """Database loads during the burst (the warm-up's are not counted)."""
        return len(self.loads)

    @property
    def loads_per_expiry(self) -> float:
        """Database loads per list (each list expires once per run)."""
        return self.load_count / self.key_count

    @property
    def errors(self) -> int:
        """Requests that got an error instead of a page."""
        return sum(1 for r in self.requests if r.error)

    @property
    def latencies_s(self) -> list[float]:
        """The latency of every request that got its page, in arrival order."""
        return [r.latency_s for r in self.requests if not r.error]

    @property
    def stale_reads(self) -> int:
        """Requests served a value older than the nominal TTL."""
        return sum(1 for r in self.requests if r.stale_s > 0)

    @property
    def max_stale_s(self) -> float:
        """The furthest past the nominal TTL that any served value was, in seconds."""
        return max((r.stale_s for r in self.requests), default=0.0)

    def latency_quartiles(self) -> tuple[float, float]:
        """The median latency of the first quarter of requests, by arrival, and of the last.

        A system past its capacity queues: the last requests wait for every one before
        them, so the late figure grows with the burst while the early one does not.
        """
        served = self.latencies_s
        if len(served) < 4:
            raise ValueError(f"quartiles need at least 4 served requests, got {len(served)}")
        quarter = len(served) // 4
        return statistics.median(served[:quarter]), statistics.median(served[-quarter:])

    @property
    def most_loads_at_once(self) -> int:
        """The most database loads that were running at the same moment."""
        events = sorted(
            [(load.started_s, 1) for load in self.loads]
            + [(load.ended_s, -1) for load in self.loads]
        )  # at a tie, an end (-1) sorts before a start: loads that only touch do not overlap
        running = most = 0
        for _, change in events:
            running += change
            most = max(most, running)
        return most

    def refilled_s(self, key_index: int = 0) -> float:
        """When list ``key_index`` was first stored again during the burst (s after the start).

        Noted as the store returned, so every read that still missed the list -- and every
        request that loaded it because of that -- began before this moment. ``inf`` if the
        list was never stored again.
        """
        return self.stored_s.get(key_index, math.inf)

    @property
    def first_load_s(self) -> float:
        """How long the first load of each list took, on average: D as the burst saw it."""
        firsts: dict[int, _BurstLoad] = {}
        for load in sorted(self.loads, key=lambda item: item.started_s):
            firsts.setdefault(load.key_index, load)
        return statistics.fmean(load.duration_s for load in firsts.values()) if firsts else 0.0

    def summary(self) -> dict[str, Any]:
        """One row of lesson 08's table."""
        return {
            "strategy": self.label,
            "requests": len(self.requests),
            "loads per expiry": round(self.loads_per_expiry, 2),
            **super().summary(),
            "ran the query": sum(r.loaded for r in self.requests),
            "stale reads": self.stale_reads,
            "most stale (s)": round(self.max_stale_s, 3),
            "errors": self.errors,
        }


# --------------------------------------------------------------------------- one process's share


class _Loads:
    """The database side of one process: each load opens its own shop, and is recorded.

    An SQLite connection belongs to the thread that opened it, and every request is a
    thread of its own, so a load opens a connection, runs the query and closes it
    (about a millisecond on top of the query; it is counted in the load's duration).
    With ``db_connections`` set, at most that many loads run at once, as through a web
    app's pool of database connections; the others wait in line for one (a load's
    ``started_s`` is when it got one).
    """

    def __init__(
        self,
        db_path: str,
        start: Callable[[], float],
        fresh_for_s: float,
        db_connections: Optional[int] = None,
    ) -> None:
        self._db_path = db_path
        self._start = start
        self._fresh_for_s = fresh_for_s
        self.records: list[_BurstLoad] = []
        self._lock = threading.Lock()
        self._pool = threading.Semaphore(db_connections) if db_connections else None

    def loader(self, key_index: int) -> Callable[[], dict]:
        """The loader of trending list ``key_index``: the real query, timed and recorded."""
        limit = _TRENDING_LIMITS[key_index]

        def load() -> dict:
            if self._pool is not None:
                self._pool.acquire()
            try:
                started = self._start()
                shop = Shop(self._db_path)
                try:
                    rows = shop.trending(days=7, limit=limit)
                finally:
                    shop.close()
                ended = self._start()
            finally:
                if self._pool is not None:
                    self._pool.release()
            with self._lock:
                self.records.append(_BurstLoad(key_index, started, ended))
            return {"rows": rows, "loaded_at": time.time(), "fresh_for_s": self._fresh_for_s}

        return load


def _page(strategy: Protection, cache: Any, ttl: float, spread: float, beta: float, seed: int):
    """The request handler of ``strategy``: ``page(key, loader) -> value``."""
    refill_ttl = _REFILL_TTL_S
    if strategy == Protection.NONE:
        return lambda key, load: cache.get_or_load(key, load, refill_ttl)
    if strategy == Protection.SINGLE_FLIGHT:
        flight = SingleFlight(cache, lock_ttl=5.0, wait_timeout=10.0)
        return lambda key, load: flight.get_or_load(key, load, refill_ttl)
    if strategy == Protection.JITTER:
        rng = random.Random(seed)
        return lambda key, load: cache.get_or_load(key, load, jittered_ttl(refill_ttl, spread, rng))
    if strategy in (Protection.EARLY_REFRESH, Protection.EARLY_REFRESH_MARKER):
        lock_ttl = 5.0 if strategy == Protection.EARLY_REFRESH_MARKER else None
        early = EarlyRefresh(cache, beta=beta, rng=random.Random(seed), lock_ttl=lock_ttl)
        return lambda key, load: early.get_or_load(key, load, refill_ttl)
    swr = _swr(cache, ttl)

    def page(key: str, load: Callable[[], Any]) -> Any:
        return swr.get_or_load(key, load)

    page.guard = swr  # type: ignore[attr-defined]  (so the run can wait for its refreshes)
    return page


def _cache_that_notes_stores(
    client: Any, prefix: str, names: list[str], note: Callable[[int], None]
) -> Any:
    """A ``RedisCache`` that calls ``note(list index)`` after each store of a list's value
    (plain, early-refresh or stale-while-revalidate entry) that Redis accepted."""
    index = {}
    for i, name in enumerate(names):
        for key in (name, keys._early_refresh(name), keys._stale_while_revalidate(name)):
            index[key] = i

    class NotingCache(RedisCache):
        def set(self, key: str, value: Any, ttl: Optional[float] = None) -> bool:
            stored = super().set(key, value, ttl)
            if stored and key in index:
                note(index[key])
            return stored

        def set_and_release(
            self, key: str, value: Any, ttl: Optional[float] = None, *, lock_key: str, token: str
        ) -> bool:
            stored = super().set_and_release(key, value, ttl, lock_key=lock_key, token=token)
            if stored and key in index:
                note(index[key])
            return stored

    return NotingCache(client, prefix=prefix)


def _swr(cache: Any, ttl: float, clock: Callable[[], float] = time.time) -> Any:
    """The burst's stale-while-revalidate: a refreshed value is fresh for ``_REFILL_TTL_S``,
    and may be served stale for ``_SWR_STALE_S`` after that.

    The warm-up stamps its values as loaded ``REFILL_TTL_S − ttl`` before the start, so
    they turn stale at ``ttl`` (and too old to serve at ``ttl + SWR_STALE_S``).
    """
    return StaleWhileRevalidate(
        cache,
        fresh_ttl=_REFILL_TTL_S,
        stale_ttl=_REFILL_TTL_S + _SWR_STALE_S,
        clock=clock,
    )


def _warm_up(
    strategy: Protection,
    cache: Any,
    names: list[str],
    values: list[dict],
    plan: dict,
    start_wall: float,
) -> None:
    """Write every list at once, as a deploy would, each with its TTL counted from
    ``start_wall`` (the burst's start, a few milliseconds ahead: the TTLs are lengthened
    by that lead, and the values stamped as loaded at the start)."""
    ttl = plan["ttl"]
    for value in values:
        value["loaded_at"] = start_wall
        value["fresh_for_s"] = ttl
    lead = max(0.0, start_wall - time.time())

    def from_start(expiry: float) -> float:  # whole ms, a ms early: Redis may keep a key 1 ms on
        return max(0.001, math.floor((expiry + lead) * 1000) / 1000 - 0.001)

    if strategy in (Protection.EARLY_REFRESH, Protection.EARLY_REFRESH_MARKER):
        early = EarlyRefresh(cache, beta=plan["beta"])
        for name, value in zip(names, values):
            early.store(name, value, delta_s=plan["delta_s"], ttl=from_start(ttl))
    elif strategy == Protection.STALE_WHILE_REVALIDATE:
        swr = _swr(cache, ttl, clock=lambda: start_wall - (_REFILL_TTL_S - ttl))
        for name, value in zip(names, values):
            swr.store(name, value)
    else:
        for name, value, expiry in zip(names, values, plan["expiries_s"]):
            cache.set(name, value, from_start(expiry))


def _worker_cache(
    client: Any, prefix: str, names: list[str], note: Callable[[int], None], cache_down: bool
) -> Any:
    """The shared cache, noting each list's stores; with ``cache_down``, one whose server died."""
    if not cache_down:
        return _cache_that_notes_stores(client, prefix, names, note)
    # A cache whose server has just died, so it fails open: no server is stopped, so the burst
    # also runs where the only Redis is a room's shared one and no server program is installed.
    return RedisCache(_gone_client(), prefix=prefix, fail_open=True)


def _ask(
    page: Callable[[str, Callable[[], Any]], Any], name: str, query: Callable[[], dict]
) -> tuple[float, str, bool]:
    """Ask ``page`` for list ``name``: (stale seconds, error, whether this thread ran the query)."""
    me = threading.get_ident()
    ran_query = [False]

    def load() -> dict:  # the query, noting whether it ran in this request's own thread
        ran_query[0] = ran_query[0] or threading.get_ident() == me
        return query()

    error = ""
    stale_s = 0.0
    asked_at = time.time()
    try:
        value = page(name, load)
        stale_s = max(0.0, asked_at - value["loaded_at"] - value["fresh_for_s"])
    except Exception as failure:  # recorded: a burst counts its errors
        error = f"{type(failure).__name__}: {failure}"
    return stale_s, error, ran_query[0]


def _agree_on_start(
    client: Any,
    prefix: str,
    strategy: Protection,
    cache: Any,
    names: list[str],
    plan: dict,
    worker_index: int,
    workers: int,
) -> float:
    """The burst's start (wall clock) that every process agrees on; the first one warms up."""
    # Meet the other processes. The first writes every list at once (the deploy), for a start
    # a moment ahead, and only then tells the others when that start is: a process that a busy
    # machine pauses before its writes plans a new start, rather than shift every expiry.
    ready_key = keys._redis_key(prefix, "burst:ready")
    start_key = keys._redis_key(prefix, "burst:start")
    client.incr(ready_key)
    if worker_index == 0:
        while int(client.get(ready_key) or 0) < workers:
            time.sleep(0.001)
        while True:
            start_wall = time.time() + _START_LEAD_S
            _warm_up(strategy, cache, names, [dict(v) for v in plan["values"]], plan, start_wall)
            if time.time() < start_wall - _START_LEAD_S / 2:
                break
        client.set(start_key, repr(start_wall), ex=60)
        return start_wall
    while (start := client.get(start_key)) is None:
        time.sleep(0.001)
    return float(start)


def _burst_worker(
    db_path: str,
    redis_url: str,
    prefix: str,
    strategy: Protection,
    plan: dict,
    arrivals: Sequence[tuple[float, int]],
    worker_index: int,
    workers: int,
    on_done: Optional[Callable[[], Any]] = None,
) -> dict:
    """One process's share of a burst: its arrivals, as threads, against the shared cache.

    ``on_done()`` is called as each request finishes (a progress bar, in this process only).
    """
    client = connect(redis_url, timeout_s=_REDIS_TIMEOUT_S)
    offset = [0.0]  # perf_counter at the shared start, once it is known
    names = [keys.trending(7, _TRENDING_LIMITS[i]) for i in range(plan["key_count"])]
    stored: dict[int, float] = {}  # list -> first store after the start (the warm-up's are not)
    stores_lock = threading.Lock()

    def note_store(key_index: int) -> None:
        if offset[0]:
            with stores_lock:
                stored.setdefault(key_index, time.perf_counter() - offset[0])

    cache = _worker_cache(client, prefix, names, note_store, plan["cache_down"])
    loads = _Loads(
        db_path, lambda: time.perf_counter() - offset[0], _REFILL_TTL_S, plan["db_connections"]
    )
    page = _page(strategy, cache, plan["ttl"], plan["spread"], plan["beta"], plan["seed"] + 1)
    records: list[Optional[_BurstRequest]] = [None] * len(arrivals)
    ready = threading.Barrier(len(arrivals) + 1)

    def request(index: int, arrived_s: float, key_index: int) -> None:
        query = loads.loader(key_index)
        ready.wait()
        delay = offset[0] + arrived_s - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        started_s = time.perf_counter() - offset[0]
        stale_s, error, loaded = _ask(page, names[key_index], query)
        latency = time.perf_counter() - offset[0] - arrived_s
        records[index] = _BurstRequest(
            arrived_s, key_index, latency, stale_s, error, started_s, loaded
        )
        if on_done is not None:
            on_done()

    threads = [
        threading.Thread(target=request, args=(i, t, k), daemon=True)
        for i, (t, k) in enumerate(arrivals)
    ]
    for thread in threads:
        thread.start()
    start_wall = _agree_on_start(
        client, prefix, strategy, cache, names, plan, worker_index, workers
    )
    offset[0] = time.perf_counter() + (start_wall - time.time())
    ready.wait()
    for thread in threads:
        thread.join()
    guard = getattr(page, "guard", None)
    if guard is not None:
        guard.wait_for_refreshes(timeout_s=30)
    return {
        "pid": os.getpid(),
        "requests": [r for r in records if r is not None],
        "loads": loads.records,
        "stored": stored,
    }


def run_burst(
    db_path: Any,
    strategy: Protection = Protection.NONE,
    *,
    read_rate: float = 100.0,
    duration_s: float = 0.9,
    ttl: float = 0.5,
    key_count: int = 1,
    processes: int = 1,
    spread: float = 0.2,
    beta: float = 1.0,
    delta_s: Optional[float] = None,
    seed: int = 0,
    cache_down: bool = False,
    db_connections: Optional[int] = None,
    redis_url: Optional[str] = None,
    progress: bool = False,
) -> BurstRun:
    """Play one burst on the shop at ``db_path`` through ``strategy``; see the module docstring.

    ``read_rate`` requests per second arrive over ``duration_s`` seconds, spread evenly
    over ``key_count`` trending lists written together with ``ttl`` (under
    ``"jitter"``, with ``jittered_ttl(ttl, spread)`` each). ``processes`` worker
    processes share the requests. ``beta`` is early refresh's β, and ``delta_s`` the
    recompute time its warm-up records (default: the warm-up's own load time). With
    ``cache_down=True`` the cache is a fail-open ``RedisCache`` whose server has just
    stopped (lesson 04): every request goes to the database. ``db_connections`` (default
    none) makes each process's loads share a pool of that many database connections, as a
    web app's do: past them, loads wait in line. The run coordinates its
    processes through the course's Redis (``redis_url``, default ``connect()``'s), under
    a prefix of its own inside the learner's, deleted afterwards. ``progress=True`` shows
    a progress bar of the requests (in one process; with several, a bar of one step that
    fills when every process has reported).
    """
    strategy, read_rate, duration_s, ttl = _validate_burst(
        strategy, read_rate, duration_s, ttl, key_count, processes, db_connections, delta_s
    )
    times, codes = poisson_arrivals(
        read_rate, 0, duration_s, key_count=key_count, zipf_exponent=0.0, seed=seed
    )
    arrivals = [(t, _key_of(code)) for t, code in zip(times, codes)]
    client = connect(redis_url)
    url = redis_url or url_of(client)
    prefix = f"{keys.learner_prefix()}burst:{uuid.uuid4().hex[:10]}:"

    plan = _plan(
        db_path, strategy, ttl, key_count, spread, beta, delta_s, seed, cache_down, db_connections
    )
    jobs = [
        (str(db_path), url, prefix, strategy, plan, arrivals[i::processes], i, processes)
        for i in range(processes)
    ]
    try:
        reports = _run_shares(jobs, len(arrivals), strategy, progress)
    finally:
        RedisCache(client, prefix=prefix).clear()
    requests, loads, stored = _merge_reports(reports)
    return BurstRun(
        cache_down=bool(cache_down),
        strategy=strategy,
        read_rate=read_rate,
        duration_s=duration_s,
        ttl=ttl,
        key_count=key_count,
        processes=processes,
        expiries_s=plan["expiries_s"],
        requests=requests,
        loads=loads,
        pids=[report["pid"] for report in reports],
        stored_s=stored,
    )


def _validate_burst(
    strategy: str,
    read_rate: float,
    duration_s: float,
    ttl: float,
    key_count: int,
    processes: int,
    db_connections: Optional[int],
    delta_s: Optional[float],
) -> tuple[Protection, float, float, float]:
    """Check ``run_burst``'s arguments before it starts anything; return its strategy (a
    ``Protection``), rate, duration and ttl."""
    strategy = Protection(validate_choice(strategy, "strategy", [p.value for p in Protection]))
    read_rate = validate_number(
        read_rate, "read_rate", above=0, maximum=_MAX_READ_RATE, unit="per second"
    )
    duration_s = validate_number(duration_s, "duration_s", above=0, maximum=60, unit="seconds")
    ttl = validate_number(ttl, "ttl", above=0, maximum=60, unit="seconds")
    validate_whole_number(key_count, "key_count", maximum=len(_TRENDING_LIMITS))
    validate_whole_number(processes, "processes", maximum=8)
    if db_connections is not None:
        validate_whole_number(db_connections, "db_connections", maximum=256)
    if read_rate * duration_s > _MAX_REQUESTS:
        raise ValueError(
            f"read_rate × duration_s must be at most {_MAX_REQUESTS:,} requests (one thread each), "
            f"got {read_rate * duration_s:,.0f}"
        )
    if delta_s is not None:
        validate_number(delta_s, "delta_s", minimum=0, maximum=60, unit="seconds")
    return strategy, read_rate, duration_s, ttl


def _plan(
    db_path: Any,
    strategy: Protection,
    ttl: float,
    key_count: int,
    spread: float,
    beta: float,
    delta_s: Optional[float],
    seed: int,
    cache_down: bool,
    db_connections: Optional[int],
) -> dict:
    """What every process needs to play its share: the warm-up's values, each list's expiry."""
    values, measured_delta_s = _warm_up_values(db_path, key_count)
    rng = random.Random(seed)
    expiries = [
        jittered_ttl(ttl, spread, rng) if strategy == Protection.JITTER else ttl
        for _ in range(key_count)
    ]
    return {
        "key_count": key_count,
        "ttl": ttl,
        "spread": spread,
        "beta": beta,
        "seed": seed,
        "delta_s": measured_delta_s if delta_s is None else delta_s,
        "expiries_s": expiries,
        "values": values,
        "cache_down": bool(cache_down),
        "db_connections": db_connections,
    }


def _warm_up_values(db_path: Any, key_count: int) -> tuple[list[dict], float]:
    """The lists' values, loaded before the burst for its warm-up, and how long one load took."""
    shop = Shop(db_path)
    try:
        started = time.perf_counter()
        values = [
            {"rows": shop.trending(days=7, limit=_TRENDING_LIMITS[i])} for i in range(key_count)
        ]
        return values, (time.perf_counter() - started) / key_count
    finally:
        shop.close()


def _run_shares(jobs: list[tuple], total: int, strategy: Protection, progress: bool) -> list[dict]:
    """Every process's report: one share in this process (with a progress bar), or several."""
    if len(jobs) > 1:  # the workers report only when done: a bar of one step says what runs
        label = f"{Protection(strategy).label}, {len(jobs)} processes"
        with tqdm(total=1, desc=label, unit=" burst", disable=not progress, leave=False) as bar:
            reports = run_workers(_burst_worker, jobs)
            bar.update()
        return reports
    with tqdm(
        total=total,
        desc=Protection(strategy).label,
        unit=" requests",
        disable=not progress,
        leave=False,
    ) as bar:
        lock = threading.Lock()

        def done() -> None:
            with lock:
                bar.update()

        return [_burst_worker(*jobs[0], on_done=done)]


def _merge_reports(
    reports: list[dict],
) -> tuple[list[_BurstRequest], list[_BurstLoad], dict[int, float]]:
    """All processes' requests (by arrival), loads (by start), and each list's first refill."""
    requests = sorted(
        (r for report in reports for r in report["requests"]), key=lambda r: r.arrived_s
    )
    loads = sorted((x for report in reports for x in report["loads"]), key=lambda x: x.started_s)
    stored: dict[int, float] = {}
    for report in reports:
        for key_index, at in report["stored"].items():
            stored[key_index] = min(at, stored.get(key_index, math.inf))
    return requests, loads, stored


def plot_burst(result: BurstRun, ax=None, title: Optional[str] = None):
    """A burst as a picture: each request's latency at its arrival, each load as a bar below.

    The dotted lines mark the moments the lists were written to expire. Requests and loads differ
    in shape (dots, hatched bars) as well as in colour (Okabe-Ito blue and vermillion, as the
    course's other plots), so the figure reads without colour too. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    arrived = [r.arrived_s for r in result.requests if not r.error]
    ax.scatter(
        arrived,
        [r.latency_s * 1e3 for r in result.requests if not r.error],
        s=10,
        color="#0072B2",
        marker="o",
        label="a request (its latency)",
        zorder=3,
    )
    top = max([r.latency_s * 1e3 for r in result.requests if not r.error] + [1.0])
    height = top * 0.04
    for i, load in enumerate(result.loads):
        ax.broken_barh(
            [(load.started_s, load.duration_s)],
            (-height * (i % 12 + 1.5), height * 0.8),
            facecolor="#D55E00",
            edgecolor="black",
            hatch="////",
            linewidth=0.5,
            label="a database load" if i == 0 else None,
        )
    for i, expiry in enumerate(sorted(set(result.expiries_s))):
        ax.axvline(
            expiry, color="black", ls=":", lw=1, label="written to expire" if i == 0 else None
        )
    ax.set_ylim(bottom=-height * 13.5)
    ax.set_yticks([tick for tick in ax.get_yticks() if 0 <= tick <= top * 1.05])
    ax.set_xlim(0, result.duration_s)
    ax.set_xlabel("time since the lists were written (s)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title or f"{result.label}: {result.load_count} database loads")
    ax.legend(fontsize=8, loc="upper right")
    return ax


# ------------------------------------------------------------------ simulated on a fake clock


@dataclass(frozen=True)
class SimulatedReads:
    """Reads replayed on a ``FakeClock`` through the real caches: ``read_rate`` a second at
    random (``workload.poisson_arrivals``), of values cached for ``ttl`` seconds.

    Two experiments run on them: ``warm_up`` (many keys written together, with or without TTL
    jitter) and ``early_refresh`` (one key read through XFetch). A comparison states its reads
    once and changes only what it compares. The random numbers come from ``seed``: the same
    settings replay the same run.

    >>> reads = SimulatedReads(read_rate=100, ttl=10)
    >>> together = reads.warm_up(key_count=50, duration_s=30)
    >>> spread = reads.warm_up(key_count=50, spread=0.2, duration_s=30)
    >>> together.peak_loads_per_s > 2 * spread.peak_loads_per_s
    True
    """

    read_rate: float
    ttl: float
    seed: int = 0

    def __post_init__(self) -> None:
        validate_number(self.read_rate, "read_rate", above=0, maximum=100_000, unit="per second")
        validate_number(self.ttl, "ttl", above=0, maximum=86_400, unit="seconds")

    def warm_up(
        self, key_count: int = 500, spread: float = 0.0, duration_s: float = 300.0
    ) -> _WarmUpRun:
        """``key_count`` keys written together at t = 0, then these reads for ``duration_s`` s.

        The real ``MemoryCache``: every key is written at once with
        ``jittered_ttl(ttl, spread)`` (``spread=0``: one TTL for all), then the reads arrive,
        spread evenly over the keys; a miss is a database load, stored again with a freshly
        jittered TTL. A load is instant here -- this counts loads per second, it does not time
        them (``run_burst`` does).
        """
        validate_whole_number(key_count, "key_count", maximum=100_000)
        read_rate, ttl, seed = self.read_rate, self.ttl, self.seed
        spread = validate_number(spread, "spread", minimum=0, maximum=_MAX_SPREAD)
        duration_s = validate_number(
            duration_s, "duration_s", above=0, maximum=86_400, unit="seconds"
        )
        if read_rate * duration_s > 5_000_000:
            raise ValueError(
                "read_rate × duration_s must be at most 5,000,000 reads, "
                f"got {read_rate * duration_s:,.0f}"
            )
        clock = FakeClock()
        cache = MemoryCache(clock=clock)
        rng = random.Random(seed)
        names = [keys.product(i + 1) for i in range(key_count)]
        first_expiries = []
        for name in names:
            key_ttl = jittered_ttl(ttl, spread, rng)
            cache.set(name, 0, key_ttl)
            first_expiries.append(key_ttl)
        times, codes = poisson_arrivals(
            read_rate, 0, duration_s, key_count=key_count, zipf_exponent=0.0, seed=seed
        )
        loads: list[float] = []
        missing = object()
        for t, code in zip(times, codes):
            clock.now = t
            if cache.get(names[code], missing) is missing:
                loads.append(t)
                cache.set(names[code], 0, jittered_ttl(ttl, spread, rng))
        return _WarmUpRun(self, spread, key_count, duration_s, first_expiries, loads)

    def early_refresh(
        self, beta: float = 1.0, delta_s: float = 0.05, cycles: int = 300
    ) -> EarlyRefreshRun:
        """``cycles`` lives of one value, these reads of it going through the real
        ``EarlyRefresh``.

        Each cycle stores the value with recompute time ``delta_s`` and this ``ttl``, then
        replays that cycle's reads until one refreshes or the value expires. A refresh is taken
        as instant here, so a cycle ends at its first refresh: this measures *when* XFetch
        decides, not the overlap of refreshes that a slow recomputation allows (``run_burst``
        measures that).

        >>> run = SimulatedReads(read_rate=80, ttl=1.0).early_refresh(beta=1.0, cycles=200)
        >>> run.expired_fraction < 0.05 < run.median_refresh_gap_s < 0.2
        True
        """
        beta = validate_number(beta, "beta", above=0, maximum=100)
        delta_s = validate_number(delta_s, "delta_s", above=0, maximum=60, unit="seconds")
        read_rate, ttl, seed = self.read_rate, self.ttl, self.seed
        validate_whole_number(cycles, "cycles", maximum=100_000)
        if read_rate * ttl * cycles > 2_000_000:
            raise ValueError("read_rate × ttl × cycles must be at most 2,000,000 reads")
        clock = FakeClock()
        early = EarlyRefresh(
            MemoryCache(clock=clock), beta=beta, rng=random.Random(seed), clock=clock
        )
        key = keys.trending()
        times, _ = poisson_arrivals(read_rate, 0, ttl * cycles, seed=seed)
        read_gaps: list[float] = []
        refreshed_flags: list[bool] = []
        refresh_gaps: list[Optional[float]] = [None] * cycles
        refreshed = [False]

        def refresh() -> str:
            refreshed[0] = True
            return "new"

        current = -1
        for t in times:
            cycle = min(int(t // ttl), cycles - 1)
            if cycle != current:  # a new life of the value: stored afresh at the cycle's start
                current = cycle
                clock.now = 2 * ttl * cycle
                early.store(key, "old", delta_s=delta_s, ttl=ttl)
                done = False
            if done:
                continue
            clock.now = 2 * ttl * cycle + (t - ttl * cycle)
            gap = ttl - (t - ttl * cycle)
            refreshed[0] = False
            early.get_or_load(key, refresh, ttl)
            read_gaps.append(gap)
            refreshed_flags.append(refreshed[0])
            if refreshed[0]:
                refresh_gaps[cycle] = gap
                done = True
        return EarlyRefreshRun(self, beta, delta_s, read_gaps, refreshed_flags, refresh_gaps)


@dataclass
class _WarmUpRun:
    """A simulated warm-up: when each key's first value expired, and when every load happened."""

    reads: SimulatedReads
    spread: float
    key_count: int
    duration_s: float
    first_expiries_s: list[float] = field(repr=False)
    load_times_s: list[float] = field(repr=False)

    def loads_per_second(self) -> list[int]:
        """Database loads in each second of the run (index = the second)."""
        counts = [0] * int(math.ceil(self.duration_s))
        for t in self.load_times_s:
            counts[min(int(t), len(counts) - 1)] += 1
        return counts

    @property
    def peak_loads_per_s(self) -> int:
        """The busiest second's loads."""
        return max(self.loads_per_second())


@dataclass
class EarlyRefreshRun:
    """Many TTL cycles of one key read through ``EarlyRefresh``: which reads refreshed, and when.

    ``read_gaps_s`` and ``read_refreshed`` hold every read that was decided (a cycle ends
    at its first refresh); ``refresh_gaps_s`` holds, per cycle, how long before expiry
    the refresh came -- or None when the value expired before any read refreshed it.
    """

    reads: SimulatedReads
    beta: float
    delta_s: float
    read_gaps_s: list[float] = field(repr=False)
    read_refreshed: list[bool] = field(repr=False)
    refresh_gaps_s: list[Optional[float]] = field(repr=False)

    @property
    def cycles(self) -> int:
        return len(self.refresh_gaps_s)

    @property
    def expired_fraction(self) -> float:
        """The share of cycles in which nobody refreshed before expiry (a plain miss follows)."""
        return sum(gap is None for gap in self.refresh_gaps_s) / self.cycles

    @property
    def median_refresh_gap_s(self) -> float:
        """How long before expiry the median early refresh came."""
        gaps = [gap for gap in self.refresh_gaps_s if gap is not None]
        return statistics.median(gaps) if gaps else 0.0

    def refreshed_by_gap(
        self, edges_s: Sequence[float]
    ) -> tuple[list[float], list[float], list[int]]:
        """Per gap bin ``[edges[i], edges[i+1])``: its middle, the share of reads that refreshed,
        and how many reads fell in it."""
        middles, shares, counts = [], [], []
        for low, high in zip(edges_s, edges_s[1:]):
            inside = [r for g, r in zip(self.read_gaps_s, self.read_refreshed) if low <= g < high]
            middles.append((low + high) / 2)
            counts.append(len(inside))
            shares.append(sum(inside) / len(inside) if inside else float("nan"))
        return middles, shares, counts

    def refreshed_at_least(self, gap_s: float) -> float:
        """The share of cycles refreshed at least ``gap_s`` seconds before expiry."""
        return sum(g is not None and g >= gap_s for g in self.refresh_gaps_s) / self.cycles


def refreshed_at_least_formula(
    gap_s: float, delta_s: float, beta: float, read_rate: float, ttl: float
) -> float:
    """The chance that XFetch refreshes a value at least ``gap_s`` before it expires.

    Reads arrive at ``read_rate`` (Poisson) over a value's ``ttl``; each refreshes with
    probability ``exp(−gap/(Δβ))`` at its own gap, so refreshes come at rate
    ``λ·exp(−g/(Δβ))``, and the chance that none came between gaps ``ttl`` and
    ``gap_s`` is ``exp(−λΔβ·(exp(−gap_s/(Δβ)) − exp(−ttl/(Δβ))))``. One minus that.

    >>> round(refreshed_at_least_formula(0.0, 0.05, 1.0, 80, 1.0), 3)   # before expiry at all
    0.982
    """
    scale = delta_s * beta
    if scale <= 0:
        return 0.0
    gap_s = min(max(gap_s, 0.0), ttl)
    return 1.0 - math.exp(-read_rate * scale * (math.exp(-gap_s / scale) - math.exp(-ttl / scale)))
