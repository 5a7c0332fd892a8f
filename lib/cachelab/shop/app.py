"""The shop: a tiny backend on SQLite whose homepage does the same expensive work on every visit.

``Shop`` answers the questions a web shop's pages ask -- the trending products,
one product's page -- and makes the changes that make caches go stale: a new
price, a sale that lowers the stock. It counts every SQL statement it runs in
``queries``, so a lesson can show exactly how much work the database did.

All SQL is parameterized: values travel as ``?`` parameters, never pasted into
the SQL text. Every argument is checked first (``cachelab._internal.validation``): a product
id is a whole number, not ``True``, ``1.9`` or ``"1"``.

>>> from cachelab.shop.data import build_shop
>>> shop = Shop(build_shop(size="tiny"))
>>> shop.product(1)["id"], len(shop.trending(limit=3)), shop.queries
(1, 3, 2)
>>> shop.product("1")
Traceback (most recent call last):
...
TypeError: product_id must be a whole number >= 1, got str '1'
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, TypeVar, Union

import sqlite_utils

from cachelab._internal.validation import validate_id, validate_whole_number
from cachelab.shop.data import DATA_END, DAY, _describe

__all__ = ["OutOfStock", "PRODUCT_SQL", "Shop", "TRENDING_SQL"]

TRENDING_SQL = """
SELECT products.id, products.name, products.category, products.price_cents, products.stock,
       sales.units_sold
FROM (
    SELECT product_id, SUM(quantity) AS units_sold
    FROM orders
    WHERE ordered_at >= :since
    GROUP BY product_id
) AS sales
JOIN products ON products.id = sales.product_id
ORDER BY sales.units_sold DESC, products.id
LIMIT :limit
"""

PRODUCT_SQL = """
SELECT id, name, category, price_cents, stock, updated_at FROM products WHERE id = :id
"""

_NOTIFICATIONS_SQL = """
SELECT notifications.id, notifications.message, notifications.created_at
FROM users LEFT JOIN notifications ON notifications.user_id = users.id
WHERE users.id = :user_id
ORDER BY notifications.id DESC
LIMIT :limit
"""

_T = TypeVar("T")

_MAX_DAYS = 3_650
"""The longest trending period the shop computes: ten years (its data spans 90 days)."""
_MAX_LIMIT = 1_000
"""The most products one trending list shows."""
_MAX_PRICE_CENTS = 100_000_000
"""The highest price the shop accepts: $1,000,000.00."""
_MAX_QUANTITY = 10_000
"""The most units one sale may sell."""
_MAX_NOTIFICATIONS = 100
"""The most notifications one call returns."""
_MAX_MESSAGE_LENGTH = 500
"""The longest notification message, in characters."""


class OutOfStock(ValueError):
    """A sale asked for more units than the product has in stock; nothing was changed."""


class Shop:
    """The shop's backend: reads and writes the database at ``path``.

    ``clock`` gives the time (seconds since 1970) that writes are stamped with;
    by default the shop's own "now" is ``DATA_END``, the moment the data ends,
    advanced by real time elapsed since the Shop was opened -- so "the last 7
    days" always means the same orders, whatever today's date is.

    Each thread or process opens its own ``Shop``: an SQLite connection is not shared.
    """

    def __init__(self, path: Union[str, Path], clock: Optional[Callable[[], float]] = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(
                f"no shop database at {self.path}; build one with "
                f"cachelab.shop.data.build_shop({str(self.path)!r})"
            )
        if _describe(self.path) is None:
            raise ValueError(
                f"{self.path} is not a complete shop database (corrupt, partial, or not the "
                "course's); "
                f"rebuild it with cachelab.shop.data.build_shop({str(self.path)!r})"
            )
        self.db = sqlite_utils.Database(self.path)
        if clock is None:
            opened = time.monotonic()
            clock = lambda: DATA_END + (time.monotonic() - opened)  # noqa: E731
        self.clock = clock
        self.queries = 0

    def _execute(self, sql: str, params: dict | tuple = ()) -> sqlite3.Cursor:
        """Run one SQL statement and count it. Every query of the shop goes through here."""
        self.queries += 1
        return self.db.execute(sql, params)

    def _rows(self, sql: str, params: dict | tuple = ()) -> list[dict]:
        cursor = self._execute(sql, params)
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def now(self) -> int:
        """The shop's current time, in whole seconds since 1970."""
        return int(self.clock())

    def trending(self, days: int = 7, limit: int = 10) -> list[dict]:
        """The homepage: the ``limit`` products that sold the most units in the last ``days`` days.

        This is the expensive query: it reads every order of the period and adds
        them up, product by product.
        """
        days = validate_whole_number(days, "days", maximum=_MAX_DAYS)
        limit = validate_whole_number(limit, "limit", maximum=_MAX_LIMIT)
        return self._rows(TRENDING_SQL, {"since": self.now() - days * DAY, "limit": limit})

    def product(self, product_id: int) -> dict:
        """One product's page: a cheap lookup by primary key. Unknown id → ``LookupError``."""
        validate_id(product_id)
        rows = self._rows(PRODUCT_SQL, {"id": product_id})
        if not rows:
            raise LookupError(f"no product with id {product_id!r} in {self.path.name}")
        return rows[0]

    def set_price(self, product_id: int, price_cents: int) -> dict:
        """Change a product's price and return the updated product."""
        validate_id(product_id)
        validate_whole_number(price_cents, "price_cents", minimum=0, maximum=_MAX_PRICE_CENTS)
        with self._transaction():
            cursor = self._execute(
                "UPDATE products SET price_cents = :price, updated_at = :now WHERE id = :id",
                {"price": price_cents, "now": self.now(), "id": product_id},
            )
            if cursor.rowcount == 0:
                raise LookupError(f"no product with id {product_id!r} in {self.path.name}")
        return self.product(product_id)

    def sell(self, product_id: int, quantity: int = 1) -> dict:
        """Sell ``quantity`` units: record an order and lower the stock, in one transaction
        (``BEGIN IMMEDIATE``: see ``_transaction``).

        Selling more than is in stock raises ``OutOfStock`` (a ``ValueError``) and changes nothing.
        Returns the updated product.
        """
        validate_id(product_id)
        validate_whole_number(quantity, "quantity", maximum=_MAX_QUANTITY)
        with self._transaction():  # both writes happen, or neither
            cursor = self._execute(
                "UPDATE products SET stock = stock - :quantity, updated_at = :now "
                "WHERE id = :id AND stock >= :quantity",
                {"quantity": quantity, "now": self.now(), "id": product_id},
            )
            if cursor.rowcount == 0:
                product = self.product(product_id)  # raises LookupError for an unknown id
                raise OutOfStock(
                    f"cannot sell {quantity} of product {product_id} ({product['name']}): "
                    f"only {product['stock']} in stock"
                )
            self._execute(
                "INSERT INTO orders (product_id, quantity, ordered_at) VALUES (:id, :quantity, "
                ":now)",
                {"id": product_id, "quantity": quantity, "now": self.now()},
            )
        return self.product(product_id)

    def max_product_id(self) -> int:
        """The highest product id in the shop (0 if it has none): ids above it do not exist."""
        return self._execute("SELECT COALESCE(MAX(id), 0) FROM products").fetchone()[0]

    # -- signed-in users (lesson 09; the tables come from data.add_users)

    def _users_table(self, operation: Callable[[], _T]) -> _T:
        try:
            return operation()
        except sqlite3.OperationalError as error:
            if "no such table" not in str(error):
                raise
            raise LookupError(
                f"{self.path.name} has no users yet: add them with "
                f"cachelab.shop.data.add_users({str(self.path)!r})"
            ) from None

    def notifications(self, user_id: int, limit: int = 5) -> list[dict]:
        """A signed-in user's latest ``limit`` notifications, newest first; unknown user →
        ``LookupError``.
        """
        validate_id(user_id, "user_id")
        limit = validate_whole_number(limit, "limit", maximum=_MAX_NOTIFICATIONS)
        rows = self._users_table(
            lambda: self._rows(_NOTIFICATIONS_SQL, {"user_id": user_id, "limit": limit})
        )
        if not rows:
            raise LookupError(f"no user with id {user_id!r} in {self.path.name}")
        return [row for row in rows if row["id"] is not None]

    def notify(self, user_id: int, message: str) -> dict:
        """Send a user a notification (one INSERT); return it. Unknown user → ``LookupError``."""
        validate_id(user_id, "user_id")
        if not isinstance(message, str) or not 0 < len(message) <= _MAX_MESSAGE_LENGTH:
            raise ValueError(
                f"message must be a string of 1 to {_MAX_MESSAGE_LENGTH} characters, "
                f"got {message!r}"
            )
        now = self.now()

        def insert() -> sqlite3.Cursor:
            with self._transaction():
                return self._execute(
                    "INSERT INTO notifications (user_id, message, created_at) "
                    "SELECT id, :message, :now FROM users WHERE id = :user_id",
                    {"message": message, "now": now, "user_id": user_id},
                )

        cursor = self._users_table(insert)
        if cursor.rowcount == 0:
            raise LookupError(f"no user with id {user_id!r} in {self.path.name}")
        return {"id": cursor.lastrowid, "message": message, "created_at": now}

    def explain(self, days: int = 7, limit: int = 10) -> list[str]:
        """SQLite's query plan for the trending query, one line per step (not counted in
        ``queries``).
        """
        days = validate_whole_number(days, "days", maximum=_MAX_DAYS)
        limit = validate_whole_number(limit, "limit", maximum=_MAX_LIMIT)
        rows = self.db.execute(
            "EXPLAIN QUERY PLAN " + TRENDING_SQL, {"since": self.now() - days * DAY, "limit": limit}
        )
        return [row[3] for row in rows.fetchall()]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: ``BEGIN IMMEDIATE``, then COMMIT if the block ends, or ROLLBACK
        if it raises -- so a sale's two statements are both written, or neither.

        Explicit, because the connection would not make one: sqlite-utils 4's
        ``execute()`` commits each statement that it runs outside a transaction, so a
        sale's stock update was committed before its order was written. IMMEDIATE takes
        the write lock at the start (waiting up to the connection's busy timeout, 5 s),
        so another writer cannot slip in between the statements, and a transaction never
        has to upgrade a read lock half-way, which SQLite can only refuse.

        A database file that cannot be written (read-only, on a read-only disk) is a
        ``PermissionError`` that says so, instead of SQLite's bare OperationalError.
        """
        connection = self.db.conn
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if connection.in_transaction:  # some errors have already rolled it back
                    connection.execute("ROLLBACK")
                raise
            try:
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as error:
            if "readonly" in str(error) or "read-only" in str(error):
                raise PermissionError(
                    f"{self.path} cannot be written ({error}); lessons that change the shop work "
                    "on a copy: cachelab.shop.data.scratch_shop()"
                ) from None
            raise

    def close(self) -> None:
        self.db.close()

    def __repr__(self) -> str:
        return f"Shop({self.path.name!r}, queries={self.queries})"
