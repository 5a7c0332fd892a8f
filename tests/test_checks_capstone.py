"""Lesson 09's checks: the reference solutions pass, and wrong designs fail with a message that
names the kind of data and the budget they miss (and the hints for that cause)."""

from __future__ import annotations

import pytest
from support import assert_fails, failure_of, load_solutions

from cachelab import checks, keys
from cachelab.checks.capstone import (
    _HINTS,
    check_capstone,
    check_find_product,
    check_normalize_trending,
)
from cachelab.lab.capstone import OneTTLForEverything

solutions = load_solutions("09_capstone")


# --------------------------------------------------------------------------- 09.1


def test_normalize_trending_check_passes_the_reference():
    assert "of the nine lists" in check_normalize_trending(solutions.normalize_trending)


def test_rounding_down_is_caught():
    def rounds_down(days, limit):
        if not (solutions._whole(days) and days >= 1 and solutions._whole(limit) and limit >= 1):
            return 7, 10
        days = max((d for d in (1, 7, 30) if d <= days), default=1)
        limit = max((n for n in (10, 20, 50) if n <= limit), default=10)
        return days, limit

    assert_fails(check_normalize_trending, rounds_down, topic="round", match="round UP")


def test_no_cap_is_caught():
    def no_cap(days, limit):
        if not (solutions._whole(days) and days >= 1 and solutions._whole(limit) and limit >= 1):
            return 7, 10
        return next(d for d in (1, 7, 30) if d >= days), next(n for n in (10, 20, 50) if n >= limit)

    assert_fails(check_normalize_trending, no_cap, topic="cap", match="capped")


def test_taking_a_bool_for_a_number_is_caught():
    def bools_pass(days, limit):
        if isinstance(days, int) and isinstance(limit, int) and days >= 1 and limit >= 1:
            return solutions.normalize_trending(int(days), int(limit))
        return 7, 10

    assert_fails(check_normalize_trending, bools_pass, topic="junk", match="default")


def test_junk_that_raises_is_caught():
    def trusts_its_input(days, limit):
        return solutions.normalize_trending(int(days), int(limit))

    assert_fails(check_normalize_trending, trusts_its_input, topic="junk", match="default")


# --------------------------------------------------------------------------- 09.2


def test_find_product_check_passes_the_reference():
    assert "cached for a while" in check_find_product(solutions.find_product)


def test_no_negative_caching_is_caught():
    def no_negative(shop, cache, product_id):
        if not solutions._whole(product_id) or product_id < 1:
            return None
        try:
            return cache.get_or_load(
                keys.product(product_id), lambda: shop.product(product_id), 600
            )
        except LookupError:
            return None

    assert_fails(check_find_product, no_negative, topic="negative", match="negative caching")


def test_a_not_found_cached_for_ever_is_caught():
    def for_ever(shop, cache, product_id):
        if not solutions._whole(product_id) or product_id < 1:
            return None
        if product_id > cache.get_or_load("products:max-id", shop.max_product_id, 300):
            return None
        row = cache.get(keys.product(product_id))
        if row is None:
            try:
                row = shop.product(product_id)
            except LookupError:
                row = solutions.NOT_FOUND
            cache.set(keys.product(product_id), row, None)  # never expires
        return None if row == solutions.NOT_FOUND else row

    assert_fails(check_find_product, for_ever, topic="ttl", match="bounded time")


def test_negative_caching_every_guessed_id_is_caught():
    def a_key_per_guess(shop, cache, product_id):
        if not solutions._whole(product_id) or product_id < 1:
            return None
        row = cache.get(keys.product(product_id))
        if row is None:
            try:
                row = shop.product(product_id)
            except LookupError:
                row = solutions.NOT_FOUND
            cache.set(keys.product(product_id), row, 60)
        return None if row == solutions.NOT_FOUND else row

    assert_fails(check_find_product, a_key_per_guess, topic="bound", match="guessed ids")


def test_junk_ids_that_raise_are_caught():
    def trusts_its_input(shop, cache, product_id):
        row = cache.get(keys.product(product_id))  # raises TypeError on "42", None, 4.2...
        if row is None:
            try:
                row = shop.product(product_id)
            except LookupError:
                row = solutions.NOT_FOUND
            cache.set(keys.product(product_id), row, 60)
        return None if row == solutions.NOT_FOUND else row

    assert_fails(check_find_product, trusts_its_input, topic="junk", match="junk ids")


# --------------------------------------------------------------------------- 09.3: designs


def design(
    *,
    invalidate_prices: bool = True,
    invalidate_notifications: bool = True,
    find=None,
    normalize=None,
):
    """The reference design with one of its choices undone."""

    class Design(solutions.CapstonePages):
        def page(self, user_id, product_id, days, limit):
            days, limit = (normalize or solutions.normalize_trending)(days, limit)
            trending = self.trending.get_or_load(
                keys.trending(days, limit), lambda: self.shop.trending(days, limit)
            )
            notifications = None
            if user_id is not None:
                notifications = self.cache.get_or_load(
                    keys.notifications(user_id), lambda: self.shop.notifications(user_id), 600
                )
            product = (find or solutions.find_product)(self.shop, self.cache, product_id)
            return {"trending": trending, "product": product, "notifications": notifications}

        def set_price(self, product_id, price_cents):
            self.shop.set_price(product_id, price_cents)
            if invalidate_prices:
                self.cache.delete(keys.product(product_id))

        def notify(self, user_id, message):
            self.shop.notify(user_id, message)
            if invalidate_notifications:
                self.cache.delete(keys.notifications(user_id))

    return Design


def test_the_reference_design_meets_every_budget():
    verdict = check_capstone(solutions.CapstonePages)
    assert verdict.startswith("every budget met")


def test_a_cache_that_never_invalidates_prices_misses_the_price_budget():
    assert_fails(
        check_capstone,
        design(invalidate_prices=False),
        topic="price",
        match=r"^price: stale fraction .* over the budget of 1\.00%",
    )


def test_no_negative_caching_misses_the_database_load_budget_because_of_bots():
    def no_negative(shop, cache, product_id):
        if not solutions._whole(product_id) or product_id < 1:
            return None
        if product_id > cache.get_or_load("products:max-id", shop.max_product_id, 300):
            return None
        try:
            return cache.get_or_load(
                keys.product(product_id), lambda: shop.product(product_id), 600
            )
        except LookupError:
            return None

    assert_fails(
        check_capstone,
        design(find=no_negative),
        topic="db-not-found",
        match="database load .* over the budget .* products that do not exist",
    )


def test_unbounded_trending_parameters_miss_the_database_load_budget_naming_trending():
    def as_asked(days, limit):
        if solutions._whole(days) and solutions._whole(limit):
            if 1 <= days <= 3_650 and 1 <= limit <= 1_000:
                return days, limit
        return 7, 10

    assert_fails(
        check_capstone,
        design(normalize=as_asked),
        topic="db-trending",
        match="database load .* the trending list cause most",
    )


def test_notifications_cached_without_invalidation_miss_the_notifications_budget():
    assert_fails(
        check_capstone,
        design(invalidate_notifications=False),
        topic="notifications",
        match="^notifications: stale fraction .* over the budget",
    )


def test_negative_caching_without_a_bounded_id_range_misses_the_cache_keys_budget():
    def a_key_per_guess(shop, cache, product_id):
        if not solutions._whole(product_id) or product_id < 1:
            return None
        row = cache.get(keys.product(product_id))
        if row is None:
            try:
                row = shop.product(product_id)
            except LookupError:
                row = solutions.NOT_FOUND
            cache.set(keys.product(product_id), row, 120)
        return None if row == solutions.NOT_FOUND else row

    assert_fails(
        check_capstone,
        design(find=a_key_per_guess),
        topic="keys",
        match="cache keys .* over the budget of 500 keys .* products that do not exist",
    )


def test_a_negative_cache_that_hides_existing_products_is_caught():
    def everything_missing(shop, cache, product_id):
        return None

    assert_fails(
        check_capstone,
        design(find=everything_missing),
        topic="not-found",
        match="product 1?[0-9]+ exists, but its page showed None",
    )


def test_a_page_that_raises_on_junk_is_caught():
    def trusting(shop, cache, product_id):
        return cache.get_or_load(keys.product(product_id), lambda: shop.product(product_id), 60)

    failure = failure_of(check_capstone, design(find=trusting))
    assert failure.topic == "not-found" and "raised" in str(failure)


def test_one_ttl_for_everything_misses_the_price_budget_first():
    assert_fails(check_capstone, OneTTLForEverything, topic="price", match="^price: stale")


def test_writes_that_skip_the_database_are_caught():
    class NoWrites(solutions.CapstonePages):
        def set_price(self, product_id, price_cents):
            self.cache.delete(keys.product(product_id))

    assert_fails(check_capstone, NoWrites, topic="shape", match="did not change the price")


@pytest.mark.parametrize("topic", sorted(_HINTS["09.3"]))
def test_every_capstone_hint_topic_has_two_levels(topic):
    assert len(_HINTS["09.3"][topic]) >= 2


def test_the_stubs_are_reported_as_not_attempted(capsys):
    class Stub:
        def __init__(self, env):
            raise NotImplementedError

    def stub(*args):
        raise NotImplementedError

    checks.run(check_normalize_trending, stub)
    checks.run(check_find_product, stub)
    checks.run(check_capstone, Stub)
    assert capsys.readouterr().out.count("⏳") == 3
