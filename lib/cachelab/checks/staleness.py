"""Checks for the exercises of lessons 05 (stale reads) and 06 (invalidation).

Each check calls the learner's function on small, known cases -- real Shop on a
scratch copy of the tiny database, real MemoryCache and RedisCache, a FakeClock --
and raises ``CheckFailed`` naming the first property that does not hold.

- ``check_stale_fraction(stale_fraction)``          05, exercise 1
- ``check_stale_age(stale_age)``                    05, exercise 2
- ``check_update_price(update_price)``              06, exercise 1
- ``check_lease_fill(fill)``                        06, exercise 2
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Iterator, Optional

from cachelab import keys
from cachelab.app import Shop
from cachelab.cache import MemoryCache, RedisCache
from cachelab.checks import CheckFailed, expect
from cachelab.clock import FakeClock
from cachelab.data import DATA_END, scratch_shop
from cachelab.invalidation import LeaseCache
from cachelab.staleness import Read, money

TTL = 60.0


def _call(func: Callable, *args: Any, doing: str) -> Any:
    """Call the learner's function; an unexpected exception becomes a failed property."""
    try:
        return func(*args)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:  # noqa: BLE001 -- any crash is a failed property, said plainly
        raise CheckFailed(f"{doing}: your function raised {type(error).__name__}: {error}") from error


# --------------------------------------------------------------------------- lesson 05


def _read(t: float, served: dict, truth: dict, loaded: bool = False) -> Read:
    return Read(t=t, product_id=1, served=served, truth=truth, loaded=loaded, stale_age_s=0.0)


def check_stale_fraction(stale_fraction: Callable[[list[Read]], float]) -> str:
    """``stale_fraction(reads)``: the fraction of reads whose served row differs from the database's."""
    row = {"id": 1, "price_cents": 1299, "stock": 5}
    new_price = {**row, "price_cents": 999}
    sold_out = {**row, "stock": 0}

    result = _call(stale_fraction, [], doing="no reads at all")
    expect(result == 0.0, "no reads → 0.0 (there is nothing stale to count, and no error)", result)

    fresh = [_read(t, dict(row), dict(row), loaded=(t == 0)) for t in range(4)]
    result = _call(stale_fraction, fresh, doing="four fresh reads")
    expect(result == 0.0, "a read that served an equal copy of the database's row is fresh (compare values)", result)

    one_in_four = [_read(0, row, row, True), _read(1, row, row), _read(2, row, new_price), _read(3, new_price, new_price, True)]
    result = _call(stale_fraction, one_in_four, doing="one stale read in four")
    expect(result != 25, "returns a fraction between 0 and 1, not a percentage", result)
    expect(isinstance(result, float) and abs(result - 0.25) < 1e-9,
           "1 stale read out of 4 → 0.25 (divide by all reads: hits and misses)", result)

    sale = [_read(0, row, row, True), _read(1, row, sold_out), _read(2, row, sold_out), _read(3, row, sold_out)]
    result = _call(stale_fraction, sale, doing="a product that sold out")
    expect(isinstance(result, float) and abs(result - 0.75) < 1e-9,
           "a read is stale when ANY field differs -- a sale changes the stock, not the price", result)
    return "empty log, equal copies, hits and misses, price and stock changes"


def check_stale_age(stale_age: Callable[[float, Any, list[tuple[float, Any]]], float]) -> str:
    """``stale_age(read_time, served, history)``: how long the served value had been wrong."""
    history = [(0.0, "a"), (10.0, "b"), (14.0, "c")]
    cases = [
        ((20.0, "c", history), 0.0, "serving the current value → age 0.0"),
        ((12.0, "a", history), 2.0, "served 'a' at t=12, replaced at t=10 → 2.0"),
        ((20.0, "a", history), 10.0,
         "the age runs from the write that REPLACED the served value (t=10), not from the latest write (t=14)"),
        ((20.0, "b", history), 6.0, "served 'b' (true from t=10 to t=14) at t=20 → 6.0"),
        ((12.0, "b", history), 0.0, "only writes up to the read's time count: at t=12 'b' is still the truth"),
        ((25.0, "a", [(0.0, "a"), (10.0, "b"), (20.0, "a")]), 0.0,
         "a value that became true again (a → b → a) is fresh"),
        ((25.0, "b", [(0.0, "a"), (10.0, "b"), (20.0, "a")]), 5.0,
         "served 'b' in a → b → a: wrong since t=20 → 5.0"),
        ((40.0, "a", [(0.0, "a"), (10.0, "b"), (20.0, "a"), (30.0, "c")]), 10.0,
         "in a → b → a → c, 'a' was last true until t=30: count from the LAST time it was replaced → 10.0"),
    ]
    for args, wanted, property_ in cases:
        result = _call(stale_age, *args, doing=f"stale_age{args[:2]}")
        expect(isinstance(result, (int, float)) and abs(result - wanted) < 1e-9, property_, result)
    return "fresh reads, one and several writes, future writes ignored, values that come back"


# --------------------------------------------------------------------------- lesson 06


class _ShopWithAReaderInTheWay(Shop):
    """A real Shop in which, just before a price change reaches the database, a reader fills the cache.

    It plays the request from another server that arrives at the worst moment.
    """

    cache: Any = None

    def set_price(self, product_id: int, price_cents: int) -> dict:
        if self.cache is not None:
            self.cache.get_or_load(keys.product(product_id), lambda: Shop.product(self, product_id), TTL)
        return super().set_price(product_id, price_cents)


def _caches(clock: FakeClock) -> Iterator[tuple[str, Any]]:
    """A MemoryCache, then (only once the first passed) a RedisCache under a throw-away prefix."""
    yield "MemoryCache", MemoryCache(clock=clock)
    from cachelab.redis_server import connect  # started only when needed

    yield "RedisCache", RedisCache(connect(), prefix=f"cachelab:check:{uuid.uuid4().hex[:8]}:")


def check_update_price(update_price: Callable[[Shop, Any, int, int], Any]) -> str:
    """``update_price(shop, cache, product_id, price_cents)``: change the price and leave no stale page."""
    path = scratch_shop("tiny")
    clock = FakeClock(DATA_END)
    product_id, neighbour = 7, 8
    for kind, cache in _caches(clock):
        try:
            _check_update_price_on(update_price, path, clock, kind, cache, product_id, neighbour)
        finally:
            cache.clear()
    return "the database changes, no stale read follows, on MemoryCache and RedisCache, neighbours kept, delete after write"


def _check_update_price_on(update_price, path, clock, kind, cache, product_id, neighbour) -> None:
    shop = Shop(path, clock=clock)
    key = keys.product(product_id)

    def page(pid: int) -> dict:
        return cache.get_or_load(keys.product(pid), lambda: shop.product(pid), TTL)

    old = page(product_id)
    page(neighbour)
    new_price = old["price_cents"] + 500
    clock.advance(1)
    _call(update_price, shop, cache, product_id, new_price, doing=f"updating the price with a {kind}")
    truth = Shop(path).product(product_id)
    expect(truth["price_cents"] == new_price, f"writes the new price to the database ({kind})",
           money(truth["price_cents"]))
    served = page(product_id)
    expect(served == truth, f"no stale read after the update ({kind}): the next read serves the database's row",
           f"served {money(served['price_cents'])} (updated_at {served['updated_at']}), "
           f"database {money(truth['price_cents'])} (updated_at {truth['updated_at']})")
    expect(cache.get(keys.product(neighbour)) is not None,
           f"leaves other products' cached pages alone ({kind}): invalidate one key, don't clear the cache")

    racing = _ShopWithAReaderInTheWay(path, clock=clock)
    racing.cache = cache
    page(product_id)
    clock.advance(1)
    _call(update_price, racing, cache, product_id, new_price + 500, doing=f"updating the price with a {kind}")
    truth = Shop(path).product(product_id)
    served = page(product_id)
    expect(served == truth,
           f"invalidates AFTER the database write ({kind}): a reader that comes between an early delete "
           f"and the write refills the old row",
           f"served {money(served['price_cents'])}, database {money(truth['price_cents'])}")
    cache.delete(key)


class _ShopWithARacingWriter(Shop):
    """A real Shop in which a writer changes the price (and deletes the key) just after a product is loaded.

    This is the lost-invalidation race, made to happen inside one call: the reader
    holds the old row, the write and its delete happen, then the reader fills.
    """

    leases: Optional[LeaseCache] = None

    def product(self, product_id: int) -> dict:
        row = super().product(product_id)
        if self.leases is not None:
            leases, self.leases = self.leases, None  # fire once
            super().set_price(product_id, row["price_cents"] + 100)
            leases.delete(keys.product(product_id))
        return row


def check_lease_fill(fill: Callable[[LeaseCache, Shop, int], dict]) -> str:
    """``fill(leases, shop, product_id)``: a product page read that respects memcache-style leases."""
    path = scratch_shop("tiny")
    clock = FakeClock(DATA_END)
    product_id = 11
    key = keys.product(product_id)
    shop = Shop(path, clock=clock)
    leases = LeaseCache(MemoryCache(clock=clock))

    before = shop.queries
    row = _call(fill, leases, shop, product_id, doing="a miss on an empty cache")
    truth = Shop(path).product(product_id)
    expect(row == truth, "returns the product's row from the database on a miss", row)
    expect(shop.queries - before == 1, "loads from the database exactly once on a miss", shop.queries - before)
    expect(leases.get(key) == truth, "a miss with a lease of its own fills the cache", leases.get(key))

    before = shop.queries
    row = _call(fill, leases, shop, product_id, doing="a hit")
    expect(row == truth, "returns the cached row on a hit", row)
    expect(shop.queries == before, "a hit does not touch the database", shop.queries - before)

    leases = LeaseCache(MemoryCache(clock=clock))
    _, other_token = leases.lease_get(key)  # another reader got there first and is filling
    row = _call(fill, leases, shop, product_id, doing="a miss while another reader holds the lease")
    expect(row == truth, "returns the database's row even when another reader holds the lease", row)
    expect(leases.get(key) is None, "does not fill without a lease of its own", leases.get(key))
    expect(leases.lease_set(key, truth, other_token, TTL), "leaves the other reader's lease valid")

    leases = LeaseCache(MemoryCache(clock=clock))
    racing = _ShopWithARacingWriter(path, clock=clock)
    racing.leases = leases
    _call(fill, leases, racing, product_id, doing="a miss during which a writer deletes the key")
    truth = Shop(path).product(product_id)
    cached = leases.get(key)
    expect(cached is None or cached == truth,
           "a fill whose lease was voided by a delete is not stored (use lease_set with your token)",
           f"cache serves {money(cached['price_cents'])}, database holds {money(truth['price_cents'])}"
           if cached else None)
    return "miss fills once, hit skips the database, no fill without a lease, voided lease refused"
