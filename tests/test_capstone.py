"""The capstone's grader (lesson 09): a deterministic replay with modelled latency, on its own
copy of the shop, that measures each budget the same way for every design."""

from __future__ import annotations

import sqlite3

import pytest

from cachelab import keys
from cachelab.lab.capstone import (
    _DISCONTINUED,
    _NEW_ARRIVALS,
    COSTS_MS,
    OneTTLForEverything,
    _BudgetVerdict,
    _PageError,
    _Workload,
    grade,
    prepare_shop,
    workload_summary,
)

SHORT = _Workload(duration_s=40)


class NoCache:
    """Every page straight from the database (junk handled, nothing cached)."""

    def __init__(self, env):
        self.shop = env.shop

    def page(self, user_id, product_id, days, limit):
        try:
            product = self.shop.product(product_id)
        except (TypeError, ValueError, LookupError):
            product = None
        return {
            "trending": self.shop.trending(),
            "product": product,
            "notifications": None if user_id is None else self.shop.notifications(user_id),
        }

    def set_price(self, product_id, price_cents):
        self.shop.set_price(product_id, price_cents)

    def sell(self, product_id, quantity):
        self.shop.sell(product_id, quantity)

    def notify(self, user_id, message):
        self.shop.notify(user_id, message)


class TrendingInTheBackground(NoCache):
    """Shows the last trending list, and reloads it in a background job: not the page's cost."""

    def __init__(self, env):
        super().__init__(env)
        self.spawn = env.spawn
        self.latest = self.shop.trending()

    def reload(self):
        self.latest = self.shop.trending()

    def page(self, user_id, product_id, days, limit):
        try:
            product = self.shop.product(product_id)
        except (TypeError, ValueError, LookupError):
            product = None
        notifications = None if user_id is None else self.shop.notifications(user_id)
        self.spawn(self.reload)
        return {"trending": self.latest, "product": product, "notifications": notifications}


def test_the_grade_of_a_design_is_the_same_every_time():
    first, again = grade(OneTTLForEverything, SHORT), grade(OneTTLForEverything, SHORT)
    assert [(r.name, r.measured) for r in first.results] == [
        (r.name, r.measured) for r in again.results
    ]


def test_without_a_cache_nothing_is_stale_and_every_page_pays_for_the_trending_query():
    report = grade(NoCache, SHORT)
    for data in ("price", "stock", "trending", "notifications"):
        assert report.result(f"{data}: stale fraction").measured == 0
    assert report.result("p95 page latency").measured >= COSTS_MS["trending"]
    assert report.queries_by_kind["trending"] == report.pages
    assert report.result("cache keys (peak live)").measured == 0


def test_background_work_loads_the_database_but_costs_no_page_latency():
    foreground, background = grade(NoCache, SHORT), grade(TrendingInTheBackground, SHORT)
    assert background.queries_by_kind["trending"] == foreground.queries_by_kind["trending"] + 1
    assert background.result("p95 page latency").measured < COSTS_MS["trending"]


def test_a_page_with_the_wrong_shape_is_refused():
    class Wrong(NoCache):
        def page(self, user_id, product_id, days, limit):
            return {"product": None}

    with pytest.raises(_PageError, match="a page is a dict with the keys"):
        grade(Wrong, SHORT)


def test_a_page_that_shows_a_value_the_database_never_held_is_refused():
    class Invented(NoCache):
        def page(self, user_id, product_id, days, limit):
            page = super().page(user_id, product_id, days, limit)
            if page["product"] is not None:
                page["product"] = {**page["product"], "price_cents": 1}
            return page

    with pytest.raises(_PageError, match="never held"):
        grade(Invented, SHORT)


def test_the_capstone_shop_has_gaps_in_its_ids_and_leaves_the_shared_shop_alone():
    from cachelab.shop.data import build_shop

    shared = build_shop(size="tiny")
    before = shared.stat().st_mtime_ns
    path = prepare_shop(users=20)
    assert path != shared and shared.stat().st_mtime_ns == before
    with sqlite3.connect(path) as connection:
        ids = {row[0] for row in connection.execute("SELECT id FROM products")}
        users = connection.execute("SELECT COUNT(*) FROM users").fetchone()[0]
    assert ids == set(range(1, 101)) | set(_NEW_ARRIVALS)
    assert not ids & set(_DISCONTINUED) and users == 20


def test_the_workload_summary_counts_every_kind_of_request_and_write():
    rows = {row["what"]: row["count"] for row in workload_summary(SHORT).rows}
    assert rows["pages, signed in"] > rows["pages, anonymous"] > 0
    for kind in ("discontinued products", "guessed ids", "trending with odd parameters"):
        assert rows[f"bot pages: {kind}"] > 0
    assert rows["sales"] > rows["price changes"] > 0


def test_a_budget_says_whether_it_was_met_and_by_how_much():
    over = _BudgetVerdict("price: stale fraction", 0.032, 0.01, "%")
    under = _BudgetVerdict("database load", 3.0, 4.0, "queries/s")
    assert not over.met and over.describe().startswith(
        "price: stale fraction 3.20%, over the budget of 1.00% by 2.20 points"
    )
    assert under.met and "within the budget of 4 queries/s by 1 queries/s" in under.describe()


def test_the_report_table_marks_each_budget():
    report = grade(OneTTLForEverything, SHORT)
    table = report.table()
    assert len(table) == len(report.results)
    assert {row["met"] for row in table.rows} == {"✅", "❌"}
    assert keys.trending() == "trending:days=7:limit=10"  # the key the grader's truth follows


def test_grade_refuses_what_is_not_a_design_or_a_workload():
    with pytest.raises(TypeError, match="make_pages must be a class or function"):
        grade("MyPages")
    with pytest.raises(TypeError, match="workload must be a capstone._Workload"):
        grade(NoCache, {"duration_s": 10})
