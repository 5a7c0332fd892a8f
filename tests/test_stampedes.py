"""Stampede guards (lesson 08): one load per expiry, early refresh at the predicted rate, jitter
inside its band, stale served on purpose and never too old.

Real Redis, real threads and real worker processes where coordination is the point;
a fake clock wherever time is, so that TTLs pass without sleeping.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from typing import Any

import pytest

from cachelab import keys
from cachelab._internal.validation import MAX_TTL_S
from cachelab.cache import CacheUnavailable, MemoryCache, RedisCache
from cachelab.clock import FakeClock
from cachelab.environment.redis_server import connect, url_of
from cachelab.lab.workers import _context, run_workers
from cachelab.stampedes import (
    _MAX_SPREAD,
    EarlyRefresh,
    SingleFlight,
    StaleWhileRevalidate,
    WaitTimeout,
    jittered_ttl,
    xfetch_probability,
)

HOT = keys.trending()


class Counter:
    """Counts calls of a loader from many threads (``+=`` alone may lose increments)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, value: Any = "loaded") -> Any:
        with self._lock:
            self.calls += 1
        return value


def run_threads(count: int, target) -> list:
    """Run ``target(i)`` in ``count`` threads started together; return their results (or errors)."""
    results: list = [None] * count
    start = threading.Barrier(count)

    def body(i: int) -> None:
        start.wait()
        try:
            results[i] = target(i)
        except BaseException as error:  # returned to the test, which asserts on it
            results[i] = error

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread never finished"
    return results


# --- worker processes (importable: the fork server finds them by module and name) --------------


def miss_together(
    redis_url: str, prefix: str, key: str, callers: int, expected_callers: int
) -> dict:
    """One worker process: ``callers`` threads miss ``key`` at once through SingleFlight.

    The loader counts itself in Redis, then waits until every caller of every process
    has arrived (so that all of them really miss while it runs) before it returns.
    """
    cache = RedisCache(connect(redis_url), prefix=prefix)
    loads_key = keys._redis_key(prefix, "loads")
    arrived_key = keys._redis_key(prefix, "arrived")
    flight = SingleFlight(cache, lock_ttl=30, wait_timeout=30)

    def loader() -> dict:
        cache.client.incr(loads_key)
        deadline = time.monotonic() + 20
        while int(cache.client.get(arrived_key) or 0) < expected_callers:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        time.sleep(0.2)  # the last to arrive reach their GET while this load still runs
        return {"page": "trending", "loaded_by": os.getpid()}

    def call(i: int) -> Any:
        cache.client.incr(arrived_key)
        return flight.get_or_load(key, loader, ttl=60)

    values = run_threads(callers, call)
    return {"pid": os.getpid(), "values": values, "stats": flight.stats.as_dict()}


def hold_the_lock_and_hang(redis_url: str, prefix: str, key: str, lock_ttl: float) -> None:
    """A lock holder whose load never ends: it takes the lock, says so, and hangs until killed."""
    cache = RedisCache(connect(redis_url), prefix=prefix)

    def loader() -> None:
        cache.set("holder-started", True, ttl=60)
        time.sleep(120)

    SingleFlight(cache, lock_ttl=lock_ttl, wait_timeout=1).get_or_load(key, loader)


# --- SingleFlight: one load, across processes and threads ---------------------------------------


def test_fifty_concurrent_misses_across_two_processes_cause_exactly_one_load(
    redis_client, redis_cache, test_prefix
):
    url = url_of(redis_client)
    reports = run_workers(miss_together, [(url, test_prefix, HOT, 25, 50)] * 2)
    values = [value for report in reports for value in report["values"]]
    assert len({report["pid"] for report in reports}) == 2, "two processes took part"
    assert int(redis_client.get(test_prefix + "loads")) == 1, "exactly one database load"
    assert len(values) == 50 and not any(isinstance(v, BaseException) for v in values), values
    assert all(value == redis_cache.get(HOT) for value in values), (
        "every caller got the loaded value"
    )
    assert sum(report["stats"]["loads"] for report in reports) == 1


def test_fifty_threads_missing_one_memory_cache_key_cause_exactly_one_load():
    flight = SingleFlight(MemoryCache(), lock_ttl=30, wait_timeout=30)
    release = threading.Event()
    loads = Counter()

    def loader() -> str:
        loads()
        release.wait(timeout=0.5)  # long enough for all fifty to miss
        return "page"

    values = run_threads(50, lambda i: flight.get_or_load(HOT, loader, ttl=60))
    assert loads.calls == 1
    assert values == ["page"] * 50


def test_a_lock_holder_killed_mid_load_blocks_the_others_no_longer_than_the_lock_ttl(
    redis_client, redis_cache, test_prefix
):
    lock_ttl, wait_timeout = 1.0, 30.0
    holder = _context().Process(
        target=hold_the_lock_and_hang,
        args=(url_of(redis_client), test_prefix, HOT, lock_ttl),
        daemon=True,
    )
    holder.start()
    try:
        deadline = time.monotonic() + 30
        while redis_cache.get("holder-started") is None:
            assert time.monotonic() < deadline, "the holder never started its load"
            assert holder.is_alive(), "the holder died before it took the lock"
            time.sleep(0.01)
        holder.kill()  # mid-load: its lock stays behind, its value never comes
        holder.join(timeout=10)
        assert redis_cache.get(keys.lock(HOT)) is not None, "the dead holder's lock is left"
        loads = Counter()
        flight = SingleFlight(redis_cache, lock_ttl=lock_ttl, wait_timeout=wait_timeout)
        started = time.monotonic()
        values = run_threads(10, lambda i: flight.get_or_load(HOT, lambda: loads("fresh"), ttl=60))
        waited = time.monotonic() - started
    finally:
        if holder.is_alive():
            holder.kill()
            holder.join()
    assert values == ["fresh"] * 10, "no waiter timed out: the lock expired and one took over"
    assert loads.calls == 1, "one waiter loaded after the lock expired; the rest got its value"
    # Had the lock not expired, every waiter would have waited the full 30 s and raised.
    assert waited < wait_timeout / 3


@pytest.fixture(params=["MemoryCache", "RedisCache"])
def atomic_cache(request, redis_cache):
    return MemoryCache() if request.param == "MemoryCache" else redis_cache


def test_a_release_by_a_non_holder_does_nothing(atomic_cache):
    flight = SingleFlight(atomic_cache, lock_ttl=30, wait_timeout=1)
    token = flight.acquire(HOT)
    assert token is not None and flight.acquire(HOT) is None, "one holder at a time"
    assert flight.release(HOT, "someone else's token") is False
    assert atomic_cache.get(keys.lock(HOT)) == token, "the holder's lock is still there"
    assert flight.release(HOT, token) is True
    assert atomic_cache.get(keys.lock(HOT)) is None


def test_a_holder_whose_lock_expired_neither_stores_its_value_nor_releases_the_new_lock(clock):
    cache = MemoryCache(clock=clock)
    slow = SingleFlight(cache, lock_ttl=1, wait_timeout=5, clock=clock, sleep=clock.advance)
    other = SingleFlight(cache, lock_ttl=1, wait_timeout=5, clock=clock, sleep=clock.advance)
    taken_over: list[str] = []

    def slow_loader() -> str:
        clock.advance(2)  # longer than the lock's TTL
        taken_over.append(other.acquire(HOT))  # the lock expired: another request takes it
        return "late value"

    assert slow.get_or_load(HOT, slow_loader, ttl=60) == "late value", "its caller is still served"
    assert cache.get(HOT) is None, "the late value was not stored over the new holder's load"
    assert cache.get(keys.lock(HOT)) == taken_over[0], "the new holder's lock was not released"
    assert slow.stats.late_fills == 1


def crowd_with_a_slow_load(flight: SingleFlight, requests: int, load_s: float) -> tuple:
    """``requests`` threads ask ``flight`` for HOT at once; its load takes ``load_s`` seconds.
    Returns what each was served and the load counter."""
    loads = Counter()

    def slow_loader() -> str:
        loads()
        time.sleep(load_s)
        return "the page"

    return run_threads(requests, lambda i: flight.get_or_load(HOT, slow_loader, ttl=60)), loads


def test_a_load_slower_than_lock_ttl_keeps_its_lock_and_ends_cached(atomic_cache):
    """A herd slows its own loads, so a load can outlast lock_ttl. Ten requests miss at once; the
    one load takes 0.3 s with lock_ttl=0.2 s. Without renewals the lock expired mid-load, waiters
    retook it and loaded again, every fill was refused (8 loads, nothing cached, 2 WaitTimeouts
    measured): the holder must keep its lock alive while it loads."""
    flight = SingleFlight(atomic_cache, lock_ttl=0.2, wait_timeout=5)
    values, loads = crowd_with_a_slow_load(flight, requests=10, load_s=0.3)
    assert values == ["the page"] * 10, f"every request is served the one value: {values}"
    assert loads.calls == 1, f"one load, not {loads.calls}"
    assert atomic_cache.get(HOT) == "the page", "and it ends cached"
    assert flight.stats.late_fills == 0 and flight.stats.lock_renewals >= 1
    assert atomic_cache.get(keys.lock(HOT)) is None, "the lock is released after the fill"


class LosesOneRenewalAnswer(MemoryCache):
    """A real MemoryCache whose first token swap lands but whose answer is lost (a timeout)."""

    lost = False

    def replace_if_equal(self, key, expected, value, ttl):
        swapped = super().replace_if_equal(key, expected, value, ttl)
        if not self.lost:
            self.lost = True
            raise CacheUnavailable("Redis could not answer (TimeoutError: the reply was lost)")
        return swapped


def test_a_renewal_whose_answer_was_lost_still_ends_cached():
    """The swap landed but the holder never heard: it must find out which token the lock holds,
    or its fill is refused and the waiters wait for a lock nobody holds."""
    cache = LosesOneRenewalAnswer()
    flight = SingleFlight(cache, lock_ttl=0.2, wait_timeout=5)
    values, loads = crowd_with_a_slow_load(flight, requests=5, load_s=0.5)
    assert values == ["the page"] * 5 and loads.calls == 1
    assert cache.lost and flight.stats.late_fills == 0 and cache.get(HOT) == "the page"


def test_a_holder_stops_renewing_when_it_dies_so_its_lock_still_expires(redis_cache):
    """Renewals run in the holder's process: once it is gone (here: its load never returns, and
    renewals give up after wait_timeout), the lock expires within lock_ttl."""
    flight = SingleFlight(redis_cache, lock_ttl=0.4, wait_timeout=0.8)
    release = threading.Event()
    holder = threading.Thread(
        target=lambda: flight.get_or_load(HOT, lambda: release.wait(10) and "late"), daemon=True
    )
    started = time.monotonic()
    holder.start()
    time.sleep(0.6)
    assert redis_cache.get(keys.lock(HOT)) is not None, "renewed past lock_ttl while loading"
    while redis_cache.get(keys.lock(HOT)) is not None and time.monotonic() - started < 5:
        time.sleep(0.02)
    held_for = time.monotonic() - started
    assert held_for < 5, "the lock expired once renewals stopped (after wait_timeout)"
    assert held_for >= 0.8, f"and not before wait_timeout: {held_for:.2f} s"
    release.set()
    holder.join(5)


def test_a_waiter_is_served_the_holders_value_and_never_loads(clock):
    cache = MemoryCache(clock=clock)
    holder_token = "holder"
    assert cache.add(keys.lock(HOT), holder_token, 30)

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        if clock() >= 0.5:  # half a second in, the holder stores its value and releases
            cache.set_and_release(HOT, "page", 60, lock_key=keys.lock(HOT), token=holder_token)

    flight = SingleFlight(cache, lock_ttl=30, wait_timeout=5, clock=clock, sleep=sleep)
    assert flight.get_or_load(HOT, lambda: pytest.fail("a waiter must not load")) == "page"
    assert (flight.stats.waits, flight.stats.loads) == (1, 0)


def test_a_waiter_is_served_a_value_as_soon_as_it_lands_even_while_the_lock_is_held(clock):
    """Another writer (say a write-through) stores the value while a slow holder still loads."""
    cache = MemoryCache(clock=clock)
    assert cache.add(keys.lock(HOT), "a slow holder", 30)

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        if clock() >= 0.5:
            cache.set(HOT, "written through", 60)

    flight = SingleFlight(cache, lock_ttl=30, wait_timeout=5, clock=clock, sleep=sleep)
    assert flight.get_or_load(HOT, lambda: pytest.fail("a waiter must not load")) == (
        "written through"
    )
    assert clock() < 0.6, "served at the first poll after the value landed"


def test_a_waiter_that_waits_longer_than_wait_timeout_gets_wait_timeout_and_never_loads(clock):
    cache = MemoryCache(clock=clock)
    cache.add(keys.lock(HOT), "a holder that never finishes", 60)
    flight = SingleFlight(
        cache, lock_ttl=60, wait_timeout=2, poll_interval=0.3, clock=clock, sleep=clock.advance
    )
    with pytest.raises(WaitTimeout, match="waited 2 s for another request's load"):
        flight.get_or_load(HOT, lambda: pytest.fail("a waiter must not load"))
    assert clock() == pytest.approx(2), "it gave up when wait_timeout had passed, not a poll later"
    assert (flight.stats.timeouts, flight.stats.loads) == (1, 0)


def test_a_waiter_on_real_redis_times_out_in_bounded_time(redis_cache):
    redis_cache.add(keys.lock(HOT), "a holder that never finishes", 30)
    flight = SingleFlight(redis_cache, lock_ttl=30, wait_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(WaitTimeout):
        flight.get_or_load(HOT, lambda: pytest.fail("a waiter must not load"))
    assert time.monotonic() - started >= 0.2
    assert time.monotonic() - started < 5, "a wait ends soon after wait_timeout"


class FilledJustBeforeTheLock(MemoryCache):
    """A cache on which another request stores the value between our miss and our lock."""

    def add(self, key, value, ttl=None):
        if key == keys.lock(HOT) and self.get(HOT) is None:
            self.set(HOT, "the other request's value", 60)
        return super().add(key, value, ttl)


def test_a_value_stored_between_the_miss_and_the_lock_is_not_loaded_again():
    cache = FilledJustBeforeTheLock()
    flight = SingleFlight(cache, lock_ttl=30, wait_timeout=1)
    value = flight.get_or_load(HOT, lambda: pytest.fail("the value was already there"))
    assert value == "the other request's value"
    assert cache.get(keys.lock(HOT)) is None, "the lock was released"


def test_a_loader_that_raises_releases_the_lock_and_its_error_reaches_the_caller(atomic_cache):
    flight = SingleFlight(atomic_cache, lock_ttl=30, wait_timeout=1)

    def broken() -> None:
        raise LookupError("no such page")

    with pytest.raises(LookupError, match="no such page"):
        flight.get_or_load(HOT, broken)
    assert atomic_cache.get(keys.lock(HOT)) is None, "the next request may try at once"
    assert flight.get_or_load(HOT, lambda: "page", ttl=60) == "page"


def test_a_cached_none_is_a_hit(atomic_cache):
    atomic_cache.set(HOT, None, 60)
    flight = SingleFlight(atomic_cache)
    assert flight.get_or_load(HOT, lambda: pytest.fail("None is a cached value")) is None


def test_when_redis_is_down_every_request_loads_by_itself(stoppable_redis, test_prefix):
    cache = RedisCache(connect(stoppable_redis.url), prefix=test_prefix, fail_open=True)
    flight = SingleFlight(cache, lock_ttl=5, wait_timeout=5)
    stoppable_redis.stop()
    loads = Counter()
    assert [flight.get_or_load(HOT, lambda: loads("page")) for _ in range(3)] == ["page"] * 3
    assert loads.calls == 3 and flight.stats.uncoordinated == 3


@pytest.mark.parametrize(
    "arguments, error, match",
    [
        (dict(lock_ttl=None), TypeError, "lock_ttl must be a number of seconds"),
        (dict(lock_ttl=-1), ValueError, "lock_ttl must be a finite number of seconds > 0"),
        (dict(lock_ttl=float("nan")), ValueError, "lock_ttl must be"),
        (dict(wait_timeout=0), ValueError, "wait_timeout must be a finite number of seconds > 0"),
        (dict(wait_timeout="5"), TypeError, "wait_timeout must be"),
        (dict(poll_interval=0), ValueError, "poll_interval must be"),
        (dict(clock=5), TypeError, "clock must be a function"),
    ],
)
def test_single_flight_refuses_bad_settings(arguments, error, match):
    with pytest.raises(error, match=match):
        SingleFlight(MemoryCache(), **arguments)


def test_single_flight_needs_a_cache_with_the_atomic_operations():
    with pytest.raises(TypeError, match="cache must be a course cache .AtomicCache"):
        SingleFlight({})


def test_single_flight_checks_its_arguments_before_loading():
    flight = SingleFlight(MemoryCache())
    with pytest.raises(ValueError, match="ttl must be"):
        flight.get_or_load(HOT, lambda: pytest.fail("loaded before the ttl was checked"), ttl=-1)
    with pytest.raises(TypeError, match="loader must be a function"):
        flight.get_or_load(HOT, "not a function")
    with pytest.raises(ValueError, match="cache keys are"):
        flight.get_or_load("", lambda: pytest.fail("loaded for an empty key"))


# --- EarlyRefresh ---------------------------------------------------------------------------------


def refresh_fraction(beta: float, gap_s: float, delta_s: float, trials: int, seed: int) -> float:
    """The fraction of ``trials`` reads, each ``gap_s`` before expiry, that refreshed early."""
    clock = FakeClock(1_000.0)
    cache = MemoryCache(clock=clock)
    early = EarlyRefresh(cache, beta=beta, rng=random.Random(seed), clock=clock)
    loads = Counter()
    entry = {"value": "old", "delta_s": delta_s, "expires_at": clock() + gap_s}
    for _ in range(trials):
        cache.set(keys._early_refresh(HOT), entry, ttl=60)
        early.get_or_load(HOT, lambda: loads("new"), ttl=60)
    return loads.calls / trials


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_early_refresh_refreshes_with_the_probability_xfetchs_formula_predicts(beta):
    """Tolerance 0.03: over four standard deviations of a fraction of 4,000 reads (σ ≤ 0.008)."""
    delta_s, trials = 0.05, 4_000
    for multiple in (0.1, 0.5, 1.0, 2.0, 3.0):
        gap_s = multiple * delta_s * beta
        measured = refresh_fraction(beta, gap_s, delta_s, trials, seed=int(multiple * 10))
        predicted = math.exp(-gap_s / (delta_s * beta))
        assert abs(measured - predicted) < 0.03, (gap_s, measured, predicted)
        assert xfetch_probability(gap_s, delta_s, beta) == pytest.approx(predicted)


def test_early_refresh_never_refreshes_far_from_expiry_and_always_at_expiry():
    assert refresh_fraction(1.0, gap_s=50 * 0.05, delta_s=0.05, trials=2_000, seed=0) == 0.0
    assert refresh_fraction(1.0, gap_s=0.0, delta_s=0.05, trials=100, seed=0) == 1.0


def test_a_larger_beta_refreshes_earlier():
    gap = 0.05
    fractions = [refresh_fraction(b, gap, 0.05, 2_000, seed=3) for b in (0.5, 1.0, 2.0, 4.0)]
    assert fractions == sorted(fractions) and fractions[0] < fractions[-1]


def test_early_refresh_stores_the_value_with_its_recompute_time_and_expiry(clock):
    early = EarlyRefresh(MemoryCache(clock=clock), rng=random.Random(0), clock=clock)

    def recompute() -> str:
        clock.advance(3)
        return "page"

    assert early.get_or_load(HOT, recompute, ttl=60) == "page"
    assert early.entry(HOT) == {"value": "page", "delta_s": 3.0, "expires_at": 63.0}
    assert early.get_or_load(HOT, lambda: pytest.fail("far from expiry: a hit"), ttl=60) == "page"
    assert (early.stats.loads, early.stats.hits, early.stats.early_refreshes) == (1, 1, 0)


def test_early_refresh_counts_a_refresh_before_expiry_as_early(clock):
    early = EarlyRefresh(MemoryCache(clock=clock), rng=random.Random(0), clock=clock)
    early.get_or_load(HOT, lambda: "v1", ttl=10)
    clock.advance(9.999)
    early.cache.set(keys._early_refresh(HOT), {**early.entry(HOT), "delta_s": 1.0}, ttl=10)
    refreshed = [early.get_or_load(HOT, lambda: "v2", ttl=10) for _ in range(20)]
    assert "v2" in refreshed and early.stats.early_refreshes == 1


def test_with_threads_on_redis_a_hot_key_is_refreshed_before_it_ever_expires(redis_cache):
    """λ·Δ is large here (several threads reading without pause, Δ = 50 ms): a miss per expiry
    has probability about exp(−λΔβ), negligible, so every load after the first is early."""
    early = EarlyRefresh(redis_cache, beta=1.0, rng=random.Random(7))
    loads = Counter()

    def recompute() -> str:
        loads()
        time.sleep(0.05)
        return "page"

    def reader(i: int) -> int:
        end = time.monotonic() + 1.5
        served = 0
        while time.monotonic() < end:
            assert early.get_or_load(HOT, recompute, ttl=0.4) == "page"
            served += 1
        return served

    served = run_threads(4, reader)
    assert all(isinstance(n, int) and n > 10 for n in served), served
    assert loads.calls >= 3, "the 0.4 s value was refreshed several times in 1.5 s"
    assert early.stats.loads - early.stats.early_refreshes <= 4, (
        "only the first readers, before anything was cached, loaded on a miss"
    )


def test_with_a_lock_ttl_only_one_early_refresh_runs_at_a_time(clock):
    cache = MemoryCache(clock=clock)
    early = EarlyRefresh(cache, rng=random.Random(0), lock_ttl=5, clock=clock)
    plain = EarlyRefresh(cache, rng=random.Random(0), clock=clock)
    early.store(HOT, "v1", delta_s=1.0, ttl=10)
    clock.advance(9.99)  # so close to expiry that every reader decides to refresh
    refreshes = Counter()

    def refresh_while_others_read() -> str:
        refreshes()
        served.extend(early.get_or_load(HOT, lambda: refreshes("v2"), ttl=10) for _ in range(5))
        return "v2"

    served: list[str] = []
    assert early.get_or_load(HOT, refresh_while_others_read, ttl=10) == "v2"
    assert served == ["v1"] * 5 and refreshes.calls == 1, "the others kept the valid value"
    assert cache.get(keys.refresh_lock(HOT)) is None, "the marker was released with the fill"
    assert early.get_or_load(HOT, lambda: pytest.fail("fresh"), ttl=10) == "v2"

    early.store(HOT, "v1", delta_s=1.0, ttl=10)
    clock.advance(9.99)
    served.clear()
    refreshes.calls = 0

    def uncoordinated() -> str:
        refreshes()
        served.extend(plain.get_or_load(HOT, lambda: refreshes("v2"), ttl=10) for _ in range(5))
        return "v2"

    plain.get_or_load(HOT, uncoordinated, ttl=10)
    assert refreshes.calls > 1, "without the marker, readers near expiry refresh side by side"


def test_an_early_refresh_whose_loader_raises_releases_its_marker(clock):
    cache = MemoryCache(clock=clock)
    early = EarlyRefresh(cache, rng=random.Random(0), lock_ttl=5, clock=clock)
    early.store(HOT, "v1", delta_s=1.0, ttl=10)
    clock.advance(9.99)

    def broken() -> None:
        raise ConnectionError("database is down")

    with pytest.raises(ConnectionError):
        early.get_or_load(HOT, broken, ttl=10)
    assert cache.get(keys.refresh_lock(HOT)) is None


def test_an_early_refresh_marker_needs_an_atomic_cache():
    from cachelab.lab.sim import _VersionedDatabase  # any object that is not a cache

    with pytest.raises(TypeError, match="AtomicCache"):
        EarlyRefresh(_VersionedDatabase(), lock_ttl=5)


@pytest.mark.parametrize(
    "arguments, error, match",
    [
        (dict(lock_ttl=0), ValueError, "lock_ttl must be"),
        (dict(beta=0), ValueError, "beta must be a finite number > 0"),
        (dict(beta=-1), ValueError, "beta must be"),
        (dict(beta=float("inf")), ValueError, "beta must be"),
        (dict(beta=True), TypeError, "beta must be"),
        (dict(rng="seed"), TypeError, "rng must be a random.Random"),
    ],
)
def test_early_refresh_refuses_bad_settings(arguments, error, match):
    with pytest.raises(error, match=match):
        EarlyRefresh(MemoryCache(), **arguments)


def test_early_refresh_needs_a_ttl_before_it_loads():
    early = EarlyRefresh(MemoryCache())
    with pytest.raises(ValueError, match="EarlyRefresh needs a ttl"):
        early.get_or_load(HOT, lambda: pytest.fail("loaded without a ttl"))
    with pytest.raises(ValueError, match="ttl must be"):
        early.get_or_load(HOT, lambda: pytest.fail("loaded with a bad ttl"), ttl=0)
    assert EarlyRefresh(MemoryCache(ttl=30)).get_or_load(HOT, lambda: 1) == 1


# --- jittered_ttl ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spread", [0.05, 0.1, 0.3, _MAX_SPREAD])
def test_jittered_ttls_stay_inside_their_band_and_fill_it(spread):
    rng = random.Random(42)
    ttls = [jittered_ttl(60, spread, rng) for _ in range(10_000)]
    low, high = 60 * (1 - spread), 60 * (1 + spread)
    assert all(low <= ttl <= high for ttl in ttls)
    width = high - low
    assert min(ttls) < low + 0.01 * width and max(ttls) > high - 0.01 * width
    assert abs(sum(ttls) / len(ttls) - 60) < 0.02 * width, "spread evenly around the TTL"


def test_no_spread_is_the_ttl_itself():
    assert jittered_ttl(60, spread=0) == 60


def test_a_seeded_rng_gives_the_same_ttls():
    first = [jittered_ttl(10, 0.2, random.Random(5)) for _ in range(3)]
    assert first == [jittered_ttl(10, 0.2, random.Random(5)) for _ in range(3)]


def test_a_jittered_ttl_never_exceeds_the_longest_ttl_the_caches_take():
    ttls = [jittered_ttl(MAX_TTL_S, 0.5, random.Random(i)) for i in range(100)]
    assert max(ttls) == MAX_TTL_S and min(ttls) >= MAX_TTL_S / 2


@pytest.mark.parametrize(
    "ttl, spread, error, match",
    [
        (None, 0.1, TypeError, "ttl must be a number of seconds to spread"),
        (0, 0.1, ValueError, "ttl must be a finite number of seconds > 0"),
        (-5, 0.1, ValueError, "ttl must be"),
        (float("nan"), 0.1, ValueError, "ttl must be"),
        ("60", 0.1, TypeError, "ttl must be"),
        (60, -0.1, ValueError, "spread must be a finite number >= 0 and <= 0.5"),
        (60, 0.6, ValueError, "spread must be"),
        (60, float("nan"), ValueError, "spread must be"),
        (60, True, TypeError, "spread must be"),
    ],
)
def test_jittered_ttl_rejects_bad_input(ttl, spread, error, match):
    with pytest.raises(error, match=match):
        jittered_ttl(ttl, spread)


def test_jittered_ttl_rejects_a_bad_rng():
    with pytest.raises(TypeError, match="rng must be"):
        jittered_ttl(60, 0.1, rng=42)


# --- StaleWhileRevalidate -------------------------------------------------------------------------


class Jobs(list):
    """A ``spawn`` that keeps background jobs until the test runs them: proof nobody waited."""

    def __call__(self, job) -> None:
        self.append(job)

    def run(self) -> None:
        while self:
            self.pop(0)()


def test_a_fresh_value_is_served_without_loading_until_fresh_ttl(clock):
    jobs = Jobs()
    swr = StaleWhileRevalidate(MemoryCache(clock=clock), 10, 60, clock=clock, spawn=jobs)
    assert swr.get_or_load(HOT, lambda: "v1") == "v1"
    clock.advance(9.9)
    assert swr.get_or_load(HOT, lambda: pytest.fail("still fresh")) == "v1"
    assert (swr.stats.loads, swr.stats.hits, len(jobs)) == (1, 1, 0)
    clock.advance(0.1)
    assert swr.get_or_load(HOT, lambda: "v2") == "v1"
    assert len(jobs) == 1, "at fresh_ttl the value is stale: a refresh starts"


def test_inside_the_window_the_stale_value_is_served_at_once_while_one_refresh_runs_behind(clock):
    jobs = Jobs()
    swr = StaleWhileRevalidate(MemoryCache(clock=clock), 10, 60, clock=clock, spawn=jobs)
    swr.get_or_load(HOT, lambda: "v1")
    clock.advance(30)
    served = [swr.get_or_load(HOT, lambda: "v2") for _ in range(5)]
    assert served == ["v1"] * 5, "served stale at once: the refresh has not even run"
    assert len(jobs) == 1, "one refresh for five stale reads"
    jobs.run()
    assert swr.get_or_load(HOT, lambda: pytest.fail("fresh again")) == "v2"
    assert swr.stats.stale_served == 5 and swr.stats.refreshes == 1


@pytest.mark.parametrize("error_ttl", [None, 300])
def test_a_value_is_never_served_past_stale_ttl(clock, error_ttl):
    jobs = Jobs()
    swr = StaleWhileRevalidate(
        MemoryCache(clock=clock), 10, 60, error_ttl=error_ttl, clock=clock, spawn=jobs
    )
    swr.get_or_load(HOT, lambda: "v1")
    clock.advance(59.9)
    assert swr.get_or_load(HOT, lambda: "v2") == "v1", "inside the window: stale"
    jobs.clear()  # the refresh never ran
    clock.advance(0.1)
    assert swr.get_or_load(HOT, lambda: "v2") == "v2", "too old: the reader waits for a load"
    assert not jobs


@pytest.mark.parametrize("start", ["cold", "too old"])
def test_readers_that_must_wait_for_a_load_share_one_load(atomic_cache, start):
    """On a cold key, or one older than stale_ttl, readers wait for a load in the foreground:
    ten at once made ten loads before it was coalesced (single-flight)."""
    clock = FakeClock(1_000.0)
    swr = StaleWhileRevalidate(atomic_cache, 10, 60, error_ttl=3_600, clock=clock)
    if start == "too old":
        swr.get_or_load(HOT, lambda: "v1")
        clock.advance(61)
    loads = Counter()

    def slow_load() -> str:
        loads()
        time.sleep(0.3)
        return "v2"

    served = run_threads(10, lambda i: swr.get_or_load(HOT, slow_load))
    assert served == ["v2"] * 10, f"every reader waits for the one load: {served}"
    assert loads.calls == 1, f"one load, not {loads.calls}"


def test_a_failed_foreground_load_still_answers_with_a_value_young_enough_for_errors(clock):
    swr = StaleWhileRevalidate(MemoryCache(clock=clock), 10, 60, error_ttl=300, clock=clock)
    swr.get_or_load(HOT, lambda: "v1")
    clock.advance(100)  # too old to serve, young enough for errors

    def database_down() -> str:
        raise ConnectionError("the database is down")

    assert swr.get_or_load(HOT, database_down) == "v1"
    assert swr.stats.stale_if_error == 1
    assert swr.cache.get(keys.lock(keys._stale_while_revalidate(HOT))) is None, "lock released"


class CountingAdds(MemoryCache):
    """A real MemoryCache that counts its add calls (what a RedisCache sends as SET NX)."""

    adds = 0

    def add(self, key, value, ttl=None):
        self.adds += 1
        return super().add(key, value, ttl)


def test_stale_reads_try_the_refresh_marker_at_most_once_per_lock_ttl(clock):
    """Every stale read used to send SET NX for the marker: a write command per hot-key read."""
    cache = CountingAdds(clock=clock)
    swr = StaleWhileRevalidate(cache, 10, 60, lock_ttl=5, clock=clock, spawn=Jobs())
    swr.get_or_load(HOT, lambda: "v1")
    clock.advance(20)
    adds_before = cache.adds
    for _ in range(100):
        assert swr.get_or_load(HOT, lambda: "v2") == "v1"
        clock.advance(0.01)  # 100 stale reads in one second: the refresh never lands
    assert cache.adds - adds_before == 1, "one SET NX for 100 stale reads within lock_ttl"
    clock.advance(5)
    swr.get_or_load(HOT, lambda: "v2")
    assert cache.adds - adds_before == 2, "after lock_ttl it tries the marker again"


def test_at_most_one_refresh_per_key_runs_at_a_time_across_threads_and_caches(
    redis_client, test_prefix
):
    """Twenty threads, two StaleWhileRevalidate objects on one Redis (as two processes would
    have): the refresh's loader blocks until every reader has been served, so no reader waited
    for it, and only one ran."""
    clock = FakeClock(1_000.0)
    caches = [RedisCache(redis_client, prefix=test_prefix) for _ in range(2)]
    guards = [StaleWhileRevalidate(c, 10, 60, clock=clock) for c in caches]
    guards[0].get_or_load(HOT, lambda: "v1")
    clock.advance(20)
    everyone_served = threading.Event()
    refreshes = Counter()

    def slow_refresh() -> str:
        refreshes()
        everyone_served.wait(timeout=10)
        return "v2"

    try:
        served = run_threads(20, lambda i: guards[i % 2].get_or_load(HOT, slow_refresh))
        assert served == ["v1"] * 20
    finally:
        everyone_served.set()
    assert all(guard.wait_for_refreshes(timeout_s=10) for guard in guards)
    assert refreshes.calls == 1
    assert guards[1].get_or_load(HOT, lambda: pytest.fail("refreshed")) == "v2"
    caches[0].clear()


class RefreshedJustBeforeTheMarker(MemoryCache):
    """A cache on which another request's refresh lands between our stale read and our marker."""

    landed: dict = {}

    def add(self, key, value, ttl=None):
        if key == keys.refresh_lock(HOT) and self.landed:
            self.set(*self.landed.popitem())
        return super().add(key, value, ttl)


def test_a_refresh_that_landed_between_the_read_and_the_marker_is_not_run_again(clock):
    cache = RefreshedJustBeforeTheMarker(clock=clock)
    swr = StaleWhileRevalidate(cache, 10, 60, clock=clock, spawn=lambda job: job())
    swr.get_or_load(HOT, lambda: "v1")
    clock.advance(20)
    cache.landed = {keys._stale_while_revalidate(HOT): {"value": "v2", "loaded_at": clock()}}
    assert swr.get_or_load(HOT, lambda: pytest.fail("v2 had just landed")) == "v1"
    assert swr.stats.refreshes == 0 and cache.get(keys.refresh_lock(HOT)) is None
    assert swr.get_or_load(HOT, lambda: pytest.fail("fresh")) == "v2"


def test_an_early_refresh_that_landed_between_the_read_and_the_marker_is_not_run_again(clock):
    cache = RefreshedJustBeforeTheMarker(clock=clock)
    early = EarlyRefresh(cache, rng=random.Random(0), lock_ttl=5, clock=clock)
    early.store(HOT, "v1", delta_s=1.0, ttl=10)
    clock.advance(9.99)
    cache.landed = {
        keys._early_refresh(HOT): {"value": "v2", "delta_s": 1.0, "expires_at": clock() + 10}
    }
    assert early.get_or_load(HOT, lambda: pytest.fail("v2 had just landed"), ttl=10) == "v2"
    assert early.stats.loads == 0 and cache.get(keys.refresh_lock(HOT)) is None


def test_a_failing_refresh_keeps_serving_the_stale_value(clock):
    swr = StaleWhileRevalidate(
        MemoryCache(clock=clock), 10, 60, lock_ttl=5, clock=clock, spawn=lambda job: job()
    )
    swr.get_or_load(HOT, lambda: "v1")
    clock.advance(20)

    def database_down() -> None:
        raise ConnectionError("database is down")

    assert [swr.get_or_load(HOT, database_down) for _ in range(3)] == ["v1"] * 3
    assert swr.stats.refresh_errors == 1, "retried at most once per lock_ttl, not per request"
    clock.advance(5)
    assert swr.get_or_load(HOT, database_down) == "v1"
    assert swr.stats.refresh_errors == 2


def test_stale_if_error_serves_the_old_value_until_error_ttl_and_then_the_error(clock):
    swr = StaleWhileRevalidate(
        MemoryCache(clock=clock), 10, 60, error_ttl=300, clock=clock, spawn=lambda job: job()
    )
    swr.get_or_load(HOT, lambda: "v1")

    def database_down() -> None:
        raise ConnectionError("database is down")

    clock.advance(100)  # past stale_ttl: a reader would wait for a load, which fails
    assert swr.get_or_load(HOT, database_down) == "v1"
    assert swr.stats.stale_if_error == 1
    clock.advance(200)  # 300 s old: not even an error may be answered with it
    with pytest.raises(ConnectionError, match="database is down"):
        swr.get_or_load(HOT, database_down)


def test_stale_if_error_goes_by_the_readers_error_ttl_not_the_writers(clock):
    cache = MemoryCache(clock=clock)
    generous = StaleWhileRevalidate(cache, 10, 60, error_ttl=3_600, clock=clock)
    strict = StaleWhileRevalidate(cache, 10, 60, error_ttl=120, clock=clock)
    generous.get_or_load(HOT, lambda: "v1")  # kept for an hour, for errors
    clock.advance(200)

    def database_down() -> None:
        raise ConnectionError("database is down")

    assert generous.get_or_load(HOT, database_down) == "v1"
    with pytest.raises(ConnectionError):
        strict.get_or_load(HOT, database_down)


def test_with_nothing_cached_a_failing_loader_raises(clock):
    swr = StaleWhileRevalidate(MemoryCache(clock=clock), 10, 60, clock=clock)

    def database_down() -> None:
        raise ConnectionError("database is down")

    with pytest.raises(ConnectionError):
        swr.get_or_load(HOT, database_down)


def test_the_cache_drops_a_value_once_nothing_may_serve_it(clock):
    cache = MemoryCache(clock=clock)
    swr = StaleWhileRevalidate(cache, 10, 60, error_ttl=120, clock=clock)
    swr.get_or_load(HOT, lambda: "v1")
    clock.advance(119.9)
    assert swr.entry(HOT) is not None
    clock.advance(0.1)
    assert swr.entry(HOT) is None


@pytest.mark.parametrize(
    "fresh_ttl, stale_ttl, options, error, match",
    [
        (None, 60, {}, TypeError, "fresh_ttl must be a number of seconds"),
        (10, None, {}, TypeError, "stale_ttl must be a number of seconds"),
        (-1, 60, {}, ValueError, "fresh_ttl must be"),
        (10, 10, {}, ValueError, "stale_ttl must be longer than fresh_ttl"),
        (10, 5, {}, ValueError, "stale_ttl must be longer than fresh_ttl"),
        (10, 60, {"error_ttl": 30}, ValueError, "error_ttl must be at least stale_ttl"),
        (10, 60, {"lock_ttl": None}, TypeError, "lock_ttl must be"),
        (10, 60, {"lock_ttl": 0}, ValueError, "lock_ttl must be"),
        (10, 60, {"spawn": "thread"}, TypeError, "spawn must be a function"),
    ],
)
def test_stale_while_revalidate_refuses_bad_settings(fresh_ttl, stale_ttl, options, error, match):
    with pytest.raises(error, match=match):
        StaleWhileRevalidate(MemoryCache(), fresh_ttl, stale_ttl, **options)


def test_stale_while_revalidate_needs_an_atomic_cache_and_a_loader():
    with pytest.raises(TypeError, match="cache must be a course cache"):
        StaleWhileRevalidate(object(), 10, 60)
    with pytest.raises(TypeError, match="loader must be a function"):
        StaleWhileRevalidate(MemoryCache(), 10, 60).get_or_load(HOT, None)


def test_a_warm_up_stores_values_as_the_guards_would(clock):
    cache = MemoryCache(clock=clock)
    early = EarlyRefresh(cache, rng=random.Random(0), clock=clock)
    swr = StaleWhileRevalidate(cache, 10, 60, clock=clock, spawn=Jobs())
    clock.advance(5)
    early.store(HOT, "warm", delta_s=0.2, ttl=30)
    swr.store(HOT, "warm")
    assert early.entry(HOT) == {"value": "warm", "delta_s": 0.2, "expires_at": 35.0}
    assert early.get_or_load(HOT, lambda: pytest.fail("warm"), ttl=30) == "warm"
    assert swr.get_or_load(HOT, lambda: pytest.fail("warm")) == "warm"
    with pytest.raises(ValueError, match="delta_s must be"):
        early.store(HOT, "warm", delta_s=-1, ttl=30)


def test_the_guards_store_under_keys_of_their_own(redis_cache, clock):
    SingleFlight(redis_cache).get_or_load(HOT, lambda: "plain", ttl=60)
    EarlyRefresh(redis_cache, clock=clock).get_or_load(HOT, lambda: "early", ttl=60)
    StaleWhileRevalidate(redis_cache, 10, 60, clock=clock).get_or_load(HOT, lambda: "swr")
    stored = set(redis_cache.client.scan_iter(match=keys._scan_pattern(redis_cache.prefix)))
    expected = [HOT, keys._early_refresh(HOT), keys._stale_while_revalidate(HOT)]
    assert stored == {keys._redis_key(redis_cache.prefix, key) for key in expected}
