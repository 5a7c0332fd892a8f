"""Checks for lesson 01's exercises: SQL against the shop, and an index that changes its query plan.

Both checks work on ``scratch_shop("tiny")``, a throw-away copy of the tiny shop
(100 products, 10,000 orders), so they are quick and can never change the
lessons' database. They compare what your code returns with an answer computed
independently -- in plain Python, not SQL -- and they time nothing: a check must
give the same verdict on a fast laptop and a busy CI machine.
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from cachelab.app import Shop
from cachelab.checks import CheckFailed, expect
from cachelab.data import DATA_END, DAY, scratch_shop

BAD_DAYS = [0, -7, 2.5, "7", True, None]
"""Values of ``days`` that must be refused with ``ValueError``: not a whole number >= 1."""


def units_by_category(path: Path, days: int) -> list[tuple[str, int]]:
    """The reference answer, computed row by row in Python: (category, units) biggest first, ties by name."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        category_of = dict(connection.execute("SELECT id, category FROM products"))
        units: Counter[str] = Counter()
        since = DATA_END - days * DAY
        for product_id, quantity, ordered_at in connection.execute("SELECT product_id, quantity, ordered_at FROM orders"):
            if ordered_at >= since:
                units[category_of[product_id]] += quantity
    finally:
        connection.close()
    return sorted(units.items(), key=lambda item: (-item[1], item[0]))


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _as_pairs(rows: Any, call: str) -> list[tuple[Any, Any]]:
    """``rows`` as (category, units_sold) pairs, or CheckFailed saying what shape was expected."""
    expect(isinstance(rows, (list, tuple)), f"{call} returns a list of dicts", type(rows).__name__)
    pairs = []
    for row in rows:
        expect(hasattr(row, "keys") and {"category", "units_sold"} <= set(row.keys()),
               f"each row of {call} is a dict with the keys 'category' and 'units_sold'", row)
        pairs.append((row["category"], row["units_sold"]))
    return pairs


def check_top_categories(top_categories: Callable[[Any, int], list]) -> str:
    """``top_categories(db_path, days)``: units sold per category over the last ``days`` days, biggest first.

    Properties: the rows match an independent computation for several periods;
    a bad ``days`` raises ``ValueError``; a missing database raises
    ``FileNotFoundError`` and creates no file; the database is not changed.
    """
    path = scratch_shop("tiny")
    digest = _file_digest(path)
    for days in (7, 1, 30, 365):
        call = f"top_categories(db_path, {days})"
        got = _as_pairs(top_categories(path, days), call)
        expected = units_by_category(path, days)
        if got != expected and sorted(got, key=repr) == sorted(expected, key=repr):
            raise CheckFailed(f"{call} puts the biggest seller first (ties by category name) (got {got[:3]!r}…)")
        if got and expected and {c for c, _ in got} == {c for c, _ in expected}:
            counted_orders = dict(_order_counts(path, days))
            if dict(got) == counted_orders:
                raise CheckFailed(f"{call} adds up units (SUM of quantity), not orders (COUNT) (got {got[:2]!r}…)")
        expect(got == expected, f"{call} returns the units sold per category in the last {days} days "
                                f"(orders with ordered_at >= DATA_END - {days} * DAY)", got[:3])
    for bad in BAD_DAYS:
        try:
            top_categories(path, bad)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 -- the wrong kind of error is what we report
            raise CheckFailed(f"top_categories(db_path, {bad!r}) raises ValueError "
                              f"(got {type(error).__name__}: {error})") from None
        raise CheckFailed(f"top_categories(db_path, {bad!r}) raises ValueError: days must be a whole number >= 1 "
                          f"(it returned rows instead)")
    with tempfile.TemporaryDirectory(prefix="cachelab-check-") as folder:
        missing = Path(folder) / "no-such-shop.db"
        try:
            top_categories(missing, 7)
        except FileNotFoundError:
            pass
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001
            raise CheckFailed(f"a missing database raises FileNotFoundError "
                              f"(got {type(error).__name__}: {error})") from None
        else:
            raise CheckFailed("a missing database raises FileNotFoundError (it returned rows instead)")
        expect(not missing.exists(), "a missing database is reported, not created as a new empty file", missing.name)
    expect(_file_digest(path) == digest, "top_categories only reads: the database is unchanged afterwards")
    return "matches an independent count for 1, 7, 30 and 365 days; bad days and a missing file are refused"


def _order_counts(path: Path, days: int) -> list[tuple[str, int]]:
    """What a query with COUNT(*) instead of SUM(quantity) would give -- to name that mistake."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(
            "SELECT products.category, COUNT(*) FROM orders JOIN products ON products.id = orders.product_id "
            "WHERE orders.ordered_at >= ? GROUP BY products.category",
            (DATA_END - days * DAY,),
        ).fetchall()
    finally:
        connection.close()


def _counts(path: Path) -> tuple[int, int]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return (connection.execute("SELECT COUNT(*) FROM products").fetchone()[0],
                connection.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
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
    """``add_covering_index(db_path)``: an index that lets the trending query read orders from the index alone.

    Properties: afterwards the plan says ``SEARCH orders USING COVERING INDEX``
    (so SQLite jumps to the recent orders and never touches the table); the
    trending query returns exactly the same rows; no product or order changed;
    running it a second time is safe. Nothing here is timed.
    """
    path = scratch_shop("tiny")
    before = _trending_answers(path)
    counts = _counts(path)
    add_covering_index(path)
    plan = _plan(path)
    orders_steps = [step for step in plan if " orders " in f" {step} "]
    expect(any("COVERING INDEX" in step for step in orders_steps),
           "the trending query's plan reads orders from a COVERING INDEX (every column it needs is in the index)",
           orders_steps)
    expect(any(step.startswith("SEARCH orders USING COVERING INDEX") for step in orders_steps),
           "the plan SEARCHes the covering index (jumps to the last days' orders) instead of SCANning all of it",
           orders_steps)
    expect(_trending_answers(path) == before, "trending() returns exactly the same rows with the index")
    expect(_counts(path) == counts, "no product or order was added or removed", _counts(path))
    try:
        add_covering_index(path)
    except Exception as error:  # noqa: BLE001
        raise CheckFailed(f"running add_covering_index a second time is safe (got {type(error).__name__}: {error})") from None
    return f"the plan now says {next(s for s in orders_steps if 'COVERING' in s)!r}, and trending() is unchanged"
