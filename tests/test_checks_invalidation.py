"""Lesson 06's checks accept the reference solutions and reject plausible wrong answers, with the
right hint.

Each wrong answer is a function named after its mistake, in a table with the hint topic and the
words the check's message must hold; the table's ids are those names.
"""

from __future__ import annotations

import time

import pytest
from support import assert_fails, load_solutions, wrong_answers

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


def forgets_the_cache(shop, cache, product_id, price_cents):
    shop.set_price(product_id, price_cents)


def updates_only_the_cache(shop, cache, product_id, price_cents):
    row = cache.get(keys.product(product_id))
    cache.set(keys.product(product_id), {**row, "price_cents": price_cents}, 60)


def clears_the_whole_cache(shop, cache, product_id, price_cents):
    shop.set_price(product_id, price_cents)
    cache.clear()


def deletes_before_the_write(shop, cache, product_id, price_cents):
    cache.delete(keys.product(product_id))
    shop.set_price(product_id, price_cents)


def only_works_on_a_memory_cache(shop, cache, product_id, price_cents):
    shop.set_price(product_id, price_cents)
    cache._entries.pop(keys.product(product_id), None)


def patches_the_row_by_hand(shop, cache, product_id, price_cents):
    row = cache.get(keys.product(product_id))
    shop.set_price(product_id, price_cents)
    cache.set(keys.product(product_id), {**row, "price_cents": price_cents}, 60)


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (forgets_the_cache, "steps", "no stale read after the update"),
        (updates_only_the_cache, "steps", "writes the new price to the database"),
        (clears_the_whole_cache, "one-key", "other products"),
        (deletes_before_the_write, "order", "AFTER the database write"),
        (only_works_on_a_memory_cache, "steps", "RedisCache"),
        (patches_the_row_by_hand, "steps", "database's row"),
    ),
)
def test_update_price_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_update_price, answer, topic=topic, match=match)


# --------------------------------------------------------------------------- 06 · lease fill


def test_lease_fill_check_passes_the_reference():
    assert check_lease_fill(lesson06.fill)


def plain_cache_aside_that_ignores_leases(leases, shop, product_id):
    key = keys.product(product_id)
    row = leases.get(key)
    if row is None:
        row = shop.product(product_id)
        leases.cache.set(key, row, 60)
    return row


def never_stores(leases, shop, product_id):
    row, _ = leases.lease_get(keys.product(product_id))
    return row if row is not None else shop.product(product_id)


def returns_nothing_when_another_reader_holds_the_lease(leases, shop, product_id):
    key = keys.product(product_id)
    row, token = leases.lease_get(key)
    if row is not None or token is None:
        return row
    row = shop.product(product_id)
    leases.lease_set(key, row, token, 60)
    return row


def goes_to_the_database_when_another_reader_holds_the_lease(leases, shop, product_id):
    """The herd: every reader without the lease loads the row too (what lesson 06 once taught)."""
    key = keys.product(product_id)
    row, token = leases.lease_get(key)
    if row is not None:
        return row
    row = shop.product(product_id)
    if token is not None:
        leases.lease_set(key, row, token, 60)
    return row


def _ask_once(leases, shop, product_id):
    """One right try: the cached row, or the database's row stored under a lease of this reader's
    own, or None while another reader holds the lease. The two answers below retry it wrongly.
    """
    key = keys.product(product_id)
    row, token = leases.lease_get(key)
    if row is not None:
        return row
    if token is not None:
        row = shop.product(product_id)
        leases.lease_set(key, row, token, 60)
        return row
    return None


def waits_forever_for_a_holder_that_never_fills(leases, shop, product_id):
    while True:
        row = _ask_once(leases, shop, product_id)
        if row is not None:
            return row
        time.sleep(0.001)


def fills_without_a_lease_after_giving_up(leases, shop, product_id):
    for _ in range(3):
        row = _ask_once(leases, shop, product_id)
        if row is not None:
            return row
    row = shop.product(product_id)
    leases.cache.set(keys.product(product_id), row, 60)
    return row


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (plain_cache_aside_that_ignores_leases, "wait", "waits and asks again"),
        (never_stores, "miss", "fills the cache"),
        (
            returns_nothing_when_another_reader_holds_the_lease,
            "wait",
            "returns the row the lease holder stored",
        ),
        (
            goes_to_the_database_when_another_reader_holds_the_lease,
            "wait",
            "does not go to the database",
        ),
        (waits_forever_for_a_holder_that_never_fills, "give-up", "asked for the lease 21 times"),
        (fills_without_a_lease_after_giving_up, "give-up", "does not fill without a lease"),
    ),
)
def test_lease_fill_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_lease_fill, answer, topic=topic, match=match)
