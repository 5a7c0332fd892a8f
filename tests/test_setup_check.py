"""Lesson 00's checklist: each check passes on a ready machine and says what to fix on a broken one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import redis

from cachelab import setup_check
from cachelab.setup_check import CheckRow


def test_python_check_accepts_this_python():
    assert setup_check.check_python().ok


def test_python_check_rejects_versions_outside_the_supported_range():
    for version in [(3, 9, 18), (3, 13, 0), (2, 7, 18)]:
        row = setup_check.check_python(version)
        assert not row.ok
        assert "3.10–3.12" in row.detail


def test_every_required_package_is_installed_at_a_working_version():
    rows = setup_check.check_packages()
    assert [row.item for row in rows] == list(setup_check.REQUIRED_PACKAGES)
    assert setup_check.failures(rows) == [], setup_check.failure_message(rows)


def test_a_missing_package_says_how_to_install_it():
    row = setup_check.check_package("cachelab-no-such-package")
    assert not row.ok
    assert "not installed" in row.detail and "make lab" in row.detail


def test_a_too_old_package_names_the_version_needed():
    row = setup_check.check_package("tqdm", minimum="999.0")
    assert not row.ok
    assert "too old" in row.detail and "999.0" in row.detail


def test_versions_compare_by_their_numbers_not_as_text():
    assert setup_check._version_tuple("4.10.0") > setup_check._version_tuple("4.9")
    assert setup_check._version_tuple("8.1.0rc2") == (8, 1, 0)


def test_shop_check_counts_products_and_orders(tiny_shop_path: Path):
    row = setup_check.check_shop(tiny_shop_path)
    assert row.ok, row.detail
    assert "100 products" in row.detail and "10,000 orders" in row.detail


def test_shop_check_without_building_reports_a_missing_database(tmp_path: Path):
    row = setup_check.check_shop(tmp_path / "missing.db", build=False)
    assert not row.ok
    assert "build_shop" in row.detail
    assert not (tmp_path / "missing.db").exists()


def test_shop_check_fails_on_a_database_that_is_not_the_shop(tmp_path: Path):
    foreign = tmp_path / "other.db"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.commit()
    connection.close()
    row = setup_check.check_shop(foreign)
    assert not row.ok
    assert "refusing to overwrite" in row.detail


def test_redis_check_reports_the_ping_latency(redis_client: redis.Redis):
    row = setup_check.check_redis(redis_client, pings=20)
    assert row.ok, row.detail
    assert "µs over 20 PINGs" in row.detail


def test_redis_check_fails_with_the_reason_when_the_server_is_gone(stoppable_redis):
    client = stoppable_redis.client()
    stoppable_redis.stop()
    row = setup_check.check_redis(client, pings=5)
    assert not row.ok
    assert "Error" in row.detail


def test_failure_message_lists_only_the_failed_rows():
    rows = [CheckRow("a", True, "fine"), CheckRow("b", False, "install b"), CheckRow("c", False, "fix c")]
    assert setup_check.failure_message(rows) == "❌ b: install b\n❌ c: fix c"
    assert setup_check.failure_message(rows[:1]) == ""


def test_the_table_escapes_details_and_marks_each_row():
    table = setup_check.to_html([CheckRow("x", True, "<ok>"), CheckRow("y", False, "a & b")])
    assert "&lt;ok&gt;" in table and "a &amp; b" in table
    assert table.count("✅") == 1 and table.count("❌") == 1
    assert repr(setup_check.show([CheckRow("x", True, "fine")])) == "✅ x: fine"


def test_a_multi_line_detail_keeps_its_line_breaks_in_the_table():
    table = setup_check.to_html([CheckRow("Redis", False, "cannot reach it\nHow to get a Redis server:")])
    assert "cannot reach it<br>How to get a Redis server:" in table


def test_an_unreachable_redis_url_is_a_failed_row_with_advice(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    row = setup_check.check_redis(pings=5)
    assert not row.ok
    assert "127.0.0.1:1" in row.detail and "How to get a Redis server" in row.detail
