"""Every invalidation strategy on a Redis that evicts keys, and on one that restarts empty.

A cache under ``allkeys-lru`` or ``allkeys-random`` may evict *any* key, so a
strategy's coordination keys (a version key, a lease) can vanish as well as the
pages. And a server restarted without persistence comes back empty while a reader
that started before the restart may still fill a page afterwards. Neither may make
a strategy serve an old price: a lost version key must never bring back an old
generation, a lost lease must refuse a fill rather than accept it.

Both runs are sequential (one request at a time, seeded), so every wrong read they
count comes from the lost keys, not from a race between requests -- except in the
restart's scripted late fill, which is the lost-invalidation race of lesson 06 and
leaves plain delete-on-write and write-through stale by design.
"""

from __future__ import annotations

import random
import shutil

import pytest

from cachelab.cache import RedisCache
from cachelab.environment.redis_server import PrivateRedisServer
from cachelab.invalidation import _ALL_STRATEGIES, _run_steps
from cachelab.shop.app import Shop

PREFIX = "cachelab:ada:eviction:"
TTL = 600.0
OPERATIONS = 500
"""Requests per eviction run (about 400 reads and 100 writes): a few seconds on a busy machine."""
HOT_PRODUCTS = list(range(1, 31))
FILLER_BYTES = 10_000
"""Each request also caches one other page of this size, so that memory stays full and evicting."""
MEMORY_ABOVE_BASELINE = 600_000
"""``maxmemory`` is set this many bytes above what the empty server uses: room for ~50 pages.
Not much less: memory that is not keys (client buffers, the script cache) moves by tens of
kilobytes, and with nothing left to evict under it the server answers OOM, not an eviction."""
MUST_BE_EXACT = {"versioned keys", "delete-on-write + leases"}
STRATEGY_NAMES = [cls.name for cls in _ALL_STRATEGIES]


@pytest.fixture(scope="module")
def server():
    server = PrivateRedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def shop_copy(tiny_shop_path, tmp_path):
    copy = tmp_path / "shop.db"
    shutil.copyfile(tiny_shop_path, copy)
    shop = Shop(copy)
    shop.db.execute("PRAGMA synchronous = OFF")  # a throw-away copy: no need to wait for the disk
    yield shop
    shop.close()


def evicting(server, policy: str) -> RedisCache:
    """A cache on ``server`` emptied of the course's keys, with a small ``maxmemory`` and
    ``policy``."""
    client = server.client()
    client.config_set("maxmemory", 0)
    RedisCache(client, prefix=PREFIX).clear()
    client.config_resetstat()  # evicted_keys counts this run only
    baseline = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory-policy", policy)
    client.config_set("maxmemory", baseline + MEMORY_ABOVE_BASELINE)
    return RedisCache(client, prefix=PREFIX)


def wrong_reads_under_eviction(strategy_class, cache: RedisCache, shop: Shop) -> tuple[int, int]:
    """(wrong reads, reads) over ``OPERATIONS`` seeded requests, each followed by a filler page."""
    pages = strategy_class(shop, cache, ttl=TTL)
    rng = random.Random(7)
    wrong = reads = 0
    for n in range(OPERATIONS):
        product_id = rng.choice(HOT_PRODUCTS)
        if rng.random() < 0.2:
            pages.set_price(product_id, rng.randrange(100, 100_000) * 100 + 99)
        else:
            reads += 1
            wrong += pages.read(product_id) != shop.product(product_id)
        cache.set(f"page:other:{n}", "x" * FILLER_BYTES, TTL)
    return wrong, reads


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-random"])
@pytest.mark.parametrize("strategy_name", STRATEGY_NAMES)
def test_wrong_reads_under_eviction(strategy_name, policy, server, shop_copy, capsys):
    strategy_class = {cls.name: cls for cls in _ALL_STRATEGIES}[strategy_name]
    cache = evicting(server, policy)
    try:
        wrong, reads = wrong_reads_under_eviction(strategy_class, cache, shop_copy)
        evicted = int(cache.client.info("stats")["evicted_keys"])
    finally:
        cache.client.config_set("maxmemory", 0)
        cache.clear()
    with capsys.disabled():
        print(f"\n  {policy}, {strategy_name}: {wrong} wrong of {reads} reads")
    assert evicted > OPERATIONS / 2, f"only {evicted} keys were evicted: the run was not evicting"
    if strategy_name in MUST_BE_EXACT:
        assert wrong == 0, f"{strategy_name} served {wrong} old rows of {reads} after evictions"
    elif strategy_name == "TTL only":
        assert wrong > 10, "TTL-only serves old rows: if none is seen, the comparison is blind"


READS_AFTER = 20


@pytest.mark.parametrize("strategy_name", STRATEGY_NAMES)
def test_wrong_reads_after_a_restart_and_one_late_fill(strategy_name, shop_copy, capsys):
    """A reader loads a row, the server restarts empty, a write lands, then the reader fills."""
    strategy_class = {cls.name: cls for cls in _ALL_STRATEGIES}[strategy_name]
    server = PrivateRedisServer().start()
    try:
        cache = RedisCache(server.client(), prefix=PREFIX)
        pages = strategy_class(shop_copy, cache, ttl=TTL)
        product_id = 5
        base = shop_copy.product(product_id)["price_cents"]
        pages.set_price(product_id, base + 100)  # one write before: versions are past 0
        cache.delete(pages.key(product_id))  # as if its TTL had just run out: the reader misses
        reader = pages.read_steps(product_id)
        next(reader), next(reader)  # it misses, then loads the row (base + 100)
        server.restart()
        _run_steps(pages.write_steps(product_id, lambda s: s.set_price(product_id, base + 200)))
        for _ in reader:  # the late fill of the row it loaded before the write
            pass
        truth = shop_copy.product(product_id)
        wrong = sum(pages.read(product_id) != truth for _ in range(READS_AFTER))
    finally:
        server.stop()
    with capsys.disabled():
        print(f"\n  restart, {strategy_name}: {wrong} wrong of {READS_AFTER} reads")
    if strategy_name in MUST_BE_EXACT:
        assert wrong == 0, f"{strategy_name} served the old row {wrong} times after the restart"
    elif strategy_name == "TTL only":
        assert wrong == READS_AFTER, "TTL-only serves the late fill until its TTL"
