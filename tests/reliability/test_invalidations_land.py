"""Invalidations that land: a write's delete is never skipped, and one that fails is sent later.

A stall opens the cache's circuit breaker (``outages.CircuitBreaker``), and for
``open_s`` seconds afterwards reads skip Redis. A write in that moment must still
reach Redis: skipped, its delete would be lost, and once the breaker closed every
view would serve the old price until its TTL. A delete that Redis cannot take at
all (paused, or a read-only replica) is kept in the process's list of pending
invalidations: sent before the process's next command reaches that server, and
retried every 0.2 s by a background thread, so an idle process delivers it too.

The servers are real and really paused (SIGSTOP, then SIGCONT). The breaker's
clock is a ``FakeClock``, so "after ``open_s``" needs no sleeping.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import pytest
import redis

from cachelab import keys
from cachelab.cache import RedisCache
from cachelab.clock import FakeClock
from cachelab.invalidation import DeleteOnWrite, LeasedDeleteOnWrite, VersionedKeys, WriteThrough
from cachelab.outages import CircuitBreaker
from cachelab.shop.app import Shop

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
        assert cache.pending_deletes() == 1, "the delete that timed out waits to be sent again"
    finally:
        os.kill(stoppable_redis.process.pid, signal.SIGCONT)
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
        assert client.get(PREFIX + "page") is not None, "the refused delete left the old value"
    finally:
        client.replicaof("NO", "ONE")
    assert reader.get("page") is None, "the pending delete is sent before the read (or was sent)"
    assert writer.pending_deletes() == reader.pending_deletes() == 0


def test_an_idle_process_delivers_its_pending_delete_once_redis_answers(stoppable_redis):
    """Process A's delete cannot even be sent (its connection broke in the pause), and A then does
    nothing more. Another process -- here a plain connection, which shares none of A's pending
    deletes -- must see the key gone soon after the server answers again, not after the TTL."""
    cache = RedisCache(stoppable_redis.client(), prefix=PREFIX, ttl=TTL)
    elsewhere = stoppable_redis.client(timeout_s=5)
    cache.set("page", "old")
    os.kill(stoppable_redis.process.pid, signal.SIGSTOP)
    try:
        cache.get("other")  # times out: the connection is dropped, so the delete is never sent
        assert cache.delete("page") is False
        assert cache.pending_deletes() == 1, "the delete is owed"
    finally:
        os.kill(stoppable_redis.process.pid, signal.SIGCONT)
    assert elsewhere.ping()
    answered, deadline = time.monotonic(), time.monotonic() + 5
    while elsewhere.exists(PREFIX + "page") and time.monotonic() < deadline:
        time.sleep(0.02)
    waited = time.monotonic() - answered
    assert not elsewhere.exists(PREFIX + "page"), (
        f"another process still read the old value {waited:.1f} s after Redis answered again "
        f"(TTL {elsewhere.ttl(PREFIX + 'page')} s left)"
    )
    assert cache.pending_deletes() == 0


class UnlinkHook(redis.Redis):
    """A real client that runs ``before_unlink()`` just before it sends an UNLINK."""

    before_unlink = staticmethod(lambda: None)

    def execute_command(self, *args, **options):
        if args[0] == "UNLINK":
            self.before_unlink()
        return super().execute_command(*args, **options)


def test_a_read_that_starts_while_a_failing_delete_is_on_its_way_never_gets_the_old_value(
    stoppable_redis,
):
    """Thread W's delete is refused (a read-only replica); while its UNLINK is on its way, thread
    R of the same process reads the key with a cache of its own. R's read began after W's
    delete, so it must not answer the old value -- not from Redis, where it still is."""
    options = stoppable_redis.client().connection_pool.connection_kwargs
    writer_client = UnlinkHook(unix_socket_path=options["path"], decode_responses=True)
    writer = RedisCache(writer_client, prefix=PREFIX, ttl=TTL)
    reader = RedisCache(stoppable_redis.client(), prefix=PREFIX, ttl=TTL)
    admin = stoppable_redis.client()
    writer.set("page", "old")
    seen = []

    def read_in_another_thread():
        thread = threading.Thread(target=lambda: seen.append(reader.get("page", "miss")))
        thread.start()
        thread.join(timeout=10)

    writer_client.before_unlink = read_in_another_thread
    admin.replicaof("127.0.0.1", 9)  # a replica of a primary that never answers: read-only
    try:
        assert writer.delete("page") is False, "a read-only replica refuses the delete"
    finally:
        writer_client.before_unlink = lambda: None
        admin.replicaof("NO", "ONE")
    assert seen == ["miss"], f"the reader got {seen} while the delete was on its way"
    assert reader.get("page") is None and writer.pending_deletes() == 0
