"""The Shop: the trending aggregate, product lookups, writes, and the query counter."""

import sqlite3

import pytest

from cachelab.shop.app import Shop
from cachelab.shop.data import DATA_END, DAY


def count_orders(path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM orders").fetchone()[0]


def independent_trending(path, since: int, limit: int) -> list[tuple[int, int]]:
    """The trending list worked out in plain Python over plain sqlite3 rows: (id, units_sold)."""
    units: dict[int, int] = {}
    with sqlite3.connect(path) as connection:
        for product_id, quantity in connection.execute(
            "SELECT product_id, quantity FROM orders WHERE ordered_at >= ?", (since,)
        ):
            units[product_id] = units.get(product_id, 0) + quantity
    ranked = sorted(units.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:limit]


# --- opening a shop -------------------------------------------------------------------------------


def test_a_missing_database_is_a_file_not_found_error_naming_the_path(tmp_path):
    missing = tmp_path / "no-such-shop.db"
    with pytest.raises(FileNotFoundError, match="no-such-shop.db") as error:
        Shop(missing)
    assert str(missing) in str(error.value) and "build_shop" in str(error.value)


def test_a_file_that_is_not_a_shop_database_is_a_value_error(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the tables you are looking for" * 100)
    with pytest.raises(ValueError, match="not a complete shop database"):
        Shop(path)


def test_a_new_shop_has_run_no_queries(shop):
    assert shop.queries == 0


def test_the_default_clock_starts_at_the_end_of_the_data(shop):
    assert DATA_END <= shop.now() < DATA_END + 60


def test_an_injected_clock_sets_the_shops_time(clocked_shop):
    clocked_shop.clock.advance(90.7)
    assert clocked_shop.now() == DATA_END + 90


# --- trending -------------------------------------------------------------------------------------


def test_trending_returns_limit_rows(clocked_shop):
    assert len(clocked_shop.trending(limit=10)) == 10
    assert len(clocked_shop.trending(limit=3)) == 3


def test_trending_rows_have_the_product_fields_and_units_sold(clocked_shop):
    row = clocked_shop.trending(limit=1)[0]
    assert set(row) == {"id", "name", "category", "price_cents", "stock", "units_sold"}


def test_trending_is_sorted_by_units_sold_then_id(clocked_shop):
    rows = clocked_shop.trending(days=90, limit=100)
    order = [(-row["units_sold"], row["id"]) for row in rows]
    assert order == sorted(order)
    assert len({row["units_sold"] for row in rows}) < len(rows), (
        "the tiny shop should have ties to order"
    )


@pytest.mark.parametrize("days, limit", [(7, 10), (1, 5), (30, 50), (90, 100)])
def test_trending_matches_an_independent_computation(clocked_shop, days, limit):
    expected = independent_trending(clocked_shop.path, DATA_END - days * DAY, limit)
    got = [(row["id"], row["units_sold"]) for row in clocked_shop.trending(days=days, limit=limit)]
    assert got == expected


def test_trending_counts_one_query(clocked_shop):
    clocked_shop.trending()
    clocked_shop.trending()
    assert clocked_shop.queries == 2


def test_trending_sees_a_new_sale(clocked_shop):
    last = [row for row in clocked_shop.trending(days=1, limit=100) if row["stock"] >= 1][-1]
    clocked_shop.sell(last["id"], quantity=1)
    after = {row["id"]: row["units_sold"] for row in clocked_shop.trending(days=1, limit=100)}
    assert after[last["id"]] == last["units_sold"] + 1


@pytest.mark.parametrize(
    "name, value, error",
    [
        ("days", 0, ValueError),
        ("days", -7, ValueError),
        ("limit", 0, ValueError),
        ("days", 3_651, ValueError),
        ("limit", 1_001, ValueError),
        ("days", 2**63, ValueError),
        ("limit", 2.5, TypeError),
        ("days", True, TypeError),
        ("days", "7", TypeError),
    ],
)
def test_trending_rejects_a_period_or_limit_that_is_not_a_whole_number_in_range(
    clocked_shop, name, value, error
):
    with pytest.raises(error, match=f"{name} must be a whole number"):
        clocked_shop.trending(**{name: value})
    assert clocked_shop.queries == 0, "refused before any SQL ran"


def test_explain_shows_the_plan_of_the_trending_query_without_counting_it(clocked_shop):
    plan = clocked_shop.explain()
    assert plan and all(isinstance(line, str) for line in plan)
    assert any("orders" in line for line in plan)
    assert clocked_shop.queries == 0


# --- product --------------------------------------------------------------------------------------


def test_product_returns_one_products_fields(clocked_shop):
    product = clocked_shop.product(1)
    assert product["id"] == 1
    assert set(product) == {"id", "name", "category", "price_cents", "stock", "updated_at"}
    assert clocked_shop.queries == 1


@pytest.mark.parametrize("product_id", [101, 999_999, 2**63 - 1])
def test_an_unknown_product_is_a_lookup_error_naming_the_id(clocked_shop, product_id):
    with pytest.raises(LookupError, match=f"no product with id {product_id}"):
        clocked_shop.product(product_id)


@pytest.mark.parametrize(
    "product_id, error",
    [
        (0, ValueError),
        (-1, ValueError),
        (2**63, ValueError),
        (True, TypeError),
        (1.0, TypeError),
        (1.9, TypeError),
        ("1", TypeError),
        (" 1 ", TypeError),
        (None, TypeError),
    ],
)
def test_an_id_that_is_not_a_whole_number_from_one_is_refused_everywhere(
    clocked_shop, product_id, error
):
    """``product(True)`` and ``product("1")`` used to answer product 1; ``set_price(True, …)`` wrote
    it.
    """
    before = clocked_shop.product(1)
    for call in (
        lambda: clocked_shop.product(product_id),
        lambda: clocked_shop.set_price(product_id, 1_234),
        lambda: clocked_shop.sell(product_id, 1),
    ):
        with pytest.raises(error, match="product_id must be a whole number >= 1"):
            call()
    assert clocked_shop.product(1) == before


# --- set_price ------------------------------------------------------------------------------------


def test_set_price_changes_the_price_and_updated_at(clocked_shop):
    clocked_shop.clock.advance(3600)
    updated = clocked_shop.set_price(5, 12_345)
    assert updated["price_cents"] == 12_345
    assert updated["updated_at"] == DATA_END + 3600
    assert clocked_shop.product(5) == updated


def test_set_price_counts_its_queries(clocked_shop):
    clocked_shop.set_price(5, 100)
    assert clocked_shop.queries == 2  # the UPDATE, then reading the product back


def test_set_price_on_an_unknown_product_is_a_lookup_error(clocked_shop):
    with pytest.raises(LookupError, match="no product with id 9999"):
        clocked_shop.set_price(9999, 100)


@pytest.mark.parametrize(
    "price, error",
    [
        (-1, ValueError),
        (100_000_001, ValueError),
        (2**63, ValueError),
        (9.99, TypeError),
        ("999", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_a_bad_price_is_refused_and_changes_nothing(clocked_shop, price, error):
    before = clocked_shop.product(5)
    with pytest.raises(error, match="price_cents must be a whole number"):
        clocked_shop.set_price(5, price)
    assert clocked_shop.product(5) == before


# --- sell -----------------------------------------------------------------------------------------


def test_sell_lowers_the_stock_and_records_an_order(clocked_shop):
    before = clocked_shop.product(3)
    orders_before = count_orders(clocked_shop.path)
    clocked_shop.clock.advance(10)
    after = clocked_shop.sell(3, quantity=2)
    assert after["stock"] == before["stock"] - 2
    assert after["updated_at"] == DATA_END + 10
    assert count_orders(clocked_shop.path) == orders_before + 1
    with sqlite3.connect(clocked_shop.path) as connection:
        last = connection.execute(
            "SELECT product_id, quantity, ordered_at FROM orders ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert last == (3, 2, DATA_END + 10)


def test_sell_counts_its_queries(clocked_shop):
    clocked_shop.sell(3)
    assert clocked_shop.queries == 3  # UPDATE stock, INSERT order, read the product back


def test_selling_the_whole_stock_leaves_zero(clocked_shop):
    stock = clocked_shop.product(3)["stock"]
    assert stock > 0, (
        "the seeded tiny shop has product 3 in stock; pick another product if the data changes"
    )
    assert clocked_shop.sell(3, quantity=stock)["stock"] == 0


def test_selling_more_than_the_stock_is_a_value_error_and_changes_nothing(clocked_shop):
    before = clocked_shop.product(3)
    orders_before = count_orders(clocked_shop.path)
    with pytest.raises(ValueError, match=f"only {before['stock']} in stock"):
        clocked_shop.sell(3, quantity=before["stock"] + 1)
    assert clocked_shop.product(3) == before
    assert count_orders(clocked_shop.path) == orders_before


def test_selling_an_unknown_product_is_a_lookup_error_and_changes_nothing(clocked_shop):
    orders_before = count_orders(clocked_shop.path)
    with pytest.raises(LookupError, match="no product with id 4242"):
        clocked_shop.sell(4242)
    assert count_orders(clocked_shop.path) == orders_before


@pytest.mark.parametrize(
    "quantity, error",
    [
        (0, ValueError),
        (-1, ValueError),
        (10_001, ValueError),
        (2**63, ValueError),
        (1.5, TypeError),
        (True, TypeError),
    ],
)
def test_a_bad_quantity_is_refused_and_changes_nothing(clocked_shop, quantity, error):
    before = clocked_shop.product(3)
    with pytest.raises(error, match="quantity must be a whole number"):
        clocked_shop.sell(3, quantity=quantity)
    assert clocked_shop.product(3) == before


def test_writes_on_a_copy_leave_the_shared_tiny_shop_alone(shop, tiny_shop_path):
    shop.set_price(1, 1)
    assert Shop(tiny_shop_path).product(1)["price_cents"] != 1
