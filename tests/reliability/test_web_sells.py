"""Concurrent sales of the last units, through real HTTP: never oversold, no sale lost, no 500.

A service with 2 workers x 8 threads on its own copy of the tiny shop. In each
round, ``SELLERS`` clients wait at one barrier, then each POSTs one sale of a product
that has ``STOCK`` units left. Afterwards the database is reconciled with what the
clients were told: the stock fell by exactly the sales answered 200, one order was
written per answered sale, no more than ``STOCK`` were answered, every refusal was
the out-of-stock 409, and nothing answered 500.

Run as a script to measure over more rounds (a summary line per run)::

    .venv/bin/python tests/reliability/test_web_sells.py --runs 12
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sqlite3
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

STOCK = 5
SELLERS = 60
ROUNDS = 3  # in the test; each round sells a product of its own
WORKERS, THREADS = 2, 8


@dataclass
class Round:
    product_id: int
    statuses: Counter = field(default_factory=Counter)
    bodies: list = field(default_factory=list)
    stock_after: int = 0
    orders_added: int = 0

    @property
    def answered(self) -> int:
        return self.statuses[200]

    @property
    def oversold(self) -> bool:
        return self.answered > STOCK or self.stock_after < 0

    @property
    def lost(self) -> int:
        """Sales the database and the answers disagree on (stock fallen, or orders written,
        other than the answered sales)."""
        return abs((STOCK - self.stock_after) - self.answered) + abs(
            self.orders_added - self.answered
        )


def _counts(path: Path, product_id: int) -> tuple[int, int]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        (stock,) = connection.execute(
            "SELECT stock FROM products WHERE id = ?", (product_id,)
        ).fetchone()
        (orders,) = connection.execute(
            "SELECT COUNT(*) FROM orders WHERE product_id = ?", (product_id,)
        ).fetchone()
        return stock, orders
    finally:
        connection.close()


def prepare(source: Path, folder: Path, product_ids: list[int]) -> Path:
    """A copy of the shop in which each of ``product_ids`` has ``STOCK`` units left."""
    copy = folder / "shop-sells.db"
    shutil.copyfile(source, copy)
    connection = sqlite3.connect(copy)
    with connection:
        connection.executemany(
            "UPDATE products SET stock = ? WHERE id = ?", [(STOCK, pid) for pid in product_ids]
        )
    connection.close()
    return copy


def sell_round(port: int, path: Path, product_id: int) -> Round:
    """``SELLERS`` clients sell one unit each of ``product_id`` at once; the round's record."""
    result = Round(product_id)
    stock_before, orders_before = _counts(path, product_id)
    assert stock_before == STOCK
    barrier = threading.Barrier(SELLERS)
    lock = threading.Lock()

    def sell() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            barrier.wait(timeout=60)
            connection.request(
                "POST",
                f"/products/{product_id}/sell",
                body=json.dumps({"quantity": 1}),
                headers={"Content-Type": "application/json", "Connection": "close"},
            )
            response = connection.getresponse()
            status, body = response.status, response.read().decode(errors="replace")
        except OSError as error:  # no answer at all: counted, never ignored
            status, body = 0, f"{type(error).__name__}: {error}"
        finally:
            connection.close()
        with lock:
            result.statuses[status] += 1
            if status != 200:
                result.bodies.append((status, body))

    threads = [threading.Thread(target=sell) for _ in range(SELLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    result.stock_after, orders_after = _counts(path, product_id)
    result.orders_added = orders_after - orders_before
    return result


def run_rounds(source: Path, product_ids: list[int]) -> list[Round]:
    """Start a service on a prepared copy, play one round per product, stop it."""
    from cachelab.web._service import WebService

    folder = Path(tempfile.mkdtemp(prefix="cachelab-sells-"))
    try:
        path = prepare(source, folder, product_ids)
        with WebService("none", workers=WORKERS, threads=THREADS, db_path=path) as service:
            return [sell_round(service.port, path, pid) for pid in product_ids]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_concurrent_sales_of_the_last_units_reconcile(tiny_shop_path):
    rounds = run_rounds(tiny_shop_path, [31, 32, 33][:ROUNDS])
    for played in rounds:
        report = f"product {played.product_id}: {dict(played.statuses)}, {played.bodies[:3]}"
        assert played.statuses[500] == 0 and played.statuses[0] == 0, report
        assert set(played.statuses) <= {200, 409}, report
        assert not played.oversold, report
        assert played.lost == 0, report
        assert played.answered == STOCK, f"every unit in stock was sold: {report}"
        assert all("in stock" in body for _, body in played.bodies), report
        assert not any(str(tiny_shop_path.parent) in body for _, body in played.bodies), report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    arguments = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
    from cachelab.shop.data import build_shop

    source = build_shop(Path(tempfile.mkdtemp(prefix="cachelab-sells-src-")) / "shop-tiny.db",
                        size="tiny")  # fmt: skip
    totals = Counter()
    for run in range(arguments.runs):
        (played,) = run_rounds(source, [31])
        totals["runs with a 500"] += played.statuses[500] > 0
        totals["runs oversold"] += played.oversold
        totals["runs with a lost sale"] += played.lost > 0
        totals["runs with another error"] += any(s not in (200, 409, 500) for s in played.statuses)
        totals["runs with a 409 not out-of-stock"] += any(
            status == 409 and "in stock" not in body for status, body in played.bodies
        )
        print(f"run {run + 1}: {dict(played.statuses)} stock {STOCK}->{played.stock_after} "
              f"orders +{played.orders_added}", flush=True)  # fmt: skip
    shutil.rmtree(source.parent, ignore_errors=True)
    print(f"over {arguments.runs} runs of {SELLERS} sells of the last {STOCK}: {dict(totals)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
