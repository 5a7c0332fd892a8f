"""Lesson 01's checks accept the reference solutions and reject plausible wrong answers, naming
the property.

Each wrong answer is a function named after its mistake, in a table with the hint topic and the
words the check's message must hold; the table's ids are those names.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from support import assert_fails, load_solutions, wrong_answers

from cachelab import checks
from cachelab.checks.the_app import _units_by_category, check_covering_index, check_top_categories
from cachelab.shop.data import DATA_END, DAY

solutions = load_solutions("01_the_app")


def _query(db_path, sql: str, params) -> list[dict]:
    db = sqlite_utils.Database(db_path)
    try:
        return list(db.query(sql, params))
    finally:
        db.close()


def _validated(days) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number >= 1, got {days!r}")


# --- exercise 1: top_categories ---------------------------------------------------------------


def test_top_categories_reference_passes(capsys):
    checks.run(check_top_categories, solutions.top_categories)
    assert "✅" in capsys.readouterr().out


def test_top_categories_reference_matches_the_python_count(tiny_shop_path: Path):
    got = [
        (row["category"], row["units_sold"]) for row in solutions.top_categories(tiny_shop_path, 7)
    ]
    assert got == _units_by_category(tiny_shop_path, 7)


def test_a_stub_is_reported_as_not_attempted(capsys):
    def stub(db_path, days):
        raise NotImplementedError

    checks.run(check_top_categories, stub)
    assert "⏳" in capsys.readouterr().out


def counts_orders_instead_of_units(db_path, days):
    _validated(days)
    if not Path(db_path).is_file():
        raise FileNotFoundError(db_path)
    return _query(
        db_path,
        solutions.TOP_CATEGORIES_SQL.replace("SUM(orders.quantity)", "COUNT(*)"),
        {"since": DATA_END - days * DAY},
    )


def ignores_the_period(db_path, days):
    _validated(days)
    if not Path(db_path).is_file():
        raise FileNotFoundError(db_path)
    return _query(db_path, solutions.TOP_CATEGORIES_SQL, {"since": 0})


def smallest_first(db_path, days):
    return list(reversed(solutions.top_categories(db_path, days)))


def does_not_validate_days(db_path, days):
    if not Path(db_path).is_file():
        raise FileNotFoundError(db_path)
    return _query(db_path, solutions.TOP_CATEGORIES_SQL, {"since": DATA_END - days * DAY})


def creates_an_empty_database_for_a_missing_path(db_path, days):
    _validated(days)
    connection = sqlite3.connect(db_path)  # quietly creates the file if it is missing
    try:
        rows = connection.execute(
            "SELECT products.category, SUM(orders.quantity) FROM orders "
            "JOIN products ON products.id = orders.product_id WHERE orders.ordered_at >= ? "
            "GROUP BY products.category ORDER BY 2 DESC, 1",
            (DATA_END - days * DAY,),
        ).fetchall()
    finally:
        connection.close()
    return [{"category": category, "units_sold": units} for category, units in rows]


def returns_tuples(db_path, days):
    return [(row["category"], row["units_sold"]) for row in solutions.top_categories(db_path, days)]


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (counts_orders_instead_of_units, "sum", "SUM of quantity"),
        (ignores_the_period, "query", "units sold per category in the last 7 days"),
        (smallest_first, "order", "biggest seller first"),
        (does_not_validate_days, "validate", r"top_categories\(db_path, 0\) raises ValueError"),
        (
            creates_an_empty_database_for_a_missing_path,
            "missing",
            "missing database raises FileNotFoundError",
        ),
        (returns_tuples, "query", "is a dict with the keys"),
    ),
)
def test_top_categories_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_top_categories, answer, topic=topic, match=match)


# --- exercise 2: add_covering_index -----------------------------------------------------------


def test_covering_index_reference_passes(capsys):
    checks.run(check_covering_index, solutions.add_covering_index)
    assert "✅" in capsys.readouterr().out


def _index_on(columns: str, if_not_exists: bool = True):
    def add_index(db_path):
        connection = sqlite3.connect(db_path)
        try:
            guard = "IF NOT EXISTS " if if_not_exists else ""
            connection.execute(f"CREATE INDEX {guard}orders_test_index ON orders ({columns})")
        finally:
            connection.close()

    return add_index


def deletes_old_orders_to_speed_things_up(db_path):
    solutions.add_covering_index(db_path)
    connection = sqlite3.connect(db_path)
    try:
        with connection:
            connection.execute("DELETE FROM orders WHERE ordered_at < ?", (DATA_END - 400 * DAY,))
            connection.execute("DELETE FROM orders WHERE id = (SELECT MIN(id) FROM orders)")
    finally:
        connection.close()


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        pytest.param(
            _index_on("ordered_at, product_id"),
            "columns",
            "COVERING INDEX",
            id="an_index_on_time_alone_is_not_covering",
        ),
        pytest.param(
            _index_on("product_id, ordered_at, quantity"),
            "column-order",
            "SEARCHes the covering index",
            id="a_covering_index_that_must_be_scanned",
        ),
        pytest.param(
            _index_on("ordered_at, product_id, quantity", if_not_exists=False),
            "twice",
            "second time is safe",
            id="an_index_that_fails_on_a_second_run",
        ),
        (
            deletes_old_orders_to_speed_things_up,
            "columns",
            "no product or order was added or removed",
        ),
    ),
)
def test_covering_index_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_covering_index, answer, topic=topic, match=match)


def test_the_index_check_leaves_the_lessons_database_alone():
    from cachelab.shop.data import build_shop

    path = build_shop(size="tiny")
    before = _query(path, "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name", {})
    check_covering_index(solutions.add_covering_index)
    assert (
        _query(path, "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name", {})
        == before
    )
