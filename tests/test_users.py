"""Signed-in users and their notifications (lesson 09): added to a shop copy without touching its
products and orders; read and written through the Shop."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3

import pytest

from cachelab.shop.app import Shop
from cachelab.shop.data import DATA_END, add_users


def digest(path, tables=("products", "orders")) -> str:
    connection = sqlite3.connect(path)
    try:
        h = hashlib.sha256()
        for table in tables:
            for row in connection.execute(f"SELECT * FROM {table} ORDER BY id"):  # our tables
                h.update(repr(row).encode())
        return h.hexdigest()
    finally:
        connection.close()


@pytest.fixture
def user_shop_path(tiny_shop_path, tmp_path):
    copy = tmp_path / "shop.db"
    shutil.copyfile(tiny_shop_path, copy)
    return add_users(copy, users=30)


def test_adding_users_leaves_products_and_orders_exactly_as_built(tiny_shop_path, tmp_path):
    copy = tmp_path / "shop.db"
    shutil.copyfile(tiny_shop_path, copy)
    before = digest(copy)
    add_users(copy, users=30)
    assert digest(copy) == before


def test_the_same_seed_gives_the_same_users_and_notifications(tiny_shop_path, tmp_path):
    paths = []
    for name in ("a.db", "b.db"):
        shutil.copyfile(tiny_shop_path, tmp_path / name)
        paths.append(add_users(tmp_path / name, users=30, seed=7))
    tables = ("users", "notifications")
    assert digest(paths[0], tables) == digest(paths[1], tables)


def test_adding_users_twice_changes_nothing(user_shop_path):
    before = digest(user_shop_path, ("users", "notifications"))
    add_users(user_shop_path, users=99)
    assert digest(user_shop_path, ("users", "notifications")) == before


def test_adding_users_refuses_a_file_that_is_not_a_shop(tmp_path):
    with pytest.raises(FileNotFoundError, match="no complete shop database"):
        add_users(tmp_path / "missing.db")
    with pytest.raises(ValueError, match="users must be a whole number"):
        add_users(tmp_path / "missing.db", users=0)


def test_notifications_come_newest_first_and_at_most_limit(user_shop_path):
    shop = Shop(user_shop_path)
    counts = dict(
        shop.db.execute("SELECT user_id, COUNT(*) FROM notifications GROUP BY user_id").fetchall()
    )
    busiest = max(counts, key=counts.get)
    rows = shop.notifications(busiest, limit=3)
    assert len(rows) == min(3, counts[busiest])
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert shop.queries == 1, "one query (the GROUP BY above went around the counter)"


def test_a_user_without_notifications_has_an_empty_list(user_shop_path):
    shop = Shop(user_shop_path)
    quiet = shop.db.execute(
        "SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM notifications)"
    ).fetchone()
    if quiet is None:  # make one: this seed may have given everyone something
        quiet = (shop.db.execute("INSERT INTO users (name) VALUES ('Quiet')").lastrowid,)
        shop.db.conn.commit()
    assert shop.notifications(quiet[0]) == []


def test_notify_adds_a_notification_that_the_user_sees_first(user_shop_path):
    shop = Shop(user_shop_path)
    sent = shop.notify(3, "Your kettle has shipped")
    assert sent["message"] == "Your kettle has shipped" and DATA_END <= sent["created_at"]
    assert shop.notifications(3)[0] == sent


def test_an_unknown_user_is_a_lookup_error_and_nothing_is_written(user_shop_path):
    shop = Shop(user_shop_path)
    before = shop.db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0]
    with pytest.raises(LookupError, match="no user with id 999"):
        shop.notify(999, "hello")
    with pytest.raises(LookupError, match="no user with id 999"):
        shop.notifications(999)
    assert shop.db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0] == before


@pytest.mark.parametrize(
    "user_id, message, error",
    [
        (0, "hi", ValueError),
        ("3", "hi", TypeError),
        (3, "", ValueError),
        (3, "x" * 501, ValueError),
    ],
)
def test_notify_checks_its_arguments(user_shop_path, user_id, message, error):
    with pytest.raises(error):
        Shop(user_shop_path).notify(user_id, message)


def test_a_shop_without_users_says_how_to_add_them(shop):
    with pytest.raises(LookupError, match="add_users"):
        shop.notifications(1)
    with pytest.raises(LookupError, match="add_users"):
        shop.notify(1, "hello")


def test_the_highest_product_id_is_the_catalogue_size(shop):
    assert shop.max_product_id() == 100
    assert shop.queries == 1
