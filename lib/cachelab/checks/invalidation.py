"""Checks for lesson 06's exercises (invalidation): an update that leaves no stale page, a
lease-aware fill.

- ``check_update_price(update_price)``   06.1
- ``check_lease_fill(fill)``             06.2

Each check runs your function on a real ``Shop`` (a scratch copy of the tiny
database), real caches (a ``MemoryCache``, then a ``RedisCache`` under your learner
prefix) and a ``FakeClock``, and plays the other requests itself -- a reader that
arrives at the worst moment, a writer that deletes the key while you load -- so
the race happens the same way on every run.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable, Optional

from cachelab import keys
from cachelab.cache import Cache, MemoryCache, RedisCache, _delete_keys_under
from cachelab.checks import _call, _expect, _same, _shown
from cachelab.clock import FakeClock
from cachelab.invalidation import LeaseCache
from cachelab.shop.app import Shop
from cachelab.shop.data import DATA_END, scratch_shop
from cachelab.show.display import money

__all__ = ["check_lease_fill", "check_update_price"]

_TTL = 60.0

_MAX_LEASE_TRIES = 20
"""A fill may ask for a lease at most this many times before the check calls it a busy loop."""


class _ShopWithAReaderInTheWay(Shop):
    """A real Shop in which, just before a price change reaches the database, a reader fills the
    cache.

    It plays the request from another server that arrives between an early delete and the write.
    """

    cache: Optional[Cache] = None

    def set_price(self, product_id: int, price_cents: int) -> dict:
        if self.cache is not None:
            self.cache.get_or_load(
                keys.product(product_id), lambda: Shop.product(self, product_id), _TTL
            )
        return super().set_price(product_id, price_cents)


def check_update_price(update_price: Callable[[Shop, Any, int, int], Any]) -> str:
    """Exercise 06.1, ``update_price(shop, cache, product_id, price_cents)``: change the price,
    leave no stale page.

    First on a ``MemoryCache``, then on a ``RedisCache`` under a throw-away prefix of this
    learner's. The answer, the check and the reader in the way each get a cache object of
    their own on that one prefix, so what the answer does to its object (``cache.prefix =
    ...``) cannot change what the check reads or deletes. The clean-up deletes the prefix
    the check recorded, through a client the answer never had: nothing else.
    """
    path = scratch_shop("tiny")
    clock = FakeClock(DATA_END)
    product_id = 7  # and its neighbour, 8, whose page must stay cached
    memory = MemoryCache(clock=clock)  # this process's memory: one object, holding only ours
    _check_update_price_on(update_price, path, clock, "MemoryCache", lambda: memory, product_id)
    from cachelab.environment.redis_server import connect  # started only when needed

    prefix = f"{keys.learner_prefix()}check06:{uuid.uuid4().hex[:8]}:"
    try:
        _check_update_price_on(
            update_price,
            path,
            clock,
            "RedisCache",
            lambda: RedisCache(connect(), prefix=prefix),
            product_id,
        )
    finally:
        _delete_keys_under(connect(), prefix)
    return (
        "the database changes, no stale read follows, on MemoryCache and RedisCache, neighbours "
        "kept, the cache step after the database write"
    )


def _price(row: Any) -> str:
    """A row's price as money, or the row itself (cut short) when it is not a product row."""
    if isinstance(row, dict) and isinstance(row.get("price_cents"), int):
        return f"{money(row['price_cents'])} (updated_at {row.get('updated_at')})"
    return _shown(row)


def _check_update_price_on(
    update_price: Callable[..., Any],
    path: Path,
    clock: FakeClock,
    kind: str,
    cache_on_the_store: Callable[[], Cache],
    product_id: int,
) -> None:
    """One cache kind: an update, then an update with a reader in the way.
    ``cache_on_the_store()`` gives a new cache object on the one store the check uses.
    """
    shop = Shop(path, clock=clock)
    mine, theirs = cache_on_the_store(), cache_on_the_store()
    neighbour = product_id + 1

    def page(pid: int) -> dict:
        return mine.get_or_load(keys.product(pid), lambda: shop.product(pid), _TTL)

    old = page(product_id)
    page(neighbour)
    new_price = old["price_cents"] + 500
    clock.advance(1)
    _call(
        update_price,
        shop,
        theirs,
        product_id,
        new_price,
        property_=f"update_price works with a {kind}",
        topic="steps",
    )
    truth = Shop(path).product(product_id)
    _expect(
        truth["price_cents"] == new_price,
        f"writes the new price to the database ({kind})",
        money(truth["price_cents"]),
        topic="steps",
    )
    served = page(product_id)
    _expect(
        _same(served, truth),
        f"no stale read after the update ({kind}): the next read serves the database's row",
        f"served {_price(served)}, database {_price(truth)}",
        topic="steps",
    )
    _expect(
        mine.get(keys.product(neighbour)) is not None,
        f"leaves other products' cached pages alone ({kind}): invalidate one key, don't clear the "
        "cache",
        topic="one-key",
    )

    racing = _ShopWithAReaderInTheWay(path, clock=clock)
    racing.cache = cache_on_the_store()  # another server's reader, with a client of its own
    page(product_id)
    clock.advance(1)
    _call(
        update_price,
        racing,
        theirs,
        product_id,
        new_price + 500,
        property_=f"update_price works with a {kind}",
        topic="steps",
    )
    truth = Shop(path).product(product_id)
    served = page(product_id)
    _expect(
        _same(served, truth),
        f"invalidates AFTER the database write ({kind}): a reader that comes between an early "
        "delete and the write refills the old row",
        f"served {_price(served)}, database {_price(truth)}",
        topic="order",
    )


class _ShopWithARacingWriter(Shop):
    """A real Shop in which a writer changes the price (and deletes the key) just after a product is
    loaded.

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


class _CountingLeases(LeaseCache):
    """A real ``LeaseCache`` that counts how often a lease is asked for, and can play another
    reader.

    With ``filled_by_other`` set, another reader holds the lease and stores that row
    right after your first ask: a reader that waits and asks again finds it cached.
    """

    def __init__(self, cache: MemoryCache, filled_by_other: Optional[dict] = None) -> None:
        super().__init__(cache)
        self.asked = 0
        self.filled_by_other = filled_by_other

    def lease_get(self, key: str) -> tuple[Any, Optional[str]]:
        self.asked += 1
        if self.asked > _MAX_LEASE_TRIES:
            raise RuntimeError(f"asked for the lease {self.asked} times: stop after a few tries")
        answer = super().lease_get(key)
        if self.filled_by_other is not None and self.asked == 1:
            token = self.cache.get(keys.lease(key))  # the other reader's lease, which it now fills
            self.lease_set(key, self.filled_by_other, token, _TTL)
        return answer


def _expect_the_row_loaded_once(
    row: Any, truth: dict, queries: int, *, returns: str, loads: str, topic: str
) -> None:
    """The fill returned the database's row (else ``returns`` fails) after exactly one query (else
    ``loads`` fails), both under the hints of ``topic``.
    """
    _expect(_same(row, truth), returns, row, topic=topic)
    _expect(queries == 1, loads, queries, topic=topic)


def check_lease_fill(fill: Callable[[LeaseCache, Shop, int], dict]) -> str:
    """Exercise 06.2, ``fill(leases, shop, product_id)``: a product page read that respects
    memcache-style leases.
    """
    path = scratch_shop("tiny")
    clock = FakeClock(DATA_END)
    product_id = 11
    key = keys.product(product_id)
    shop = Shop(path, clock=clock)

    def read(leases: LeaseCache, on_shop: Shop, doing: str, topic: str) -> Any:
        return _call(
            fill, leases, on_shop, product_id, property_=f"fill works on {doing}", topic=topic
        )

    leases = _CountingLeases(MemoryCache(clock=clock))
    before = shop.queries
    row = read(leases, shop, "a miss on an empty cache", "miss")
    truth = Shop(path).product(product_id)
    _expect_the_row_loaded_once(
        row,
        truth,
        shop.queries - before,
        returns="returns the product's row from the database on a miss",
        loads="loads from the database exactly once on a miss",
        topic="miss",
    )
    _expect(
        _same(leases.get(key), truth),
        "a miss with a lease of its own fills the cache",
        leases.get(key),
        topic="miss",
    )

    before = shop.queries
    row = read(leases, shop, "a hit", "hit")
    _expect(_same(row, truth), "returns the cached row on a hit", row, topic="hit")
    _expect(
        shop.queries == before,
        "a hit does not touch the database",
        shop.queries - before,
        topic="hit",
    )

    leases = _CountingLeases(MemoryCache(clock=clock), filled_by_other=truth)
    leases.cache.add(
        keys.lease(key), "another-reader", 10.0
    )  # another reader got there first and is filling
    before = shop.queries
    row = read(leases, shop, "a miss while another reader holds the lease", "wait")
    _expect(_same(row, truth), "returns the row the lease holder stored", row, topic="wait")
    _expect(
        shop.queries == before,
        "a reader without the lease waits and asks again, and finds the holder's row: it does not "
        "go to the database (that is the herd leases prevent)",
        f"{shop.queries - before} database queries",
        topic="wait",
    )

    leases = _CountingLeases(MemoryCache(clock=clock))
    leases.cache.add(
        keys.lease(key), "a-reader-that-died", 10.0
    )  # holds the lease and will never fill
    before = shop.queries
    row = read(leases, shop, "a miss while the lease holder never fills", "give-up")
    _expect_the_row_loaded_once(
        row,
        truth,
        shop.queries - before,
        returns="after a few tries without the lease, returns the database's row",
        loads="after a few tries, loads from the database once",
        topic="give-up",
    )
    _expect(
        leases.get(key) is None,
        "does not fill without a lease of its own",
        leases.get(key),
        topic="give-up",
    )

    leases = _CountingLeases(MemoryCache(clock=clock))
    racing = _ShopWithARacingWriter(path, clock=clock)
    racing.leases = leases
    read(leases, racing, "a miss during which a writer deletes the key", "voided")
    truth = Shop(path).product(product_id)
    cached = leases.get(key)
    _expect(
        cached is None or _same(cached, truth),
        "a fill whose lease was voided by a delete is not stored (use lease_set with your token)",
        f"cache serves {_price(cached)}, database holds {_price(truth)}" if cached else None,
        topic="voided",
    )
    return (
        "miss fills once, hit skips the database, a reader without the lease waits for the "
        "holder's row, gives up after a few tries without filling, and a voided lease is refused"
    )


_EXERCISES = {"06.1": check_update_price, "06.2": check_lease_fill}

_HINTS = {
    "06.1": {
        "steps": (
            "Two steps: change the database, then tell the cache that this product's page is no "
            "longer right.",
            "shop.set_price changes the database; cache.delete removes a cached page, and it "
            "works the same on a MemoryCache and a RedisCache.",
            "The page to remove is the one cached under the product's key, which keys.product "
            "builds from the product id.",
        ),
        "one-key": (
            "Invalidate the one page that changed; the other products' pages are still right.",
            "cache.clear() throws away every product's page: remove only the key of the product "
            "whose price changed.",
        ),
        "order": (
            "Order matters. If you delete first, a reader that arrives before your write misses, "
            "loads the OLD row and stores it again.",
            "Which step must come last so that nothing old can be cached after it?",
            "Write to the database first, and invalidate the cache after it.",
        ),
    },
    "06.2": {
        "miss": (
            "On a miss you get a token with your lease: load the row, then fill with that token.",
            "leases.lease_get(key) returns a pair: no value and a token means the lease is yours, "
            "so this reader is the one that loads.",
            "Load the row with shop.product, store it through leases.lease_set with your token, "
            "and return the row.",
        ),
        "hit": (
            "lease_get returns (value, None) on a hit: return the value, and leave the database "
            "alone.",
            "Look at the value lease_get gave you before anything else: when it is there, return "
            "it at once, before any call to shop.",
        ),
        "wait": (
            "(None, None) means another reader holds the lease and is loading right now. Going to "
            "the database too is the herd leases exist to stop: wait a moment and ask again.",
            "A loop around lease_get with time.sleep(0.01) between the asks does the waiting.",
            "Leave the loop as soon as lease_get gives you a value (return it) or a token (the "
            "lease is yours now: load and fill).",
        ),
        "give-up": (
            "The lease holder may have died: after a few tries, stop waiting and load the row "
            "yourself -- but you still hold no lease, so do not store it.",
            "Bound your loop by a number of tries: the check counts more than 20 asks for one "
            "page as a busy loop, so a handful is plenty.",
            "When the tries run out, read the row from shop and return it, without any call that "
            "stores it.",
        ),
        "voided": (
            "A delete during your load voids your lease. Store only through lease_set, which "
            "checks the token.",
            "Writing with leases.cache.set directly skips the token check, and the old row lands "
            "after the delete.",
        ),
    },
}
