"""Lesson 09's checks: the reference solutions pass, and wrong designs fail with a message that
names the kind of data and the budget they miss (and the hints for that cause).

Each wrong answer is in a table with the hint topic and the words the check's message must hold;
a table's ids name the mistakes (a function's or a class's name, or the id of a ``design`` with
one of the reference's choices undone).
"""

from __future__ import annotations

import pytest
from support import assert_fails, load_solutions, wrong_answers

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


def rounds_down(days, limit):
    if not (solutions._whole(days) and days >= 1 and solutions._whole(limit) and limit >= 1):
        return 7, 10
    days = max((d for d in (1, 7, 30) if d <= days), default=1)
    limit = max((n for n in (10, 20, 50) if n <= limit), default=10)
    return days, limit


def no_cap(days, limit):
    if not (solutions._whole(days) and days >= 1 and solutions._whole(limit) and limit >= 1):
        return 7, 10
    return next(d for d in (1, 7, 30) if d >= days), next(n for n in (10, 20, 50) if n >= limit)


def takes_a_bool_for_a_number(days, limit):
    if isinstance(days, int) and isinstance(limit, int) and days >= 1 and limit >= 1:
        return solutions.normalize_trending(int(days), int(limit))
    return 7, 10


def raises_on_junk(days, limit):
    return solutions.normalize_trending(int(days), int(limit))


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (rounds_down, "round", "round UP"),
        (no_cap, "cap", "capped"),
        (takes_a_bool_for_a_number, "junk", "default"),
        (raises_on_junk, "junk", "default"),
    ),
)
def test_normalize_trending_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_normalize_trending, answer, topic=topic, match=match)


# --------------------------------------------------------------------------- 09.2


def test_find_product_check_passes_the_reference():
    assert "cached for a while" in check_find_product(solutions.find_product)


def no_negative_caching(shop, cache, product_id):
    if not solutions._whole(product_id) or product_id < 1:
        return None
    try:
        return cache.get_or_load(keys.product(product_id), lambda: shop.product(product_id), 600)
    except LookupError:
        return None


def _caching_not_found_too(shop, cache, product_id, ttl):
    """A read-through that caches a "not found" as well, for ``ttl`` seconds (None: for ever):
    the negative caching the answers below share, each with another mistake around it.
    """
    row = cache.get(keys.product(product_id))  # raises TypeError on "42", None, 4.2...
    if row is None:
        try:
            row = shop.product(product_id)
        except LookupError:
            row = solutions.NOT_FOUND
        cache.set(keys.product(product_id), row, ttl)
    return None if row == solutions.NOT_FOUND else row


def caches_a_not_found_for_ever(shop, cache, product_id):
    if not solutions._whole(product_id) or product_id < 1:
        return None
    if product_id > cache.get_or_load("products:max-id", shop.max_product_id, 300):
        return None
    return _caching_not_found_too(shop, cache, product_id, None)  # never expires


def negative_caching_every_guessed_id(shop, cache, product_id):
    if not solutions._whole(product_id) or product_id < 1:
        return None
    return _caching_not_found_too(shop, cache, product_id, 60)


def raises_on_junk_ids(shop, cache, product_id):
    return _caching_not_found_too(shop, cache, product_id, 60)


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (no_negative_caching, "negative", "negative caching"),
        (caches_a_not_found_for_ever, "ttl", "bounded time"),
        (negative_caching_every_guessed_id, "bound", "guessed ids"),
        (raises_on_junk_ids, "junk", "junk ids"),
    ),
)
def test_find_product_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_find_product, answer, topic=topic, match=match)


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


def no_negative_caching_below_the_largest_id(shop, cache, product_id):
    if not solutions._whole(product_id) or product_id < 1:
        return None
    if product_id > cache.get_or_load("products:max-id", shop.max_product_id, 300):
        return None
    return no_negative_caching(shop, cache, product_id)


def trending_parameters_as_asked(days, limit):
    if solutions._whole(days) and solutions._whole(limit):
        if 1 <= days <= 3_650 and 1 <= limit <= 1_000:
            return days, limit
    return 7, 10


def negative_caching_every_guessed_id_for_two_minutes(shop, cache, product_id):
    if not solutions._whole(product_id) or product_id < 1:
        return None
    return _caching_not_found_too(shop, cache, product_id, 120)


def everything_missing(shop, cache, product_id):
    return None


def trusting(shop, cache, product_id):
    return cache.get_or_load(keys.product(product_id), lambda: shop.product(product_id), 60)


class WritesThatSkipTheDatabase(solutions.CapstonePages):
    def set_price(self, product_id, price_cents):
        self.cache.delete(keys.product(product_id))


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        pytest.param(
            design(invalidate_prices=False),
            "price",
            r"^price: stale fraction .* over the budget of 1\.00%",
            id="never_invalidates_prices",
        ),
        pytest.param(
            design(find=no_negative_caching_below_the_largest_id),
            "db-not-found",
            "database load .* over the budget .* products that do not exist",
            id="no_negative_caching_so_bots_load_the_database",
        ),
        pytest.param(
            design(normalize=trending_parameters_as_asked),
            "db-trending",
            "database load .* the trending list cause most",
            id="unbounded_trending_parameters",
        ),
        pytest.param(
            design(invalidate_notifications=False),
            "notifications",
            "^notifications: stale fraction .* over the budget",
            id="notifications_cached_without_invalidation",
        ),
        pytest.param(
            design(find=negative_caching_every_guessed_id_for_two_minutes),
            "keys",
            "cache keys .* over the budget of 500 keys .* products that do not exist",
            id="negative_caching_without_a_bounded_id_range",
        ),
        pytest.param(
            design(find=everything_missing),
            "not-found",
            "product 1?[0-9]+ exists, but its page showed None",
            id="a_negative_cache_that_hides_existing_products",
        ),
        pytest.param(design(find=trusting), "not-found", "raised", id="a_page_that_raises_on_junk"),
        (OneTTLForEverything, "price", "^price: stale"),
        (WritesThatSkipTheDatabase, "shape", "did not change the price"),
    ),
)
def test_capstone_check_rejects_a_wrong_design(answer, topic, match):
    assert_fails(check_capstone, answer, topic=topic, match=match)


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
