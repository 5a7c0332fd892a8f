"""Reference solutions for lesson 06 · Invalidation (for instructors; learners: try first!)."""

from __future__ import annotations

import time

from cachelab import keys
from cachelab.cache import Cache
from cachelab.invalidation import LeaseCache
from cachelab.shop.app import Shop

TTL = 60
LEASE_TRIES = 5
"""How many times a reader without the lease asks again before it loads the row itself."""
RETRY_DELAY_S = 0.01


def update_price(shop: Shop, cache: Cache, product_id: int, price_cents: int) -> None:
    """Exercise 1: change the price in the database FIRST, then delete the product's key."""
    shop.set_price(product_id, price_cents)
    cache.delete(keys.product(product_id))


def fill(leases: LeaseCache, shop: Shop, product_id: int) -> dict:
    """Exercise 2: a product page read that fills the cache only with a valid lease.

    A reader that finds the lease held by another waits a moment and asks again,
    instead of joining the herd at the database; after a few tries (the holder may
    have died) it loads the row itself, without filling.
    """
    key = keys.product(product_id)
    for _ in range(LEASE_TRIES):
        row, token = leases.lease_get(key)
        if row is not None:
            return row
        if token is not None:
            row = shop.product(product_id)
            leases.lease_set(key, row, token, TTL)  # refused (False) if a delete voided the lease
            return row
        time.sleep(
            RETRY_DELAY_S
        )  # someone else holds the lease and is loading: wait, then ask again
    return shop.product(product_id)  # no lease of our own: serve the row, but do not store it
