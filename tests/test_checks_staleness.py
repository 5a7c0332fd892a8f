"""The checks of lessons 05 and 06 accept the reference solutions and reject plausible wrong answers."""

from __future__ import annotations

import pytest

from cachelab import keys
from cachelab.checks import CheckFailed
from cachelab.checks.staleness import (
    check_lease_fill,
    check_stale_age,
    check_stale_fraction,
    check_update_price,
)

from conftest import load_solutions

lesson05 = load_solutions("05_stale_reads")
lesson06 = load_solutions("06_invalidation")


# --------------------------------------------------------------------------- 05 · stale_fraction


def test_stale_fraction_check_passes_the_reference():
    assert check_stale_fraction(lesson05.stale_fraction)


def test_stale_fraction_check_rejects_a_crash_on_an_empty_log():
    def wrong(reads):
        return sum(r.served != r.truth for r in reads) / len(reads)

    with pytest.raises(CheckFailed, match="no reads"):
        check_stale_fraction(wrong)


def test_stale_fraction_check_rejects_a_percentage():
    def wrong(reads):
        return 100 * lesson05.stale_fraction(reads)

    with pytest.raises(CheckFailed, match="not a percentage"):
        check_stale_fraction(wrong)


def test_stale_fraction_check_rejects_comparing_only_the_price():
    def wrong(reads):
        if not reads:
            return 0.0
        return sum(r.served["price_cents"] != r.truth["price_cents"] for r in reads) / len(reads)

    with pytest.raises(CheckFailed, match="ANY field"):
        check_stale_fraction(wrong)


def test_stale_fraction_check_rejects_dividing_by_the_hits_only():
    def wrong(reads):
        hits = [r for r in reads if not r.loaded]
        return sum(r.served != r.truth for r in hits) / len(hits) if hits else 0.0

    with pytest.raises(CheckFailed, match="all reads"):
        check_stale_fraction(wrong)


def test_stale_fraction_check_rejects_comparing_identity():
    def wrong(reads):
        return sum(r.served is not r.truth for r in reads) / len(reads) if reads else 0.0

    with pytest.raises(CheckFailed, match="equal copy"):
        check_stale_fraction(wrong)


# --------------------------------------------------------------------------- 05 · stale_age


def test_stale_age_check_passes_the_reference():
    assert check_stale_age(lesson05.stale_age)


def test_stale_age_check_rejects_measuring_from_the_latest_write():
    def wrong(read_time, served, history):
        known = [(t, v) for t, v in history if t <= read_time]
        return 0.0 if served == known[-1][1] else read_time - known[-1][0]

    with pytest.raises(CheckFailed, match="REPLACED"):
        check_stale_age(wrong)


def test_stale_age_check_rejects_looking_at_writes_after_the_read():
    def wrong(read_time, served, history):
        if served == history[-1][1]:
            return 0.0
        for i in range(len(history) - 1, -1, -1):
            if history[i][1] == served:
                return read_time - history[i + 1][0]
        raise ValueError

    with pytest.raises(CheckFailed, match="only writes up to the read's time"):
        check_stale_age(wrong)


def test_stale_age_check_rejects_the_first_time_a_value_was_true():
    def wrong(read_time, served, history):
        known = [(t, v) for t, v in history if t <= read_time]
        if served == known[-1][1]:
            return 0.0
        first = next(i for i, (_, v) in enumerate(known) if v == served)
        return read_time - known[first + 1][0]

    with pytest.raises(CheckFailed, match="LAST time"):
        check_stale_age(wrong)


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

    with pytest.raises(CheckFailed, match="no stale read after the update"):
        check_update_price(wrong)


def test_update_price_check_rejects_updating_only_the_cache():
    def wrong(shop, cache, product_id, price_cents):
        row = cache.get(keys.product(product_id))
        cache.set(keys.product(product_id), {**row, "price_cents": price_cents}, 60)

    with pytest.raises(CheckFailed, match="writes the new price to the database"):
        check_update_price(wrong)


def test_update_price_check_rejects_clearing_the_whole_cache():
    def wrong(shop, cache, product_id, price_cents):
        shop.set_price(product_id, price_cents)
        cache.clear()

    with pytest.raises(CheckFailed, match="other products"):
        check_update_price(wrong)


def test_update_price_check_rejects_deleting_before_the_write():
    def wrong(shop, cache, product_id, price_cents):
        cache.delete(keys.product(product_id))
        shop.set_price(product_id, price_cents)

    with pytest.raises(CheckFailed, match="AFTER the database write"):
        check_update_price(wrong)


def test_update_price_check_rejects_code_that_only_works_on_a_memory_cache():
    def wrong(shop, cache, product_id, price_cents):
        shop.set_price(product_id, price_cents)
        cache._entries.pop(keys.product(product_id), None)

    with pytest.raises(CheckFailed, match="RedisCache"):
        check_update_price(wrong)


def test_update_price_check_rejects_a_hand_patched_row():
    def wrong(shop, cache, product_id, price_cents):
        row = cache.get(keys.product(product_id))
        shop.set_price(product_id, price_cents)
        cache.set(keys.product(product_id), {**row, "price_cents": price_cents}, 60)

    with pytest.raises(CheckFailed, match="database's row"):
        check_update_price(wrong)


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

    with pytest.raises(CheckFailed, match="lease"):
        check_lease_fill(wrong)


def test_lease_fill_check_rejects_a_fill_that_never_stores():
    def wrong(leases, shop, product_id):
        row, _ = leases.lease_get(keys.product(product_id))
        return row if row is not None else shop.product(product_id)

    with pytest.raises(CheckFailed, match="fills the cache"):
        check_lease_fill(wrong)


def test_lease_fill_check_rejects_giving_up_when_another_reader_holds_the_lease():
    def wrong(leases, shop, product_id):
        key = keys.product(product_id)
        row, token = leases.lease_get(key)
        if row is not None or token is None:
            return row
        row = shop.product(product_id)
        leases.lease_set(key, row, token, 60)
        return row

    with pytest.raises(CheckFailed, match="another reader holds the lease"):
        check_lease_fill(wrong)
