"""The shop's writes are whole, and nothing the course does drops another connection's locks.

- Opening a shop (``describe``, ``Shop()``, ``is_course_file``, ``build_shop``'s reuse
  check, ``scratch_shop``'s copy) while this process holds a write transaction on that
  file leaves the transaction's lock in place: another process's write is refused, and
  the transaction commits. Before the fix ``describe`` read the header with ``open()``,
  whose ``close()`` released every POSIX lock of the process on the file: the other
  process's write went in, and the holder's ``COMMIT`` failed with "disk I/O error".
- ``Shop.sell`` is one transaction: when the order's INSERT fails (a real trigger), the
  stock is unchanged. With sqlite-utils 4, each ``execute`` committed on its own.
- Threads in several processes sell the last units of a product, each opening its own
  ``Shop`` first: never oversold, every unit accounted for, one order per answered sale.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from shop_sellers import sell_the_last_units

from cachelab.shop import data
from cachelab.shop.app import Shop

OTHER_PROCESS_WRITES = textwrap.dedent("""
    import sqlite3, sys
    connection = sqlite3.connect(sys.argv[1], timeout=0)  # no waiting: locked means refused
    try:
        connection.execute("UPDATE products SET stock = 999 WHERE id = 2")
        connection.commit()
        print("written")
    except sqlite3.OperationalError as error:
        print(error)
""")


def another_process_writes(path: Path) -> str:
    """Try one write from another process, without waiting for locks: "written" or the error."""
    done = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS_WRITES, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def stock(path: Path, product_id: int) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(
            "SELECT stock FROM products WHERE id = ?", (product_id,)
        ).fetchone()[0]
    finally:
        connection.close()


def orders(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    finally:
        connection.close()


@pytest.fixture
def shop_copy(tiny_shop_path: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "shop-tiny.db"
    shutil.copyfile(tiny_shop_path, copy)
    return copy


OPENINGS = {
    "describe": lambda path: data._describe(path),
    "Shop": lambda path: Shop(path).close(),
    "is_course_file": lambda path: data._is_course_file(path),
    "verify_shop": lambda path: data._verify_shop(path),
    "build_shop (reuse)": lambda path: data.build_shop(path, size="tiny"),
}


@pytest.mark.parametrize("opening", list(OPENINGS))
def test_opening_the_shop_keeps_the_locks_this_process_holds(shop_copy: Path, opening: str):
    holder = sqlite3.connect(shop_copy, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE products SET stock = 111 WHERE id = 1")
        OPENINGS[opening](shop_copy)
        assert "locked" in another_process_writes(shop_copy), (
            f"{opening} released this process's lock: another process wrote meanwhile"
        )
        holder.execute("COMMIT")  # before the fix: "disk I/O error"
    finally:
        holder.close()
    assert stock(shop_copy, 1) == 111, "the holder's write is there"
    assert stock(shop_copy, 2) != 999, "the refused write is not"


def test_a_scratch_copy_keeps_the_locks_this_process_holds_on_its_source(
    tiny_shop_path: Path, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    source = tmp_path / "shop-tiny.db"
    shutil.copyfile(tiny_shop_path, source)
    holder = sqlite3.connect(source, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE products SET stock = 111 WHERE id = 1")
        copy = data.scratch_shop(size="tiny")
        assert "locked" in another_process_writes(source)
        holder.execute("COMMIT")
    finally:
        holder.close()
    assert stock(copy, 1) == stock(tiny_shop_path, 1), "the copy holds committed data only"
    assert data._describe(copy) is not None and data._is_course_file(copy)


# --- a sale is one transaction --------------------------------------------------------------------


def test_a_sale_whose_order_cannot_be_written_leaves_the_stock_alone(shop_copy: Path):
    connection = sqlite3.connect(shop_copy)
    connection.execute(
        "CREATE TRIGGER orders_fail BEFORE INSERT ON orders "
        "BEGIN SELECT RAISE(ABORT, 'the order cannot be written'); END"
    )
    connection.commit()
    connection.close()
    before_stock, before_orders = stock(shop_copy, 3), orders(shop_copy)
    shop = Shop(shop_copy)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="the order cannot be written"):
            shop.sell(3, quantity=2)
        assert shop.product(3)["stock"] == before_stock, "this connection sees no change"
        assert not shop.db.conn.in_transaction, "nothing left open to capture later writes"
    finally:
        shop.close()
    assert stock(shop_copy, 3) == before_stock, "the stock went down without an order"
    assert orders(shop_copy) == before_orders


def test_a_failed_sale_does_not_swallow_the_next_one(shop_copy: Path):
    """After a sale failed, the next sale commits (no transaction left open to roll it back)."""
    connection = sqlite3.connect(shop_copy)
    connection.execute(
        "CREATE TRIGGER orders_fail_once BEFORE INSERT ON orders WHEN NEW.quantity = 4 "
        "BEGIN SELECT RAISE(ABORT, 'no fours'); END"
    )
    connection.commit()
    connection.close()
    before = stock(shop_copy, 3)
    shop = Shop(shop_copy)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="no fours"):
            shop.sell(3, quantity=4)
        shop.sell(3, quantity=1)
    finally:
        shop.close()
    assert stock(shop_copy, 3) == before - 1


# --- the last units, sold from several processes at once ----------------------------------------

PROCESSES = 2
THREADS = 6
ROUNDS = 4
LAST_UNITS = 5  # fewer than the PROCESSES * THREADS sellers of each round


def test_concurrent_sales_of_the_last_units_never_oversell_or_lose_one(shop_copy: Path):
    product_ids = list(range(11, 11 + ROUNDS))
    connection = sqlite3.connect(shop_copy)
    connection.execute(
        f"UPDATE products SET stock = ? WHERE id IN ({','.join('?' * ROUNDS)})",
        (LAST_UNITS, *product_ids),
    )
    connection.commit()
    connection.close()
    before = {product_id: orders_of(shop_copy, product_id) for product_id in product_ids}
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES * THREADS, timeout=60), context.Queue()
    sellers = [
        context.Process(
            target=sell_the_last_units,
            args=(str(shop_copy), THREADS, product_ids, barrier, results),
        )
        for _ in range(PROCESSES)
    ]
    for seller in sellers:
        seller.start()
    try:
        reports = [results.get(timeout=120) for _ in sellers]
    finally:
        for seller in sellers:
            seller.join(timeout=30)
            if seller.is_alive():
                seller.kill()
    errors = [error for _, _, process_errors in reports for error in process_errors]
    assert errors == [], f"{len(errors)} sales failed, e.g. {errors[0]}"
    for round_index, product_id in enumerate(product_ids):
        answered = sum(report[0][round_index] for report in reports)
        refused = sum(report[1][round_index] for report in reports)
        left = stock(shop_copy, product_id)
        written = orders_of(shop_copy, product_id) - before[product_id]
        assert answered + refused == PROCESSES * THREADS
        assert answered == LAST_UNITS and left == 0, f"product {product_id}: oversold or not sold"
        assert left + answered == LAST_UNITS, f"product {product_id}: a unit went missing"
        assert written == answered, f"product {product_id}: {written} orders for {answered} sales"


def orders_of(path: Path, product_id: int) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(
            "SELECT COUNT(*) FROM orders WHERE product_id = ?", (product_id,)
        ).fetchone()[0]
    finally:
        connection.close()
