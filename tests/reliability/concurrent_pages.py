"""The worker processes of the concurrency suite: rounds of readers racing one writer.

Importable by name (spawned processes find it on the path the test process had),
so it holds nothing but the worker function and the slowed-down shop it uses.

In each round process 0 first drops the product's cached page (as if its TTL had
just run out), and every process waits at a barrier; then process 0 changes its price (after a
random pause of a few milliseconds) while the others read
that product's page through the strategy; then all wait again, and process 0
compares what the cache would serve with the database. One stale product after a
round is one race lost.
"""

from __future__ import annotations

import random
import time

from cachelab.cache import RedisCache
from cachelab.environment.redis_server import connect
from cachelab.invalidation import _ALL_STRATEGIES
from cachelab.shop.app import Shop

LOAD_DELAY_S = 0.005
"""Added to every product load, so a reader's load overlaps a writer's write more often."""


class SlowShop(Shop):
    """A real Shop whose product page takes ``LOAD_DELAY_S`` longer to arrive (a busier database).

    The row is read first and handed back late, as from a database across a busy network:
    the window in which it can go out of date on its way is ``LOAD_DELAY_S`` wide.
    """

    writing = False

    def product(self, product_id: int) -> dict:
        row = super().product(product_id)
        if not self.writing:  # a write reads its own result back at once
            time.sleep(LOAD_DELAY_S)
        return row

    def set_price(self, product_id: int, price_cents: int) -> dict:
        self.writing = True
        try:
            return super().set_price(product_id, price_cents)
        finally:
            self.writing = False


def race(
    index: int,
    strategy_name: str,
    shop_path: str,
    redis_url: str,
    prefix: str,
    rounds: int,
    product_ids: list[int],
    ttl: float,
    barrier,
    results,
) -> None:
    """Run one process's rounds; process 0 puts (stale rounds, writes, errors) on ``results``."""
    strategy_class = {cls.name: cls for cls in _ALL_STRATEGIES}[strategy_name]
    shop = SlowShop(shop_path)
    cache = RedisCache(connect(redis_url, timeout_s=5.0), prefix=prefix)
    pages = strategy_class(shop, cache, ttl=ttl)
    rng = random.Random(index)
    stale = writes = 0
    for round_number in range(rounds):
        product_id = product_ids[round_number % len(product_ids)]
        if index == 0:
            cache.delete(pages.key(product_id))  # as if its TTL had just run out: the readers miss
        barrier.wait()
        if index == 0:
            time.sleep(rng.uniform(0, 2 * LOAD_DELAY_S))
            pages.set_price(product_id, rng.randrange(100, 100_000) * 100 + 99)
            writes += 1
        else:
            pages.read(product_id)
        barrier.wait()
        if index == 0:
            truth = Shop.product(shop, product_id)
            stale += pages.cached(product_id) not in (None, truth)
    shop.close()
    if index == 0:
        results.put((stale, writes, cache.stats.errors))
