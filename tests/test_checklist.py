"""Lesson 00's checklist: each row passes on a ready machine, says what to fix on a broken one."""

from __future__ import annotations

import sqlite3
from importlib import metadata
from pathlib import Path

import redis
from packaging.requirements import Requirement

from cachelab.environment import checklist
from cachelab.environment.checklist import Row


def test_python_row_accepts_this_python():
    assert checklist.python_row().ok


def test_python_row_rejects_versions_outside_the_supported_range():
    for version in [(3, 10, 14), (3, 15, 0), (2, 7, 18)]:
        row = checklist.python_row(version)
        assert not row.ok
        assert "3.11–3.14" in row.detail


def test_python_row_accepts_every_supported_version():
    for version in [(3, 11, 0), (3, 12, 8), (3, 13, 0), (3, 14, 0)]:
        assert checklist.python_row(version).ok, version


def test_the_required_packages_are_the_course_dependencies_without_the_test_tools():
    required = checklist._required_packages()
    declared = {
        Requirement(text).name  # installed metadata may spell "a>=1,<2" as "a<2,>=1"
        for text in metadata.requires("cachelab")
        if "extra ==" not in text
    }
    assert set(required) - {"hiredis"} == declared
    assert (
        required["jupyterlab"] == "4.0" and required["hiredis"] is None
    )  # minimums from pyproject.toml
    assert "nbval" not in required and "pytest" not in required, (
        "test tools are not the learner's packages"
    )


def test_every_required_package_is_installed_at_a_working_version():
    rows = checklist.package_rows()
    assert [row.item for row in rows] == list(checklist._required_packages())
    assert checklist._problems(rows) == [], checklist.problem_message(rows)


def test_a_missing_package_says_how_to_install_it():
    row = checklist._package_row("cachelab-no-such-package")
    assert not row.ok
    assert row.detail.startswith("not installed") and "make lab" in row.detail


def test_a_too_old_package_names_the_version_needed():
    row = checklist._package_row("tqdm", minimum="999.0")
    assert not row.ok
    assert "too old (need ≥ 999.0)" in row.detail


def test_versions_compare_by_their_numbers_not_as_text():
    assert checklist._package_row(
        "tqdm", minimum="4.9"
    ).ok  # 4.70 is newer than 4.9, though "4.7" < "4.9" as text


def test_shop_row_counts_products_and_orders(tiny_shop_path: Path):
    row = checklist.shop_row(tiny_shop_path)
    assert row.ok, row.detail
    assert "100 products" in row.detail and "10,000 orders" in row.detail
    assert "the tiny shop" in row.detail, "the row names the shop's size"


def test_shop_row_without_building_reports_a_missing_database(tmp_path: Path):
    row = checklist.shop_row(tmp_path / "missing.db", build=False)
    assert not row.ok
    assert "build_shop" in row.detail
    assert not (tmp_path / "missing.db").exists()


def test_shop_row_fails_on_a_database_that_is_not_the_shop(tmp_path: Path):
    foreign = tmp_path / "other.db"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.commit()
    connection.close()
    row = checklist.shop_row(foreign)
    assert not row.ok
    assert "refusing to overwrite" in row.detail


def test_redis_row_reports_the_ping_latency(redis_client: redis.Redis):
    row = checklist.redis_row(redis_client, pings=20)
    assert row.ok, row.detail
    assert "µs over 20 PINGs" in row.detail


def test_redis_row_names_valkey_as_valkey(stoppable_redis):
    """Valkey's INFO says redis_version:7.2.4; the row names what runs, and its Redis level."""
    client = stoppable_redis.client()
    row = checklist.redis_row(client, pings=5)
    info = client.info("server")
    if "valkey_version" in info:
        assert f"Valkey {info['valkey_version']} (Redis-compatible: 7.2.4)" in row.detail
    else:
        assert f"Redis {info['redis_version']}" in row.detail


def test_redis_row_fails_with_the_reason_when_the_server_is_gone(stoppable_redis):
    client = stoppable_redis.client()
    stoppable_redis.stop()
    row = checklist.redis_row(client, pings=5)
    assert not row.ok
    assert row.detail.startswith("ConnectionError: ") and "redis.sock" in row.detail


def test_problem_message_lists_only_the_rows_that_failed():
    rows = [Row("a", True, "fine"), Row("b", False, "install b"), Row("c", False, "fix c")]
    assert checklist.problem_message(rows) == "❌ b: install b\n❌ c: fix c"
    assert checklist.problem_message(rows[:1]) == ""


def test_the_table_escapes_details_and_marks_each_row():
    table = checklist.show([Row("x", True, "<ok>"), Row("y", False, "a & b")])._repr_html_()
    assert "&lt;ok&gt;" in table and "a &amp; b" in table
    assert table.count("✅") == 1 and table.count("❌") == 1
    assert repr(checklist.show([Row("x", True, "fine")])).splitlines()[-1].split() == [
        "✅",
        "x",
        "fine",
    ]


def test_a_multi_line_detail_keeps_its_line_breaks_in_the_table():
    table = checklist.show(
        [Row("Redis", False, "cannot reach it\nHow to get a Redis server:")]
    )._repr_html_()
    assert "cannot reach it<br>How to get a Redis server:" in table


def test_an_unreachable_redis_url_is_a_failed_row_with_advice(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    row = checklist.redis_row(pings=5)
    assert not row.ok
    assert "127.0.0.1:1" in row.detail and "How to get a Redis server" in row.detail
