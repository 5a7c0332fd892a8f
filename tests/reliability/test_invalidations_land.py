"""Invalidations that land: a write's delete is never skipped, and one that fails is sent later.

A stall opens the cache's circuit breaker (``outages.CircuitBreaker``), and for
``open_s`` seconds afterwards reads skip Redis. A write in that moment must still
reach Redis: skipped, its delete would be lost, and once the breaker closed every
view would serve the old price until its TTL. A delete that Redis cannot take at
all (paused, or a read-only replica) is kept in the process's list of pending
invalidations and sent before the process's next command reaches that server.

The servers are real and really paused (SIGSTOP, then SIGCONT). The breaker's
clock is a ``FakeClock``, so "after ``open_s``" needs no sleeping.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

from cachelab import keys
from cachelab.app import Shop
from cachelab.cache import RedisCache
from cachelab.clock import FakeClock
from cachelab.invalidation import DeleteOnWrite, LeasedDeleteOnWrite, VersionedKeys, WriteThrough
from cachelab.outages import CircuitBreaker

PREFIX = "cachelab:ada:invalidations-land:"
TTL = 300.0
PRODUCT = 3
VIEWS = 10
OPEN_S = 1.0


@pytest.fixture
def shop_copy(tiny_shop_path, tmp_path):
    copy = tmp_path / "shop.db"
    shutil.copyfile(tiny_shop_path, copy)
    shop = Shop(copy)
    yield shop
    shop.close()


def stalled_until_the_breaker_opens(server, cache: RedisCache) -> None:
    """Pause ``server`` (SIGSTOP), read until ``cache``'s breaker opens, then resume it and wait
    until a PING on another connection answers again."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        for _ in range(10):
            cache.get(keys.product(PRODUCT))  # each waits one command timeout, then fails open
            if cache.breaker.state == "open":
                break
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    assert cache.breaker.state == "open", "the stall did not open the breaker"
    answering, deadline = server.client(), time.monotonic() + 30
    while True:
        try:
            if answering.ping():
                break
        except Exception:
            if time.monotonic() > deadline:
                raise


@pytest.mark.parametrize(
    "strategy_class", [DeleteOnWrite, WriteThrough, VersionedKeys, LeasedDeleteOnWrite]
)
def test_a_write_just_after_a_stall_reaches_every_later_view(
    strategy_class, stoppable_redis, shop_copy
):
    clock = FakeClock()
    breaker = CircuitBreaker(failures_to_open=1, open_s=OPEN_S, clock=clock)
    cache = RedisCache(stoppable_redis.client(), prefix=PREFIX, breaker=breaker)
    pages = strategy_class(shop_copy, cache, ttl=TTL)
    old = pages.read(PRODUCT)
    assert pages.cached(PRODUCT) == old, "the page is cached before the stall"
    stalled_until_the_breaker_opens(stoppable_redis, cache)
    new = pages.set_price(PRODUCT, old["price_cents"] + 100)  # the breaker is still open
    clock.advance(OPEN_S)  # the breaker lets a probe through, and closes
    views = [pages.read(PRODUCT)["price_cents"] for _ in range(VIEWS)]
    assert cache.breaker.state == "closed"
    stale = sum(price != new["price_cents"] for price in views)
    assert stale == 0, f"{stale} of {VIEWS} views after the write served the old price"


def test_a_delete_sent_into_the_stall_lands_before_the_next_read(stoppable_redis, shop_copy):
    clock = FakeClock()
    breaker = CircuitBreaker(failures_to_open=1, open_s=OPEN_S, clock=clock)
    cache = RedisCache(stoppable_redis.client(), prefix=PREFIX, breaker=breaker)
    pages = DeleteOnWrite(shop_copy, cache, ttl=TTL)
    old = pages.read(PRODUCT)
    os.kill(stoppable_redis.process.pid, signal.SIGSTOP)
    try:
        new = pages.set_price(PRODUCT, old["price_cents"] + 100)  # its delete times out
        during = pages.read(PRODUCT)  # the breaker is open: from the database
    finally:
        os.kill(stoppable_redis.process.pid, signal.SIGCONT)
    assert cache.pending_deletes() == 1, "the delete that timed out waits to be sent again"
    clock.advance(OPEN_S)
    views = [pages.read(PRODUCT) for _ in range(VIEWS)]
    assert [during, *views] == [new] * (VIEWS + 1)
    assert cache.pending_deletes() == 0


def test_a_refused_delete_is_sent_before_any_cache_of_the_process_reads(stoppable_redis):
    """A read-only replica refuses the delete; once it is writable, the next read sends it first."""
    client = stoppable_redis.client()
    writer = RedisCache(client, prefix=PREFIX)
    reader = RedisCache(stoppable_redis.client(), prefix=PREFIX)  # another cache, same server
    writer.set("page", "old")
    client.replicaof("127.0.0.1", 9)  # a replica of a primary that never answers: read-only
    try:
        assert writer.delete("page") is False, "a read-only replica refuses the delete"
        assert writer.pending_deletes() == 1
    finally:
        client.replicaof("NO", "ONE")
    assert client.get(PREFIX + "page") is not None, "the refused delete left the old value"
    assert reader.get("page") is None, "the pending delete is sent before the read"
    assert writer.pending_deletes() == reader.pending_deletes() == 0
