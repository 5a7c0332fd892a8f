"""Checks for lesson 01's exercises: SQL against the shop, and an index that changes its query plan.

- ``check_top_categories``   01.1: units sold per category, with parameterized SQL;
- ``check_covering_index``   01.2: an index that turns the trending query's plan into a covering
one.

Both checks work on ``scratch_shop("tiny")``, a throw-away copy of the tiny shop
(100 products, 10,000 orders), so they are quick and can never change the
lessons' database. They compare what your code returns with an answer computed
independently -- in plain Python, not SQL -- and they time nothing: a check must
give the same verdict on a fast laptop and a busy CI machine.

To see whether your SQL is parameterized, ``check_top_categories`` records every
statement your function sends to SQLite (it opens connections through a recording
subclass of ``sqlite3.Connection`` while your code runs) and looks for the values
pasted into the SQL text.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator

from cachelab.checks import _call, _CheckFailed, _expect, _raised
from cachelab.shop.app import Shop
from cachelab.shop.data import DATA_END, DAY, _connect_read_only, scratch_shop

__all__ = ["check_covering_index", "check_top_categories"]

_BAD_DAYS = [0, -7, 2.5, "7", True, None]
"""Values of ``days`` that must be refused: not a whole number >= 1 (``ValueError``, or
``TypeError`` for a value that is not a whole number at all)."""

_PROBE_DAYS = 17
"""The period of the parameter probe: a number that appears nowhere else in the SQL."""


class _RecordingCursor(sqlite3.Cursor):
    statements: list[tuple[str, Any]] = []

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.statements.append((sql, parameters))
        return super().execute(sql, parameters)


class _RecordingConnection(sqlite3.Connection):
    """A real SQLite connection that notes every statement (and its parameters) it runs."""

    statements: list[tuple[str, Any]] = []

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.statements.append((sql, parameters))
        return super().execute(sql, parameters)

    def cursor(self, factory: Any = _RecordingCursor) -> sqlite3.Cursor:
        return super().cursor(factory)


@contextlib.contextmanager
def _recording_sql() -> Iterator[list[tuple[str, Any]]]:
    """While the block runs, every ``sqlite3.connect`` opens a recording connection; yields the
    statements.
    """
    statements: list[tuple[str, Any]] = []
    original = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.setdefault("factory", _RecordingConnection)
        return original(*args, **kwargs)

    _RecordingConnection.statements = _RecordingCursor.statements = statements
    sqlite3.connect = connect
    try:
        yield statements
    finally:
        sqlite3.connect = original
        _RecordingConnection.statements = _RecordingCursor.statements = []


def _units_by_category(path: Path, days: int) -> list[tuple[str, int]]:
    """The reference answer, computed row by row in Python: (category, units) biggest first, ties by
    name.
    """
    connection = _connect_read_only(path)
    try:
        category_of = dict(connection.execute("SELECT id, category FROM products"))
        units: Counter[str] = Counter()
        since = DATA_END - days * DAY
        for product_id, quantity, ordered_at in connection.execute(
            "SELECT product_id, quantity, ordered_at FROM orders"
        ):
            if ordered_at >= since:
                units[category_of[product_id]] += quantity
    finally:
        connection.close()
    return sorted(units.items(), key=lambda item: (-item[1], item[0]))


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _as_pairs(rows: Any, call_text: str) -> list[tuple[Any, Any]]:
    """``rows`` as (category, units_sold) pairs, or a ❌ saying what shape was expected."""
    _expect(
        isinstance(rows, (list, tuple)),
        f"{call_text} returns a list of dicts",
        type(rows).__name__,
        topic="query",
    )
    pairs = []
    for row in rows:
        _expect(
            hasattr(row, "keys") and {"category", "units_sold"} <= set(row.keys()),
            f"each row of {call_text} is a dict with the keys 'category' and 'units_sold'",
            row,
            topic="query",
        )
        pairs.append((row["category"], row["units_sold"]))
    return pairs


def check_top_categories(top_categories: Callable[[Any, int], list]) -> str:
    """Exercise 01.1, ``top_categories(db_path, days)``: units sold per category over the last
    ``days`` days.

    Properties: the rows match an independent computation for several periods,
    biggest first; the period travels as a parameter, not pasted into the SQL; a bad
    ``days`` is refused; a missing database raises ``FileNotFoundError`` and creates
    no file; the database is not changed.
    """
    path = scratch_shop("tiny")
    digest = _file_digest(path)
    for days in (7, 1, 30, 365):
        call_text = f"top_categories(db_path, {days})"
        prop = f"{call_text} returns a list of dicts with 'category' and 'units_sold'"
        got = _as_pairs(_call(top_categories, path, days, property_=prop, topic="query"), call_text)
        expected = _units_by_category(path, days)
        if got != expected and sorted(got, key=repr) == sorted(expected, key=repr):
            raise _CheckFailed(
                f"{call_text} puts the biggest seller first (ties by category name) "
                f"(got {got[:3]!r}…)",
                "order",
            )
        if got and expected and {c for c, _ in got} == {c for c, _ in expected}:
            counted_orders = dict(_order_counts(path, days))
            if dict(got) == counted_orders:
                raise _CheckFailed(
                    f"{call_text} adds up units (SUM of quantity), not orders (COUNT) "
                    f"(got {got[:2]!r}…)",
                    "sum",
                )
        _expect(
            got == expected,
            f"{call_text} returns the units sold per category in the last {days} days "
            f"(orders with ordered_at >= DATA_END - {days} * DAY)",
            got[:3],
            topic="query",
        )

    with _recording_sql() as statements:
        _call(
            top_categories,
            path,
            _PROBE_DAYS,
            property_=f"top_categories(db_path, {_PROBE_DAYS}) runs",
            topic="query",
        )
    pasted = _pasted_values(statements, _PROBE_DAYS)
    _expect(
        not pasted,
        f"the period travels as a parameter (:since or ?), never pasted into the SQL text: "
        f"for days={_PROBE_DAYS} your SQL contains {pasted}",
        topic="parameters",
    )

    for bad in _BAD_DAYS:
        try:
            top_categories(path, bad)
        except (ValueError, TypeError):
            continue
        except NotImplementedError:
            raise
        except Exception as error:  # the wrong kind of error is what we report
            raise _CheckFailed(
                f"top_categories(db_path, {bad!r}) raises ValueError (got {_raised(error)})",
                "validate",
            ) from None
        raise _CheckFailed(
            f"top_categories(db_path, {bad!r}) raises ValueError: days must be a whole number >= 1 "
            f"(it returned rows instead)",
            "validate",
        )
    with tempfile.TemporaryDirectory(prefix="cachelab-check-") as folder:
        missing = Path(folder) / "no-such-shop.db"
        try:
            top_categories(missing, 7)
        except FileNotFoundError:
            pass
        except NotImplementedError:
            raise
        except Exception as error:
            raise _CheckFailed(
                f"a missing database raises FileNotFoundError (got {_raised(error)})",
                "missing",
            ) from None
        else:
            raise _CheckFailed(
                "a missing database raises FileNotFoundError (it returned rows instead)", "missing"
            )
        _expect(
            not missing.exists(),
            "a missing database is reported, not created as a new empty file",
            missing.name,
            topic="missing",
        )
    _expect(
        _file_digest(path) == digest,
        "top_categories only reads: the database is unchanged afterwards",
        topic="query",
    )
    return (
        "matches an independent count for 1, 7, 30 and 365 days, with the period as a parameter; "
        "bad days and a missing file are refused"
    )


def _pasted_values(statements: list[tuple[str, Any]], days: int) -> list[str]:
    """The values of a ``days`` call that appear in the text of the SQL that read orders."""
    since = DATA_END - days * DAY
    pasted = set()
    for sql, _ in statements:
        if "orders" not in sql.lower():
            continue
        for value in (since, days):
            if re.search(rf"(?<![\d.]){value}(?![\d.])", sql):
                pasted.add(repr(value))
    return sorted(pasted)


def _order_counts(path: Path, days: int) -> list[tuple[str, int]]:
    """What a query with COUNT(*) instead of SUM(quantity) would give -- to name that mistake."""
    connection = _connect_read_only(path)
    try:
        return connection.execute(
            "SELECT products.category, COUNT(*) FROM orders JOIN products ON products.id = "
            "orders.product_id WHERE orders.ordered_at >= ? GROUP BY products.category",
            (DATA_END - days * DAY,),
        ).fetchall()
    finally:
        connection.close()


def _counts(path: Path) -> tuple[int, int]:
    connection = _connect_read_only(path)
    try:
        return (
            connection.execute("SELECT COUNT(*) FROM products").fetchone()[0],
            connection.execute("SELECT COUNT(*) FROM orders").fetchone()[0],
        )
    finally:
        connection.close()


def _trending_answers(path: Path) -> list[list[dict]]:
    shop = Shop(path)
    try:
        return [shop.trending(), shop.trending(days=30, limit=5), shop.trending(days=1, limit=20)]
    finally:
        shop.close()


def _plan(path: Path) -> list[str]:
    shop = Shop(path)
    try:
        return shop.explain()
    finally:
        shop.close()


def check_covering_index(add_covering_index: Callable[[Any], Any]) -> str:
    """Exercise 01.2, ``add_covering_index(db_path)``: the trending query then reads orders from the
    index alone.

    Properties: afterwards the plan says ``SEARCH orders USING COVERING INDEX``
    (so SQLite jumps to the recent orders and never touches the table); the
    trending query returns exactly the same rows; no product or order changed;
    running it a second time is safe. Nothing here is timed.
    """
    path = scratch_shop("tiny")
    before = _trending_answers(path)
    counts = _counts(path)
    _call(add_covering_index, path, property_="add_covering_index(db_path) runs", topic="columns")
    plan = _plan(path)
    orders_steps = [step for step in plan if " orders " in f" {step} "]
    _expect(
        any("COVERING INDEX" in step for step in orders_steps),
        "the trending query's plan reads orders from a COVERING INDEX (every column it needs is in "
        "the index)",
        orders_steps,
        topic="columns",
    )
    _expect(
        any(step.startswith("SEARCH orders USING COVERING INDEX") for step in orders_steps),
        "the plan SEARCHes the covering index (jumps to the last days' orders) instead of SCANning "
        "all of it",
        orders_steps,
        topic="column-order",
    )
    _expect(
        _trending_answers(path) == before,
        "trending() returns exactly the same rows with the index",
        topic="columns",
    )
    _expect(
        _counts(path) == counts,
        "no product or order was added or removed",
        _counts(path),
        topic="columns",
    )
    _call(
        add_covering_index,
        path,
        property_="running add_covering_index a second time is safe",
        topic="twice",
    )
    covering = next(s for s in orders_steps if "COVERING" in s)
    return f"the plan now says {covering!r}, and trending() is unchanged"


_EXERCISES = {"01.1": check_top_categories, "01.2": check_covering_index}

_HINTS = {
    "01.1": {
        "query": (
            "Start from the subquery inside TRENDING_SQL: it adds up units since a time, per "
            "product. You want the same per category.",
            "The category is a column of products, and the units are in orders: join the two "
            "tables on the product's id, and keep only the orders since your :since parameter.",
            "Group the joined rows by category, and name the two columns you select exactly "
            "category and units_sold, so that each row comes back as the dict the check compares.",
        ),
        "order": (
            "The rows are right but in the wrong order: biggest seller first, and ties broken by "
            "name.",
            "Sort in the SQL with ORDER BY, on two columns: the units first, descending, then the "
            "category name for the ties.",
        ),
        "sum": (
            "Units are the quantity of each order, not the number of orders.",
            "COUNT(*) counts orders; the aggregate that adds up a column is SUM, applied to the "
            "orders' quantity.",
        ),
        "parameters": (
            "A value computed in Python must reach SQLite beside the SQL, as a parameter, never "
            "inside the SQL text: an f-string or + builds the query out of data.",
            "Put a named placeholder such as :since in the SQL text, and give query() (or "
            "execute()) a dict that maps since to the time you computed.",
            "Compute the time from DATA_END, DAY and days in Python first; the SQL string itself "
            "should be the same for every days.",
        ),
        "validate": (
            "Check days before you open the database: it must be a whole number >= 1.",
            "isinstance tells you whether days is an int, but a bool is an int in Python too: "
            'True must be refused as well as 2.5 and "7".',
            "Put the check at the very top of the function and raise ValueError (or TypeError for "
            "a non-number) with a message that shows the days you were given.",
        ),
        "missing": (
            "SQLite quietly creates an empty database when asked to open a file that does not "
            "exist.",
            "pathlib's Path(db_path).is_file() says whether the file is there without creating "
            "anything.",
            "Ask before sqlite_utils ever opens the path, and raise FileNotFoundError when the "
            "file is not there: afterwards it is too late, the empty file exists.",
        ),
    },
    "01.2": {
        "columns": (
            "List what the trending query reads from orders: the column in its WHERE, the one it "
            "groups by, and the one it adds up. A covering index holds all of them.",
            "sqlite_utils.Database(db_path)['orders'].create_index([...]) adds an index over the "
            "columns you list.",
            "Three columns of orders, no more and no fewer: the time of the order, the product, "
            "and the quantity.",
        ),
        "column-order": (
            "The index covers the query, but SQLite has to read all of it: the order of its "
            "columns matters.",
            "An index can only be searched by its first column. Which column does the WHERE of "
            "the trending query narrow down?",
            "Put the column the query filters on first, so that SQLite can SEARCH for the recent "
            "orders; the other two follow it.",
        ),
        "twice": (
            "The second run fails because the index is already there.",
            "create_index has an if_not_exists argument, and SQL has CREATE INDEX IF NOT EXISTS: "
            "either makes a second run do nothing.",
        ),
    },
}
