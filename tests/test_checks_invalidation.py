"""Lesson 06's checks accept the reference solutions and reject plausible wrong answers, with the
right
hint.
"""

from __future__ import annotations

import time

from support import assert_fails, load_solutions

from cachelab import keys
from cachelab.checks.invalidation import check_lease_fill, check_update_price

lesson06 = load_solutions("06_invalidation")


# --------------------------------------------------------------------------- 06 · update_price


def test_update_price_check_passes_the_reference():
    assert check_update_price(lesson06.update_price)


def test_update_price_check_passes_write_through_with_the_database_row():
    def write_through(shop, cache, product_id, price_cents):
        cache.set(keys.product(product_id), shop.set_price(product_id, price_cents), 60)

    assert check_update_price(write_through)


def test_update_price_check_rejects_forgetting_the_cache():
    def wrong(shop, cache, product_id, price_cents):
        shop.set_price(product_id, price_cents)

    assert_fails(check_update_price, wrong, topic="steps", match="no stale read after the update")


def test_update_price_check_rejects_updating_only_the_cache():
    def wrong(shop, cache, product_id, price_cents):
        row = cache.get(keys.product(product_id))
        cache.set(keys.product(product_id), {**row, "price_cents": price_cents}, 60)

    assert_fails(
        check_update_price, wrong, topic="steps", match="writes the new price to the database"
    )


def test_update_price_check_rejects_clearing_the_whole_cache():
    def wrong(shop, cache, product_id, price_cents):
        shop.set_price(product_id, price_cents)
        cache.clear()

    assert_fails(check_update_price, wrong, topic="one-key", match="other products")


def test_update_price_check_rejects_deleting_before_the_write():
    def wrong(shop, cache, product_id, price_cents):
        cache.delete(keys.product(product_id))
        shop.set_price(product_id, price_cents)

    assert_fails(check_update_price, wrong, topic="order", match="AFTER the database write")


def test_update_price_check_rejects_code_that_only_works_on_a_memory_cache():
    def wrong(shop, cache, product_id, price_cents):
        shop.set_price(product_id, price_cents)
        cache._entries.pop(keys.product(product_id), None)

    assert_fails(check_update_price, wrong, topic="steps", match="RedisCache")


def test_update_price_check_rejects_a_hand_patched_row():
    def wrong(shop, cache, product_id, price_cents):
        row = cache.get(keys.product(product_id))
        shop.set_price(product_id, price_cents)
        cache.set(keys.product(product_id), {**row, "price_cents": price_cents}, 60)

    assert_fails(check_update_price, wrong, topic="steps", match="database's row")


# --------------------------------------------------------------------------- 06 · lease fill


def test_lease_fill_check_passes_the_reference():
    assert check_lease_fill(lesson06.fill)


def test_lease_fill_check_rejects_plain_cache_aside_that_ignores_leases():
    def wrong(leases, shop, product_id):
        key = keys.product(product_id)
        row = leases.get(key)
        if row is None:
            row = shop.product(product_id)
            leases.cache.set(key, row, 60)
        return row

    assert_fails(check_lease_fill, wrong, topic="wait", match="waits and asks again")


def test_lease_fill_check_rejects_a_fill_that_never_stores():
    def wrong(leases, shop, product_id):
        row, _ = leases.lease_get(keys.product(product_id))
        return row if row is not None else shop.product(product_id)

    assert_fails(check_lease_fill, wrong, topic="miss", match="fills the cache")


def test_lease_fill_check_rejects_returning_nothing_when_another_reader_holds_the_lease():
    def wrong(leases, shop, product_id):
        key = keys.product(product_id)
        row, token = leases.lease_get(key)
        if row is not None or token is None:
            return row
        row = shop.product(product_id)
        leases.lease_set(key, row, token, 60)
        return row

    assert_fails(
        check_lease_fill, wrong, topic="wait", match="returns the row the lease holder stored"
    )


def test_lease_fill_check_rejects_going_to_the_database_when_another_reader_holds_the_lease():
    """The herd: every reader without the lease loads the row too (what lesson 06 once taught)."""

    def wrong(leases, shop, product_id):
        key = keys.product(product_id)
        row, token = leases.lease_get(key)
        if row is not None:
            return row
        row = shop.product(product_id)
        if token is not None:
            leases.lease_set(key, row, token, 60)
        return row

    assert_fails(check_lease_fill, wrong, topic="wait", match="does not go to the database")


def test_lease_fill_check_rejects_waiting_forever_for_a_holder_that_never_fills():
    def wrong(leases, shop, product_id):
        key = keys.product(product_id)
        while True:
            row, token = leases.lease_get(key)
            if row is not None:
                return row
            if token is not None:
                row = shop.product(product_id)
                leases.lease_set(key, row, token, 60)
                return row
            time.sleep(0.001)

    assert_fails(check_lease_fill, wrong, topic="give-up", match="asked for the lease 21 times")


def test_lease_fill_check_rejects_filling_without_a_lease_after_giving_up():
    def wrong(leases, shop, product_id):
        key = keys.product(product_id)
        for _ in range(3):
            row, token = leases.lease_get(key)
            if row is not None:
                return row
            if token is not None:
                row = shop.product(product_id)
                leases.lease_set(key, row, token, 60)
                return row
        row = shop.product(product_id)
        leases.cache.set(key, row, 60)
        return row

    assert_fails(check_lease_fill, wrong, topic="give-up", match="does not fill without a lease")
