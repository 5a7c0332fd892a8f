"""build_shop: deterministic, idempotent, safe with files it did not make; the tiny size only."""

import os
import sqlite3
from pathlib import Path

import pytest

from cachelab import data
from cachelab.data import DATA_END, DAY, SIZES, build_shop, describe


def all_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of both tables, in id order."""
    with sqlite3.connect(path) as connection:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in ("products", "orders")
        }


def file_identity(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return status.st_ino, status.st_mtime_ns, status.st_size


# --- what is built
# ------------------------------------------------------------------------------------


def test_the_tiny_shop_has_100_products_and_10000_orders(tiny_shop_path):
    rows = all_rows(tiny_shop_path)
    assert len(rows["products"]) == SIZES["tiny"].products == 100
    assert len(rows["orders"]) == SIZES["tiny"].orders == 10_000


def test_products_have_a_name_category_price_stock_and_updated_at(tiny_shop_path):
    with sqlite3.connect(tiny_shop_path) as connection:
        connection.row_factory = sqlite3.Row
        products = [dict(row) for row in connection.execute("SELECT * FROM products")]
    assert set(products[0]) == {"id", "name", "category", "price_cents", "stock", "updated_at"}
    for product in products:
        assert isinstance(product["name"], str) and product["name"]
        assert isinstance(product["category"], str) and product["category"]
        assert isinstance(product["price_cents"], int) and product["price_cents"] > 0
        assert isinstance(product["stock"], int) and product["stock"] >= 0
        assert product["updated_at"] == DATA_END


def test_product_names_are_unique(tiny_shop_path):
    names = [row[1] for row in all_rows(tiny_shop_path)["products"]]
    assert len(set(names)) == len(names)


def test_orders_name_a_real_product_a_quantity_and_a_time_within_the_period(tiny_shop_path):
    with sqlite3.connect(tiny_shop_path) as connection:
        (orphans,) = connection.execute(
            "SELECT COUNT(*) FROM orders WHERE product_id NOT IN (SELECT id FROM products)"
        ).fetchone()
        low, high, qmin, qmax = connection.execute(
            "SELECT MIN(ordered_at), MAX(ordered_at), MIN(quantity), MAX(quantity) FROM orders"
        ).fetchone()
    assert orphans == 0
    assert DATA_END - SIZES["tiny"].days * DAY <= low <= high < DATA_END
    assert 1 <= qmin <= qmax <= 4


def test_the_orders_time_index_exists(tiny_shop_path):
    with sqlite3.connect(tiny_shop_path) as connection:
        indexes = {
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert "orders_by_time" in indexes


def test_a_built_shop_describes_itself_as_complete(tiny_shop_path):
    assert describe(tiny_shop_path) == {
        "size": "tiny",
        "seed": 42,
        "schema_version": 1,
        "complete": True,
    }


def test_describe_of_a_missing_file_is_none(tmp_path):
    assert describe(tmp_path / "nothing.db") is None


def test_build_leaves_no_partial_files_behind(tmp_path):
    build_shop(tmp_path / "shop.db", size="tiny")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.db"]


def test_build_creates_missing_parent_folders(tmp_path):
    path = build_shop(tmp_path / "a" / "b" / "shop.db", size="tiny")
    assert describe(path) is not None


# --- deterministic
# ---------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_rows_in_every_table(tmp_path, tiny_shop_path):
    again = build_shop(tmp_path / "again.db", size="tiny", seed=42)
    assert all_rows(again) == all_rows(tiny_shop_path)


def test_a_different_seed_gives_different_rows(tmp_path, tiny_shop_path):
    other = build_shop(tmp_path / "other.db", size="tiny", seed=7)
    first, second = all_rows(tiny_shop_path), all_rows(other)
    assert first["products"] != second["products"]
    assert first["orders"] != second["orders"]


def test_build_returns_the_path_it_built(tmp_path):
    path = tmp_path / "shop.db"
    assert build_shop(str(path), size="tiny") == path


# --- idempotent, and careful with existing files -------------------------------------------------


def test_a_complete_database_is_reused_untouched(tmp_path):
    path = build_shop(tmp_path / "shop.db", size="tiny")
    before = file_identity(path)
    assert build_shop(path, size="tiny") == path
    assert file_identity(path) == before


def test_a_database_of_another_seed_is_rebuilt(tmp_path):
    path = build_shop(tmp_path / "shop.db", size="tiny", seed=1)
    build_shop(path, size="tiny", seed=2)
    assert describe(path)["seed"] == 2


def test_a_corrupt_file_is_rebuilt(tmp_path, tiny_shop_path):
    path = tmp_path / "shop.db"
    path.write_bytes(os.urandom(8192))
    build_shop(path, size="tiny")
    assert all_rows(path) == all_rows(tiny_shop_path)


def test_a_truncated_database_is_rebuilt(tmp_path, tiny_shop_path):
    path = tmp_path / "shop.db"
    path.write_bytes(tiny_shop_path.read_bytes()[:50_000])
    build_shop(path, size="tiny")
    assert all_rows(path) == all_rows(tiny_shop_path)


def test_an_empty_file_is_rebuilt(tmp_path):
    path = tmp_path / "shop.db"
    path.touch()
    build_shop(path, size="tiny")
    assert describe(path)["complete"] is True


def test_a_partial_database_without_the_complete_mark_is_rebuilt(tmp_path, tiny_shop_path):
    path = build_shop(tmp_path / "shop.db", size="tiny")
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM cachelab_meta WHERE key = 'complete'")
        connection.execute("DELETE FROM orders WHERE id > 5000")
    connection.close()
    assert describe(path) is None
    build_shop(path, size="tiny")
    assert describe(path)["complete"] is True
    assert all_rows(path) == all_rows(tiny_shop_path)


def test_a_foreign_sqlite_database_is_never_overwritten(tmp_path):
    path = tmp_path / "precious.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)")
        connection.execute("INSERT INTO customers (email) VALUES ('ada@example.com')")
    connection.close()
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="refusing to overwrite") as error:
        build_shop(path, size="tiny")
    assert str(path) in str(error.value) and "customers" in str(error.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.db"]


# --- bad input and paths
# -------------------------------------------------------------------------------


def test_an_unknown_size_is_a_value_error_listing_the_sizes(tmp_path):
    with pytest.raises(ValueError, match=r"size must be one of \['default', 'tiny'\], got 'huge'"):
        build_shop(tmp_path / "shop.db", size="huge")


@pytest.mark.parametrize("seed", ["42", 4.2, True, None])
def test_a_seed_that_is_not_a_whole_number_is_a_type_error(tmp_path, seed):
    with pytest.raises(TypeError, match="seed must be a whole number"):
        build_shop(tmp_path / "shop.db", size="tiny", seed=seed)


def test_the_default_path_follows_cachelab_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    assert data.default_path("tiny") == tmp_path / "shop-tiny.db"


def test_without_a_path_the_shop_is_built_at_the_default_path(monkeypatch, tmp_path):
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    assert build_shop(size="tiny") == tmp_path / "shop-tiny.db"
    assert describe(tmp_path / "shop-tiny.db") is not None


def test_a_scratch_shop_is_a_separate_copy(monkeypatch, tmp_path):
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    source = build_shop(size="tiny")
    before = source.read_bytes()
    scratch = data.scratch_shop(size="tiny")
    assert scratch != source and scratch.parent != source.parent
    with sqlite3.connect(scratch) as connection:
        connection.execute("UPDATE products SET stock = 0")
    connection.close()
    assert source.read_bytes() == before
