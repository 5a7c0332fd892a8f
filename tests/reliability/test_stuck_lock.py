"""A single-flight lock that never goes away must not take the page down.

A lock key with no TTL -- written by another client, or left by a bug -- used to make
every waiter wait its whole ``wait_timeout`` and fail, forever; over HTTP the waiters
held the worker's threads, so pages that need no lock queued behind them. Here:

- ``SingleFlight`` treats a lock with no TTL, or one set to outlive ``lock_ttl``, as
  broken at once (on Redis, which says how long a key lives), and one it has seen held
  for longer than ``lock_ttl`` as broken too (on any cache); it breaks it and loads;
- the service waits without a thread, bounds the waiters per key, and once a wait
  runs out loads the page instead of answering 503.

The waits run on a fake clock where the library is tested alone; over HTTP, on
locks that a test holds and releases, so that no claim rests on how fast this
machine is.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import threading
from pathlib import Path
from typing import Iterator

import pytest
import redis

from cachelab import keys
from cachelab.cache import MemoryCache, RedisCache
from cachelab.clock import FakeClock
from cachelab.stampedes import SingleFlight, WaitTimeout, _LockWatch
from cachelab.web._service import WebService

KEY = keys.trending()


def flight_on_a_fake_clock(cache, lock_ttl: float = 5, wait_timeout: float = 60):
    clock = FakeClock()
    flight = SingleFlight(
        cache, lock_ttl=lock_ttl, wait_timeout=wait_timeout, clock=clock, sleep=clock.advance
    )
    return flight, clock


# --------------------------------------------------------------------------- the library


@pytest.mark.parametrize(
    "stored, ttl_ms",
    [
        ('"a lock someone set by hand"', None),  # no TTL
        ('"a lock with a TTL of an hour"', 3_600_000),  # outlives any lock_ttl of 5 s
        ("locked, and not JSON", None),  # another client's value
    ],
)
def test_a_lock_that_would_outlive_lock_ttl_is_broken_at_once(redis_cache, stored, ttl_ms):
    redis_key = keys._redis_key(redis_cache.prefix, keys.lock(KEY))
    redis_cache.client.set(redis_key, stored, px=ttl_ms)
    flight, clock = flight_on_a_fake_clock(redis_cache, lock_ttl=5)
    loads = []
    value = flight.get_or_load(KEY, lambda: loads.append(1) or ["page"], ttl=60)
    assert value == ["page"] and loads == [1]
    assert clock() < 5, "broken as soon as it was seen, not after lock_ttl"
    assert redis_cache.get(KEY) == ["page"], "stored for the next reader"
    assert redis_cache.client.get(redis_key) is None, "the broken lock is gone"


def test_a_live_holders_lock_is_still_waited_for(redis_cache):
    redis_cache.add(keys.lock(KEY), "a holder loading now", ttl=5)
    flight, clock = flight_on_a_fake_clock(redis_cache, lock_ttl=5, wait_timeout=1)
    with pytest.raises(WaitTimeout):
        flight.get_or_load(KEY, lambda: pytest.fail("loaded beside a live holder"), ttl=60)


def test_a_lock_held_longer_than_lock_ttl_is_broken_on_any_cache():
    clock = FakeClock()
    cache = MemoryCache(clock=clock)  # no default TTL: this lock never expires
    cache.add(keys.lock(KEY), "left by a bug", ttl=None)
    flight = SingleFlight(cache, lock_ttl=2, wait_timeout=60, clock=clock, sleep=clock.advance)
    assert flight.get_or_load(KEY, lambda: "page", ttl=60) == "page"
    assert 2 <= clock() < 2.25, "taken over once it had been held for lock_ttl (looked at 10/s)"
    assert flight.stats.loads == 1 and flight.stats.timeouts == 0


def test_a_lock_taken_again_and_again_by_live_holders_is_not_broken():
    """Fresh locks in turn (each released, another taken) are not one lock held too long."""
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    holders = itertools.count()

    def sleep(seconds: float) -> None:  # every poll, the lock has a new live holder
        clock.advance(seconds)
        cache.delete(keys.lock(KEY))
        cache.add(keys.lock(KEY), f"holder {next(holders)}", ttl=2)

    cache.add(keys.lock(KEY), "first holder", ttl=2)
    flight = SingleFlight(cache, lock_ttl=2, wait_timeout=5, clock=clock, sleep=sleep)
    with pytest.raises(WaitTimeout):
        flight.get_or_load(KEY, lambda: pytest.fail("broke a live holder's lock"), ttl=60)


# --------------------------------------------------------------------------- over HTTP


def service_on_a_copy(tiny_shop_path: Path, folder: Path, **options) -> WebService:
    copy = folder / "shop.db"
    shutil.copyfile(tiny_shop_path, copy)
    return WebService("redis-single-flight", workers=1, db_path=copy, **options).start()


@pytest.fixture(scope="module")
def patient(tiny_shop_path, tmp_path_factory) -> Iterator[WebService]:
    """Waiters wait up to 30 s for a lock that lives up to 30 s: only the test releases it."""
    service = service_on_a_copy(
        tiny_shop_path,
        tmp_path_factory.mktemp("patient"),
        lock_ttl=30,
        wait_timeout=30,
        threads=2,
        max_waiters=4,
    )
    yield service
    service.stop()


def hold_the_homepage_lock(service: WebService, ttl_ms: int | None) -> str:
    """Delete the cached homepage and put a lock on it that no request of the service holds."""
    service.cache().delete(KEY)
    redis_key = keys._redis_key(service.prefix, keys.lock(KEY))
    service.cache().client.set(redis_key, '"held by the test"', px=ttl_ms)
    return redis_key


def in_background(count: int, request) -> tuple[list, list[threading.Thread]]:
    replies: list = []
    threads = [threading.Thread(target=lambda: replies.append(request())) for _ in range(count)]
    for thread in threads:
        thread.start()
    return replies, threads


def wait_for_in_flight(service: WebService, count: int, timeout_s: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while service.stats()["total"]["in_flight"] < count:
        assert time.monotonic() < deadline, f"{count} requests never were in flight at once"
        time.sleep(0.02)


def test_a_lock_with_no_ttl_does_not_take_the_homepage_down(patient):
    redis_key = hold_the_homepage_lock(patient, ttl_ms=None)
    replies = [patient.request("GET", "/", timeout_s=20) for _ in range(3)]
    assert [reply.status for reply in replies] == [200, 200, 200]
    assert [reply.headers["x-cache"] for reply in replies] == ["miss", "hit", "hit"]
    assert patient.cache().client.get(redis_key) is None


def test_waiters_hold_no_thread_so_other_pages_are_served(patient):
    redis_key = hold_the_homepage_lock(patient, ttl_ms=30_000)  # a live holder, as far as we know
    homepages, threads = in_background(4, lambda: patient.request("GET", "/", timeout_s=60))
    try:
        wait_for_in_flight(patient, 4)  # 4 waiters on a worker of 2 threads
        product = patient.request("GET", "/products/3", timeout_s=20)
        assert product.status == 200
        assert homepages == [], "the product page was served while every waiter still waited"
    finally:
        patient.cache().client.delete(redis_key)  # the holder is gone: one waiter loads
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(reply.status for reply in homepages) == [200] * 4
    assert sorted(reply.headers["x-cache"] for reply in homepages) == ["hit"] * 3 + ["miss"]


def test_waiters_per_key_are_bounded(patient):
    redis_key = hold_the_homepage_lock(patient, ttl_ms=30_000)
    homepages, threads = in_background(7, lambda: patient.request("GET", "/", timeout_s=60))
    try:
        wait_for_in_flight(patient, 4)
        for _ in range(600):  # the 3 beyond the bound are answered at once
            if len(homepages) >= 3:
                break
            threading.Event().wait(0.05)
        refused = list(homepages)
        assert [reply.status for reply in refused] == [503] * 3
        assert all(reply.headers["retry-after"] for reply in refused)
    finally:
        patient.cache().client.delete(redis_key)
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(reply.status for reply in homepages) == [200] * 4 + [503] * 3


def test_after_the_wait_the_page_is_loaded_not_refused(tiny_shop_path, tmp_path):
    service = service_on_a_copy(tiny_shop_path, tmp_path, lock_ttl=30, wait_timeout=0.5)
    try:
        redis_key = hold_the_homepage_lock(service, ttl_ms=30_000)
        reply = service.request("GET", "/", timeout_s=20)
        assert reply.status == 200, reply.body
        assert reply.body["trending"]
        assert service.cache().client.get(redis_key) is not None, "a live lock is not broken"
        assert service.stats()["total"]["db_queries"] == 1
    finally:
        service.stop()


def test_a_finished_poll_is_not_handed_to_the_next_rounds_waiters(tmp_path):
    """A poll that has finished keeps its place in ``_polls`` until its done-callback runs
    (the event loop's next turn); a waiter that came in between was served the previous
    round's value. Here that moment is set up directly: a finished poll with the old page."""
    from cachelab.web._app import ShopPages
    from cachelab.web._config import ServiceConfig

    pages = ShopPages(ServiceConfig(db_path="unused.db", state_dir=str(tmp_path), cache="memory"))
    pages.single_flight = SingleFlight(pages.cache, lock_ttl=5, wait_timeout=5)
    pages.cache.set(KEY, "this round's page")

    async def a_waiter_of_the_next_round() -> str:
        old = asyncio.get_running_loop().create_future()
        old.set_result("last round's page")  # finished; its callback has not removed it yet
        pages._polls[KEY] = old
        return await pages._wait_for(KEY, lambda: "loaded", _LockWatch())

    try:
        assert asyncio.run(a_waiter_of_the_next_round()) == "this round's page"
    finally:
        pages.executor.shutdown()


class HolderArrivesBeforeTheDelete(redis.Redis):
    """A client on which a live holder takes the lock just before a waiter's command to delete
    the broken one reaches Redis (the broken one expired, or another waiter broke it)."""

    lock_key = ""
    arrived = False

    def _arrive(self) -> None:
        if not self.arrived:
            self.arrived = True
            super().delete(self.lock_key)
            assert super().set(self.lock_key, '"a live holder\'s token"', nx=True, px=4_000)

    def delete(self, *names):
        if self.lock_key in names:
            self._arrive()
        return super().delete(*names)

    def unlink(self, *names):
        if self.lock_key in names:
            self._arrive()
        return super().unlink(*names)

    def eval(self, script, numkeys, *keys_and_args):
        if "DEL" in script and self.lock_key in keys_and_args[:numkeys]:
            self._arrive()
        return super().eval(script, numkeys, *keys_and_args)


@pytest.mark.parametrize("foreign", [b"\xff\xfe locked by another client", b'  "held"  '])
def test_a_live_holder_that_takes_the_lock_as_a_broken_one_goes_keeps_it(redis_cache, foreign):
    """Breaking a lock was GET, compare, DEL: a holder that took the lock in between lost it.
    Foreign bytes, and JSON spelled otherwise than ours, went that way; lock_ttl is 5 s, and
    the holder's lock has 4 s to live, so it is a live one."""
    client = HolderArrivesBeforeTheDelete(connection_pool=redis_cache.client.connection_pool)
    cache = RedisCache(client, prefix=redis_cache.prefix)
    client.lock_key = redis_key = keys._redis_key(cache.prefix, keys.lock(KEY))
    pool = redis_cache.client.connection_pool
    raw_pool = redis.ConnectionPool(  # bytes in and out: another client's value
        connection_class=pool.connection_class,
        **{**pool.connection_kwargs, "decode_responses": False},
    )
    raw = redis.Redis(connection_pool=raw_pool)
    try:
        raw.set(redis_key, foreign)  # no TTL: judged broken at once
        flight, _ = flight_on_a_fake_clock(cache, lock_ttl=5)
        assert flight.attempt(KEY, lambda: "loaded", watch=_LockWatch()) == (False, None)
        assert client.arrived, "the waiter never tried to delete the broken lock"
        assert redis_cache.client.get(redis_key) == '"a live holder\'s token"', "it lost its lock"
    finally:
        raw.delete(redis_key)
        raw_pool.disconnect()
