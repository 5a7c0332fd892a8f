"""Reference solutions for lesson 06 · Invalidation (for instructors; learners: try first!)."""

from __future__ import annotations

from typing import Any

from cachelab import keys
from cachelab.app import Shop
from cachelab.invalidation import LeaseCache

TTL = 60


def update_price(shop: Shop, cache: Any, product_id: int, price_cents: int) -> None:
    """Exercise 1: change the price in the database FIRST, then delete the product's key."""
    shop.set_price(product_id, price_cents)
    cache.delete(keys.product(product_id))


def fill(leases: LeaseCache, shop: Shop, product_id: int) -> dict:
    """Exercise 2: a product page read that fills the cache only with a valid lease."""
    key = keys.product(product_id)
    row, token = leases.lease_get(key)
    if row is not None:
        return row
    row = shop.product(product_id)
    if token is not None:
        leases.lease_set(key, row, token, TTL)  # refused (False) if a delete voided the lease
    return row
