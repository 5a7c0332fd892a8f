"""Faults injected into a real Redis while pages are served: killed, paused, full.

A burst of product-page requests (threads, cache-aside through a ``RedisCache``, the
real tiny shop behind it) runs while the server is killed and restarted on the same
address, paused with SIGSTOP, or filled to its ``maxmemory``. Failing open, every
answer equals the database's row, errors are counted, no request waits longer than
the bound below, and the same client works again afterwards. Not failing open, each
fault is a clear ``CacheUnavailable`` within the same bound.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import pytest

from cachelab import keys
from cachelab.cache import CacheUnavailable, RedisCache
from cachelab.environment.redis_server import COMMAND_TIMEOUT_S
from cachelab.outages import CircuitBreaker
from cachelab.shop.app import Shop

PREFIX = "cachelab:ada:faults:"
BOUND_S = COMMAND_TIMEOUT_S + 0.35
"""The longest one request may take during any fault: one command timeout, plus a database load and
scheduling slack on a busy 2-core machine (the breaker keeps later requests from waiting at all)."""


@dataclass
class Burst:
    """What the requests of one burst saw."""

    answers: int = 0
    wrong: list = field(default_factory=list)
    slowest_s: float = 0.0


def burst(cache: RedisCache, shop_path, seconds: float, threads: int = 4) -> Burst:
    """Serve product pages 1..20 from ``threads`` threads for ``seconds``; check every answer."""
    result = Burst()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def user(index: int) -> None:
        shop = Shop(shop_path)
        truth = {pid: shop.product(pid) for pid in range(1, 21)}
        n = index
        while time.monotonic() < stop_at:
            pid = n % 20 + 1
            n += threads
            started = time.monotonic()
            answer = cache.get_or_load(keys.product(pid), lambda p=pid: shop.product(p), ttl=60)
            took = time.monotonic() - started
            with lock:
                result.answers += 1
                result.slowest_s = max(result.slowest_s, took)
                if answer != truth[pid]:
                    result.wrong.append((pid, answer))
        shop.close()

    workers = [threading.Thread(target=user, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return result


def during(seconds_in: float, fault: Callable[[], None]) -> threading.Thread:
    """Run ``fault`` in the background ``seconds_in`` seconds from now."""
    thread = threading.Thread(target=lambda: (time.sleep(seconds_in), fault()))
    thread.start()
    return thread


@pytest.fixture
def cache(stoppable_redis) -> RedisCache:
    return RedisCache(
        stoppable_redis.client(), prefix=PREFIX, breaker=CircuitBreaker(3, open_s=0.5)
    )


def test_a_server_killed_mid_burst_and_restarted_on_its_address(
    stoppable_redis, cache, tiny_shop_path
):
    def kill_then_restart():
        stoppable_redis.process.kill()
        stoppable_redis.process.wait()
        time.sleep(0.5)
        stoppable_redis.restart()

    fault = during(0.5, kill_then_restart)
    seen = burst(cache, tiny_shop_path, seconds=2.5)
    fault.join()
    assert seen.wrong == [] and seen.answers > 50
    assert cache.stats.errors >= 1, "the outage was counted"
    assert seen.slowest_s < BOUND_S, f"a request waited {seen.slowest_s:.2f} s"
    time.sleep(0.6)  # past the breaker's open time: the next request probes
    cache.stats.reset()
    for _ in range(2):
        cache.get_or_load(keys.product(50), lambda: Shop(tiny_shop_path).product(50), ttl=60)
    assert (cache.stats.misses, cache.stats.hits, cache.stats.errors) == (1, 1, 0), (
        "the same client works again"
    )


def test_a_server_paused_mid_burst(stoppable_redis, cache, tiny_shop_path):
    pid = stoppable_redis.process.pid
    pause = during(
        0.3, lambda: (os.kill(pid, signal.SIGSTOP), time.sleep(1.5), os.kill(pid, signal.SIGCONT))
    )
    try:
        seen = burst(cache, tiny_shop_path, seconds=2.5)
    finally:
        pause.join()
        os.kill(pid, signal.SIGCONT)
    assert seen.wrong == [] and seen.answers > 50
    assert cache.stats.errors >= 1 and cache.stats.short_circuits >= 1, "the breaker opened"
    assert seen.slowest_s < BOUND_S, f"a request waited {seen.slowest_s:.2f} s"


def test_a_server_filled_to_maxmemory_mid_burst(stoppable_redis, cache, tiny_shop_path):
    client = stoppable_redis.client()

    def fill():
        with client.pipeline(transaction=False) as pipe:
            for i in range(300):
                pipe.set(f"{PREFIX}filler:{i}", "x" * 10_000)
            pipe.execute()
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", "1mb")

    fault = during(0.2, fill)
    seen = burst(cache, tiny_shop_path, seconds=1.5)
    fault.join()
    assert seen.wrong == [] and seen.answers > 50
    before = cache.stats.errors
    cache.delete(keys.product(99))
    assert cache.set(keys.product(99), {"id": 99}) is False, "a refused write is reported..."
    assert cache.stats.errors > before, "...and counted"


@pytest.mark.parametrize("fault", ["killed", "paused", "full"])
def test_without_fail_open_each_fault_is_a_clear_exception_within_the_bound(stoppable_redis, fault):
    client = stoppable_redis.client()
    cache = RedisCache(client, prefix=PREFIX, fail_open=False, breaker=CircuitBreaker(1_000))
    cache.set("k", 1)
    if fault == "killed":
        stoppable_redis.process.kill()
        stoppable_redis.process.wait()
    elif fault == "paused":
        os.kill(stoppable_redis.process.pid, signal.SIGSTOP)
    else:
        client.set(PREFIX + "big", "x" * 2_000_000)
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", "1mb")
    try:
        started = time.monotonic()
        with pytest.raises(CacheUnavailable, match="Redis could not answer"):
            cache.set("k", 2)
        assert time.monotonic() - started < BOUND_S
    finally:
        if fault == "paused":
            os.kill(stoppable_redis.process.pid, signal.SIGCONT)
