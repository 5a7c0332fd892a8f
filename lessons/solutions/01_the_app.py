"""Reference solutions for lesson 01 · The app (for instructors; the tests check them).

Each function is one exercise of ``lessons/01_the_app.ipynb``; the checks that
grade them are in ``cachelab.checks.the_app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import sqlite_utils

from cachelab.shop.data import DATA_END, DAY

TOP_CATEGORIES_SQL = """
SELECT products.category AS category, SUM(orders.quantity) AS units_sold
FROM orders
JOIN products ON products.id = orders.product_id
WHERE orders.ordered_at >= :since
GROUP BY products.category
ORDER BY units_sold DESC, category
"""


def top_categories(db_path: Union[str, Path], days: int) -> list[dict]:
    """Exercise 1: units sold per category over the last ``days`` days, biggest first (ties by
    name).
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number >= 1, got {days!r}")
    path = Path(db_path)
    if not path.is_file():  # sqlite would quietly create an empty database here
        raise FileNotFoundError(f"no shop database at {path}")
    db = sqlite_utils.Database(path)
    try:
        return list(db.query(TOP_CATEGORIES_SQL, {"since": DATA_END - days * DAY}))
    finally:
        db.close()


def add_covering_index(db_path: Union[str, Path]) -> None:
    """Exercise 2: an index holding every orders column the trending query reads, time first.

    ``ordered_at`` comes first so SQLite can SEARCH for the recent orders; then
    ``product_id`` and ``quantity``, so it never has to look in the table itself.
    """
    db = sqlite_utils.Database(db_path)
    try:
        db["orders"].create_index(
            ["ordered_at", "product_id", "quantity"],
            index_name="orders_by_time_covering",
            if_not_exists=True,
        )
    finally:
        db.close()
