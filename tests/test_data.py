"""build_shop: deterministic, idempotent, safe with files it did not make; the tiny size only."""

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from cachelab.shop import data
from cachelab.shop._build_lock import build_lock
from cachelab.shop.app import Shop
from cachelab.shop.data import (
    _SIZES,
    DATA_END,
    DAY,
    _describe,
    _is_course_file,
    _verify_shop,
    build_shop,
)


def all_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of both tables, in id order."""
    with closing(sqlite3.connect(path)) as connection, connection:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in ("products", "orders")
        }


def file_identity(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return status.st_ino, status.st_mtime_ns, status.st_size


# --- what is built --------------------------------------------------------------------------------


def test_the_tiny_shop_has_100_products_and_10000_orders(tiny_shop_path):
    rows = all_rows(tiny_shop_path)
    assert len(rows["products"]) == _SIZES["tiny"].products == 100
    assert len(rows["orders"]) == _SIZES["tiny"].orders == 10_000


def test_products_have_a_name_category_price_stock_and_updated_at(tiny_shop_path):
    with closing(sqlite3.connect(tiny_shop_path)) as connection, connection:
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
    with closing(sqlite3.connect(tiny_shop_path)) as connection, connection:
        (orphans,) = connection.execute(
            "SELECT COUNT(*) FROM orders WHERE product_id NOT IN (SELECT id FROM products)"
        ).fetchone()
        low, high, qmin, qmax = connection.execute(
            "SELECT MIN(ordered_at), MAX(ordered_at), MIN(quantity), MAX(quantity) FROM orders"
        ).fetchone()
    assert orphans == 0
    assert DATA_END - _SIZES["tiny"].days * DAY <= low <= high < DATA_END
    assert 1 <= qmin <= qmax <= 4


def test_the_orders_time_index_exists(tiny_shop_path):
    with closing(sqlite3.connect(tiny_shop_path)) as connection, connection:
        indexes = {
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert "orders_by_time" in indexes


def test_a_built_shop_describes_itself_as_complete(tiny_shop_path):
    assert _describe(tiny_shop_path) == {
        "size": "tiny",
        "seed": 42,
        "schema_version": 1,
        "complete": True,
    }


def test_describe_of_a_missing_file_is_none(tmp_path):
    assert _describe(tmp_path / "nothing.db") is None


def test_build_leaves_no_partial_files_behind(tmp_path):
    build_shop(tmp_path / "shop.db", size="tiny")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.db"]


def test_build_creates_missing_parent_folders(tmp_path):
    path = build_shop(tmp_path / "a" / "b" / "shop.db", size="tiny")
    assert _describe(path) is not None


# --- deterministic --------------------------------------------------------------------------------


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
    with pytest.warns(UserWarning, match="replaced .* built with size='tiny', seed=1"):
        build_shop(path, size="tiny", seed=2)
    assert _describe(path)["seed"] == 2


def test_a_damaged_shop_of_the_course_is_rebuilt(tmp_path, tiny_shop_path):
    path = tmp_path / "shop.db"
    path.write_bytes(
        tiny_shop_path.read_bytes()[:100] + os.urandom(8192)
    )  # our header, then garbage
    with pytest.warns(UserWarning, match="replaced .* damaged"):
        build_shop(path, size="tiny")
    assert all_rows(path) == all_rows(tiny_shop_path)


@pytest.mark.parametrize("kept", [0.99, 0.5, 0.01])
def test_a_truncated_shop_is_not_reused_but_rebuilt(tmp_path, tiny_shop_path, kept):
    """With 1 % cut off, SQLite still opens the file; the header's page count says it is short."""
    path = tmp_path / "shop.db"
    whole = tiny_shop_path.read_bytes()
    path.write_bytes(whole[: int(len(whole) * kept)])
    assert _describe(path) is None
    with pytest.warns(UserWarning, match="replaced .* truncated"):
        build_shop(path, size="tiny")
    assert all_rows(path) == all_rows(tiny_shop_path)
    assert _verify_shop(path) == ["ok"]


def test_a_shop_missing_rows_is_rebuilt_not_reused(tmp_path, tiny_shop_path):
    path = tmp_path / "shop.db"
    shutil.copyfile(tiny_shop_path, path)
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("DELETE FROM orders WHERE id > 9990")
    assert _describe(path) is not None, "a shop written to is still whole (a scratch copy)"
    with pytest.warns(UserWarning, match="replaced .* fewer rows"):
        build_shop(path, size="tiny")
    assert all_rows(path) == all_rows(tiny_shop_path), "but build_shop gives back the shop as built"


def test_a_shop_changed_by_the_courses_own_sales_is_kept_with_a_warning(tmp_path):
    """A sale adds orders: the next build_shop() once rebuilt the file under the service that
    sold (issue 18). Changed by the course is not damaged: kept, and said."""
    path = build_shop(tmp_path / "shop.db", size="tiny")
    shop = Shop(path)
    shop.sell(3, quantity=1)
    shop.set_price(4, 1_234)
    before = file_identity(path)
    with pytest.warns(UserWarning, match="1 order.* more than it was built with.*kept"):
        assert build_shop(path, size="tiny") == path
    assert file_identity(path) == before, "not rebuilt"
    assert shop.sell(3, quantity=1)["id"] == 3, "the open shop still writes to the file"
    assert shop.product(4)["price_cents"] == 1_234
    shop.close()


def test_a_shop_whose_writer_was_killed_mid_sale_is_recovered_not_rebuilt(tmp_path, recwarn):
    """A killed writer leaves a hot journal; SQLite rolls it back, and the shop is reused."""
    path = build_shop(tmp_path / "shop.db", size="tiny")
    killed_mid_sale = textwrap.dedent("""
        import os, sqlite3, sys
        connection = sqlite3.connect(sys.argv[1], isolation_level=None)
        connection.execute("PRAGMA cache_size = 1")  # spill: the file itself is written too
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE products SET stock = stock - 1")
        connection.execute("INSERT INTO orders (product_id, quantity, ordered_at) "
                           "SELECT product_id, quantity, ordered_at FROM orders LIMIT 3000")
        os._exit(1)
    """)
    subprocess.run([sys.executable, "-c", killed_mid_sale, str(path)], timeout=60)
    assert path.with_name("shop.db-journal").stat().st_size > 0, "a hot journal is left"
    inode = path.stat().st_ino
    assert build_shop(path, size="tiny") == path
    assert path.stat().st_ino == inode, "recovered in place, not rebuilt"
    assert all_rows(path) == all_rows(build_shop(tmp_path / "fresh.db", size="tiny"))
    assert [str(w.message) for w in recwarn] == []


def test_an_empty_file_is_replaced_without_a_warning(tmp_path, recwarn):
    path = tmp_path / "shop.db"
    path.touch()
    build_shop(path, size="tiny")
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"my notes, not a database\n", id="notes"),
        # seeded: pytest-xdist's workers must collect the same tests, names included
        pytest.param(random.Random(0).randbytes(4096), id="random bytes"),
        pytest.param(b"SQLite format 3\x00", id="a bare SQLite header"),
    ],
)
def test_a_file_the_course_did_not_make_is_never_overwritten(tmp_path, content):
    """``build_shop("notes.txt")`` used to overwrite the notes with a database."""
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(FileExistsError, match="not a file the course made"):
        build_shop(path, size="tiny")
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"], (
        "no partial file left behind"
    )


def test_a_folder_in_the_way_is_a_clear_error(tmp_path):
    (tmp_path / "shop.db").mkdir()
    with pytest.raises(IsADirectoryError, match="not a shop database"):
        build_shop(tmp_path / "shop.db", size="tiny")


@pytest.mark.parametrize(
    "folder", ["course #2", "what?", "100% done", "with space", "ünïcode ✓", "a#b?c%d"]
)
def test_a_shop_in_a_folder_with_uri_characters_is_found_and_reused(tmp_path, folder):
    """Unquoted, ``file:{path}?mode=ro`` read ``course #2/`` as ``course `` and made that file."""
    path = build_shop(tmp_path / folder / "shop-tiny.db", size="tiny")
    built = path.stat().st_mtime_ns
    assert _describe(path) is not None and _is_course_file(path)
    assert build_shop(path, size="tiny") == path and path.stat().st_mtime_ns == built, (
        "reused, not rebuilt"
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["shop-tiny.db"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder], "no stray file beside the folder"
    shop = Shop(path)
    assert shop.product(1)["id"] == 1
    shop.close()


def test_an_empty_file_is_rebuilt(tmp_path):
    path = tmp_path / "shop.db"
    path.touch()
    build_shop(path, size="tiny")
    assert _describe(path)["complete"] is True


def test_a_partial_database_without_the_complete_mark_is_rebuilt(tmp_path, tiny_shop_path):
    path = build_shop(tmp_path / "shop.db", size="tiny")
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("DELETE FROM cachelab_meta WHERE key = 'complete'")
        connection.execute("DELETE FROM orders WHERE id > 5000")
    connection.close()
    assert _describe(path) is None
    with pytest.warns(UserWarning, match="replaced .* partial"):
        build_shop(path, size="tiny")
    assert _describe(path)["complete"] is True
    assert all_rows(path) == all_rows(tiny_shop_path)


def test_a_foreign_sqlite_database_is_never_overwritten(tmp_path):
    path = tmp_path / "precious.db"
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)")
        connection.execute("INSERT INTO customers (email) VALUES ('ada@example.com')")
    connection.close()
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="refusing to overwrite") as error:
        build_shop(path, size="tiny")
    assert str(path) in str(error.value) and "customers" in str(error.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.db"]


# --- one build at a time -------------------------------------------------------------------------

HOLD_THE_BUILD_LOCK = textwrap.dedent("""
    import shutil, sqlite3, sys
    from cachelab.shop._build_lock import build_lock
    with build_lock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.readline()
        shutil.copyfile(sys.argv[2], sys.argv[1])  # the build this process "finishes",
        marked = sqlite3.connect(sys.argv[1])  # marked as its own
        marked.execute("PRAGMA user_version = 7")
        marked.close()
""")


def hold_the_build_lock(path: Path, source: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_BUILD_LOCK, str(path), str(source)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_the_build_lock_is_held_by_one_process_and_leaves_no_file(tmp_path, tiny_shop_path):
    path = tmp_path / "shop-tiny.db"
    holder = hold_the_build_lock(path, tiny_shop_path)
    with build_lock(path, wait=False) as held:
        assert held is False, "another process holds it"
    holder.communicate("go\n", timeout=60)
    with build_lock(path, wait=False) as held:
        assert held is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop-tiny.db"]


def test_a_build_waits_for_another_processs_build_and_reuses_it(tmp_path, tiny_shop_path):
    """Two builds of one path: the second waits for the first, then reuses its file."""
    path = tmp_path / "shop-tiny.db"
    holder = hold_the_build_lock(path, tiny_shop_path)
    built: list[Path] = []
    waiter = threading.Thread(target=lambda: built.append(build_shop(path, size="tiny")))
    waiter.start()
    holder.communicate("go\n", timeout=60)
    waiter.join(timeout=60)
    assert built == [path]
    marked = sqlite3.connect(path)
    assert marked.execute("PRAGMA user_version").fetchone() == (7,), "rebuilt, not reused"
    marked.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop-tiny.db"], "no partial build"


# --- bad input and paths --------------------------------------------------------------------------


def test_an_unknown_size_is_a_value_error_listing_the_sizes(tmp_path):
    expected = r"size must be one of 'tiny', 'small', 'default', got 'huge'"
    with pytest.raises(ValueError, match=expected):
        build_shop(tmp_path / "shop.db", size="huge")


@pytest.mark.parametrize("seed", ["42", 4.2, True, None])
def test_a_seed_that_is_not_a_whole_number_is_a_type_error(tmp_path, seed):
    with pytest.raises(TypeError, match="seed must be a whole number"):
        build_shop(tmp_path / "shop.db", size="tiny", seed=seed)


def test_the_default_path_follows_cachelab_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    assert data._default_path("tiny") == tmp_path / "shop-tiny.db"


def test_without_a_path_the_shop_is_built_at_the_default_path(monkeypatch, tmp_path):
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    assert build_shop(size="tiny") == tmp_path / "shop-tiny.db"
    assert _describe(tmp_path / "shop-tiny.db") is not None


def test_a_scratch_shop_is_a_separate_copy(monkeypatch, tmp_path):
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    source = build_shop(size="tiny")
    before = source.read_bytes()
    scratch = data.scratch_shop(size="tiny")
    assert scratch != source and scratch.parent != source.parent
    with closing(sqlite3.connect(scratch)) as connection, connection:
        connection.execute("UPDATE products SET stock = 0")
    connection.close()
    assert source.read_bytes() == before


# --- scratch copies -------------------------------------------------------------------------------


def test_scratch_copies_of_one_process_share_one_folder_named_after_it(monkeypatch, tmp_path):
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    first, second = data.scratch_shop("tiny"), data.scratch_shop("tiny")
    assert first != second and first.parent == second.parent
    assert first.parent.name.startswith(f"{data._SCRATCH_PREFIX}{os.getpid()}-")


def test_a_sweep_removes_the_scratch_folders_of_dead_processes_only(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    gone = tmp_path / f"{data._SCRATCH_PREFIX}{dead_pid}-abc"
    mine = tmp_path / f"{data._SCRATCH_PREFIX}{os.getpid()}-def"
    unrelated = tmp_path / "cachelab-shop-12345"  # not a name the sweep owns
    for folder in (gone, mine, unrelated):
        folder.mkdir()
        (folder / "shop-default.db").write_bytes(b"x")
    assert data._sweep_scratch_folders(tmp_path) == [gone]
    assert not gone.exists() and mine.exists() and unrelated.exists()


def test_a_killed_process_leaves_no_scratch_copy_behind(tmp_path):
    """The watchdog removes a killed kernel's scratch folder, as it stops its Redis."""
    script = textwrap.dedent(f"""
        import os, sys, time
        os.environ["CACHELAB_DATA_DIR"] = {str(tmp_path)!r}
        from cachelab.shop import data
        print(data.scratch_shop("tiny").parent, flush=True)
        time.sleep(60)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    folder = Path(owner.stdout.readline().strip())
    assert folder.is_dir()
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 10
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not folder.exists(), "the watchdog should have removed the folder within a second or two"
