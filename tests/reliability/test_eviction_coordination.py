"""The course's coordination keys on a Redis that evicts: no strategy may then give a wrong answer.

A cache under ``allkeys-lru`` may evict *any* key, and the course keeps more than pages
in it: single-flight locks, lease tokens, version counters, stale-while-revalidate
refresh markers. Redis's LRU clock ticks once a second, so a lock taken a millisecond
ago looks as old as every page written in the same second, and is evicted as readily.
Losing one costs the strategy its coordination -- a second load of the same key, a
refused fill -- and that is allowed. What is not: an answer that is wrong because a
coordination key vanished.

- a version counter that restarts from 0 hands out old versions again, and the pages
  stored under them become current: old rows served as new (``cache.increment`` now
  restarts from the clock, ``cache._counter_epoch``);
- a lock or a refresh marker that vanishes lets a second load run beside the first; if
  the slower, older load could still store its value, readers would see the value go
  back in time (the fill is refused unless the lock still holds its holder's token);
- a lease that vanishes must refuse the fill it entitled, never let an old row in.

Each test runs real threads against a private server with a small ``maxmemory`` and a
filler thread that keeps it evicting, counts the wrong answers (0 expected), and checks
that the run really did evict and lose coordination, so that a pass is not blind.
Lesson 13 shows the same runs. ``tests/reliability/test_eviction_restart.py`` runs
lesson 06's strategies (versioned keys, leases) on pages, one request at a time.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Callable, Iterator

import pytest

from cachelab.cache import RedisCache
from cachelab.environment.redis_server import PrivateRedisServer
from cachelab.invalidation import LeaseCache
from cachelab.stampedes import SingleFlight, StaleWhileRevalidate

PREFIX = "cachelab:ada:coordination:"
MEMORY_ABOVE_BASELINE = 400_000
"""``maxmemory`` this many bytes above the empty server: room for ~40 filler pages."""
FILLER_BYTES = 10_000
RUN_S = 2.0
"""How long each run lasts: the claims count events, not rates (a slow machine sees fewer)."""
READERS = 6


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateRedisServer]:
    server = PrivateRedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def cache(server: PrivateRedisServer) -> Iterator[RedisCache]:
    """A cache on a private server that holds little and evicts with ``allkeys-lru``."""
    client = server.client()
    client.config_set("maxmemory", 0)
    RedisCache(client, prefix=PREFIX).clear()
    client.config_resetstat()
    baseline = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", baseline + MEMORY_ABOVE_BASELINE)
    yield RedisCache(client, prefix=PREFIX)
    client.config_set("maxmemory", 0)
    RedisCache(client, prefix=PREFIX).clear()


class Database:
    """The truth: one number that a write bumps; a load reads it, then takes 2-40 ms more.

    Counts the loads, and the loads that ran while another was running (``overlapping``):
    what a single-flight lock or a refresh marker is there to prevent.
    """

    def __init__(self) -> None:
        self.version = 1
        self.settled = 1  # the version every read that starts now must see, or a newer one
        self.loads = self.overlapping = 0
        self._running = 0
        self._lock = threading.Lock()
        self._rng = random.Random(13)

    def load(self) -> int:
        with self._lock:
            self.loads += 1
            self._running += 1
            self.overlapping += self._running > 1
            version = self.version
            pause = self._rng.uniform(0.002, 0.04)
        time.sleep(pause)
        with self._lock:
            self._running -= 1
        return version

    def write(self) -> int:
        with self._lock:
            self.version += 1
            return self.version


def run(
    cache: RedisCache, read: Callable[[], int], write: Callable[[], object] | None = None
) -> tuple[int, int]:
    """(wrong answers, reads): ``READERS`` threads read for ``RUN_S`` while a filler evicts.

    A read is wrong if it goes back in time: older than what this reader was served before,
    or older than ``database.settled`` when it started (a write that had returned).
    """
    stop = time.monotonic() + RUN_S
    wrong = reads = 0
    counted = threading.Lock()

    def reader(settled: Callable[[], int]) -> None:
        nonlocal wrong, reads
        newest = 0
        while time.monotonic() < stop:
            floor = max(newest, settled())
            value = read()
            newest = max(newest, value)
            with counted:
                reads += 1
                wrong += value < floor
            time.sleep(0.001)

    def filler() -> None:
        n = 0
        while time.monotonic() < stop:
            cache.set(f"page:other:{n}", "x" * FILLER_BYTES, 600)
            n += 1
            if write is not None and n % 5 == 0:
                write()
            time.sleep(0.002)

    settled = getattr(read, "settled", lambda: 0)
    threads = [threading.Thread(target=reader, args=(settled,)) for _ in range(READERS)]
    threads.append(threading.Thread(target=filler))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return wrong, reads


def evicted(cache: RedisCache) -> int:
    return int(cache.client.info("stats")["evicted_keys"])


def report(name: str, wrong: int, reads: int, database: Database, cache: RedisCache, capsys):
    with capsys.disabled():
        print(
            f"\n  allkeys-lru, {name}: {wrong} wrong of {reads} reads; {database.loads} loads, "
            f"{database.overlapping} beside another; {evicted(cache)} keys evicted"
        )


def test_a_version_counter_lost_to_eviction_never_brings_back_an_old_version(cache, capsys):
    """Pages stored under ``page:v<n>``; a write bumps the counter (``cache.increment``)."""
    database = Database()
    counter = "version:page"
    found_missing = []  # one entry each time a reader found the counter gone (the first: new)

    def version() -> int:
        current = cache.get(counter)
        if current is None:
            found_missing.append(1)
            return cache.increment(counter)
        return current

    def read() -> int:
        page = f"page:v{version()}"
        value = cache.get(page)
        if value is None:
            value = database.load()
            cache.set(page, value, 600)  # lands under the version read before the load
        return value

    def write() -> None:
        version = database.write()
        cache.increment(counter)  # after the commit: a new version, so the next read misses
        database.settled = version

    read.settled = lambda: database.settled  # type: ignore[attr-defined]
    wrong, reads = run(cache, read, write)
    report("version counter", wrong, reads, database, cache, capsys)
    assert wrong == 0, f"{wrong} of {reads} reads were served a page of an old version"
    assert evicted(cache) > 100, "the run did not evict: the test would be blind"
    assert len(found_missing) > 1, "the counter was never lost: the test would be blind"


def test_a_single_flight_lock_lost_to_eviction_never_sends_a_value_back_in_time(cache, capsys):
    database = Database()
    flight = SingleFlight(cache, lock_ttl=1, wait_timeout=5)
    read = lambda: flight.get_or_load("home", database.load, ttl=0.02)  # noqa: E731
    wrong, reads = run(cache, read, database.write)
    report("single-flight lock", wrong, reads, database, cache, capsys)
    assert wrong == 0, f"{wrong} of {reads} reads went back to an older value"
    assert flight.stats.late_fills > 0 and database.overlapping > 0, "no lock was lost: blind"


def test_a_refresh_marker_lost_to_eviction_never_sends_a_value_back_in_time(cache, capsys):
    database = Database()
    swr = StaleWhileRevalidate(cache, fresh_ttl=0.01, stale_ttl=0.05, lock_ttl=1, wait_timeout=5)
    wrong, reads = run(cache, lambda: swr.get_or_load("home", database.load), database.write)
    swr.wait_for_refreshes()
    report("stale-while-revalidate marker", wrong, reads, database, cache, capsys)
    assert wrong == 0, f"{wrong} of {reads} reads went back to an older value"
    assert database.overlapping > 0, "no marker or lock was lost: the test would be blind"


def test_a_lease_lost_to_eviction_never_lets_an_old_row_in(cache, capsys):
    database = Database()
    leases = LeaseCache(cache, lease_ttl=1)

    def read() -> int:
        for _ in range(20):
            value, token = leases.lease_get("page")
            if value is not None:
                return value
            if token is not None:
                value = database.load()
                leases.lease_set("page", value, token, ttl=600)
                return value
            time.sleep(0.002)  # another reader holds the lease: wait for its fill
        return database.load()

    def write() -> None:
        version = database.write()
        leases.delete("page")  # voids the lease, then deletes the page
        database.settled = version

    read.settled = lambda: database.settled  # type: ignore[attr-defined]
    wrong, reads = run(cache, read, write)
    report("lease", wrong, reads, database, cache, capsys)
    assert wrong == 0, f"{wrong} of {reads} reads were served a row older than a finished write"
    assert evicted(cache) > 100 and database.overlapping > 0, "nothing was lost: blind"
