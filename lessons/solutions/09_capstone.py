"""Reference solutions for lesson 09 · Capstone (for instructors; learners: try first!).

One answer per exercise; ``tests/test_checks_capstone.py`` runs each through its check,
and runs ``CapstonePages`` through the whole workload.
"""

from __future__ import annotations

from cachelab import keys
from cachelab.stampedes import StaleWhileRevalidate

ALLOWED_DAYS = (1, 7, 30)
ALLOWED_LIMITS = (10, 20, 50)
NOT_FOUND = {"not_found": True}
"""What the cache holds for a product that does not exist (JSON, so it works on Redis too)."""
PRODUCT_TTL = 600
NOT_FOUND_TTL = 120
MAX_ID_TTL = 300
NOTIFICATIONS_TTL = 600
TRENDING_FRESH_S, TRENDING_STALE_S = 15, 45


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def normalize_trending(days, limit):
    """Exercise 1: the trending list to show for a request's ``days`` and ``limit``.

    The parameters come from the query string, so anything may arrive. Each is
    rounded up to the next allowed value (capped at the largest), and anything that
    is not a whole number >= 1 becomes the default: at most nine lists, ever.
    """
    if not (_whole(days) and days >= 1 and _whole(limit) and limit >= 1):
        return 7, 10
    days = next((d for d in ALLOWED_DAYS if d >= days), ALLOWED_DAYS[-1])
    limit = next((n for n in ALLOWED_LIMITS if n >= limit), ALLOWED_LIMITS[-1])
    return days, limit


def find_product(shop, cache, product_id):
    """Exercise 2: the product's row, or None if it does not exist -- with negative caching.

    Junk and ids above the highest one the shop has are "not found" without a query
    (the highest id is cached); a missing id inside the range is cached as NOT_FOUND for
    a while, so a bot that asks again does not reach the database.
    """
    if not _whole(product_id) or product_id < 1:
        return None
    highest = cache.get_or_load("products:max-id", shop.max_product_id, MAX_ID_TTL)
    if product_id > highest:
        return None
    key = keys.product(product_id)
    row = cache.get(key)
    if row is None:
        try:
            row = shop.product(product_id)
        except LookupError:
            row = NOT_FOUND
        cache.set(key, row, NOT_FOUND_TTL if row == NOT_FOUND else PRODUCT_TTL)
    return None if row == NOT_FOUND else row


class CapstonePages:
    """Exercise 3: the page, within every budget.

    - product (price and stock): cache-aside, deleted on every price change and sale
      (delete-on-write); a long TTL as a backstop; negative caching and a bounded id range;
    - trending: stale-while-revalidate, fresh for 15 s, served stale up to 45 s while
      one refresh runs in the background; its parameters bounded to nine lists;
    - notifications: cache-aside per user, deleted when the user is notified.
    """

    def __init__(self, env):
        self.shop, self.cache = env.shop, env.cache
        self.trending = StaleWhileRevalidate(
            env.cache, TRENDING_FRESH_S, TRENDING_STALE_S, clock=env.clock, spawn=env.spawn
        )

    def page(self, user_id, product_id, days, limit):
        days, limit = normalize_trending(days, limit)
        trending = self.trending.get_or_load(
            keys.trending(days, limit), lambda: self.shop.trending(days, limit)
        )
        notifications = None
        if user_id is not None:
            notifications = self.cache.get_or_load(
                keys.notifications(user_id),
                lambda: self.shop.notifications(user_id),
                NOTIFICATIONS_TTL,
            )
        return {
            "trending": trending,
            "product": find_product(self.shop, self.cache, product_id),
            "notifications": notifications,
        }

    def set_price(self, product_id, price_cents):
        self.shop.set_price(product_id, price_cents)  # the database first, then the cache
        self.cache.delete(keys.product(product_id))

    def sell(self, product_id, quantity):
        self.shop.sell(product_id, quantity)
        self.cache.delete(keys.product(product_id))

    def notify(self, user_id, message):
        self.shop.notify(user_id, message)
        self.cache.delete(keys.notifications(user_id))
