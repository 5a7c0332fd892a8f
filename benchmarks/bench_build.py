"""Building the shop: how much does going through sqlite-utils cost?

``build_shop(size="default")`` (2,000 products, 1,000,000 orders) against the
plainest way to write the same rows: ``sqlite3.executemany`` into the same
schema (copied from the database build_shop made), with the same pragmas and
the same indexes. Both sides make their rows with build_shop's own generators
(``generate_products`` / ``generate_orders``, same seed), so both do the same
work end to end and the ratio is the price of the library's path. Target: within 2×.

Each build takes seconds, so only a few are run, alternating the two sides.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from cachelab.shop import data


def baseline_build(path: Path, schema: list[str], size: str = "default", seed: int = 42) -> None:
    """The same database as ``build_shop``, written with nothing but sqlite3.executemany."""
    shape = data._SIZES[size]
    rng = random.Random(seed)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")
    tables = [sql for sql in schema if sql.lstrip().upper().startswith("CREATE TABLE")]
    indexes = [sql for sql in schema if sql.lstrip().upper().startswith("CREATE INDEX")]
    for sql in tables:
        connection.execute(sql)
    products = data._generate_products(shape.products, rng)
    connection.executemany(
        "INSERT INTO products (id, name, category, price_cents, stock, updated_at) "
        "VALUES (:id, :name, :category, :price_cents, :stock, :updated_at)",
        products,
    )
    connection.executemany(
        "INSERT INTO orders (product_id, quantity, ordered_at) VALUES (?, ?, ?)",
        data._generate_orders(shape, rng),
    )
    for sql in indexes:
        connection.execute(sql)
    connection.execute("ANALYZE")
    connection.executemany(
        "INSERT INTO cachelab_meta (key, value) VALUES (?, ?)",
        [
            ("schema_version", str(data._SCHEMA_VERSION)),
            ("size", size),
            ("seed", str(seed)),
            ("data_end", str(data.DATA_END)),
            ("complete", "1"),
        ],
    )
    connection.commit()
    connection.close()


def schema_of(path: Path) -> list[str]:
    """The CREATE TABLE / CREATE INDEX statements of the database at ``path`` (SQLite's own tables
    left
    out).
    """
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY type DESC, rowid"  # tables before indexes
        ).fetchall()
    connection.close()
    return [sql for (sql,) in rows]


def same_rows(first: Path, second: Path) -> bool:
    """Whether both databases hold the same products and orders (checked by a digest, not row by
    row).
    """
    digests = []
    for path in (first, second):
        with sqlite3.connect(path) as connection:
            digests.append(
                connection.execute(
                    "SELECT COUNT(*), SUM(id * 7 + product_id * 13 + quantity * 17 + ordered_at % "
                    "1000003) FROM orders"
                ).fetchone()
                + connection.execute(
                    "SELECT COUNT(*), SUM(id + price_cents + stock), GROUP_CONCAT(name) FROM "
                    "products"
                ).fetchone()
            )
        connection.close()
    return digests[0] == digests[1]


def run(quick: bool = False) -> list[dict]:
    size = "tiny" if quick else "default"
    rounds = 3
    folder = Path(tempfile.mkdtemp(prefix="cachelab-bench-build-"))
    try:
        # The course's own database (data/shop-<size>.db, which `make bench` builds first) gives the
        # schema to copy and the rows both sides must reproduce.
        reference = data.build_shop(size=size)
        schema = schema_of(reference)
        library_s, baseline_s = [], []
        for round_number in range(rounds):
            sides = ["library", "baseline"] if round_number % 2 == 0 else ["baseline", "library"]
            for side in sides:
                path = folder / f"{side}-{round_number}.db"
                started = time.perf_counter()
                if side == "library":
                    data.build_shop(path, size=size)
                else:
                    baseline_build(path, schema, size=size)
                (library_s if side == "library" else baseline_s).append(
                    time.perf_counter() - started
                )
                if not same_rows(reference, path):
                    raise AssertionError(f"the {side} build made different rows from build_shop's")
                path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    shape = data._SIZES[size]
    return [
        {
            "name": f"build_shop({size!r}) vs sqlite3.executemany of the same rows",
            "median": statistics.median(library_s),
            "baseline": statistics.median(baseline_s),
            "target": 2.0,
            "note": f"{rounds} alternating builds each of {shape.products:,} products + "
            f"{shape.orders:,} orders; "
            "both sides generate their rows with the same generators and seed, create the same "
            "indexes "
            f"and ANALYZE; library builds {', '.join(f'{s:.2f}' for s in library_s)} s, "
            f"baseline {', '.join(f'{s:.2f}' for s in baseline_s)} s",
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
