"""Lesson 00's checklist: is this machine ready for the course?

Each check returns one ``CheckRow``: the item checked, whether it is fine, and a
detail -- what was found when it is fine, *what to do* when it is not. Lesson 00
shows the rows as a ✅/❌ table and then asserts that none failed, so a broken
environment fails CI with a message that says what to fix.

>>> rows = run_checks()                          # doctest: +SKIP
>>> show(rows)             # an HTML table in Jupyter   # doctest: +SKIP
>>> [row.item for row in rows if not row.ok]     # doctest: +SKIP
[]
"""

from __future__ import annotations

import html
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import NamedTuple, Optional, Sequence, Union

PYTHON_SUPPORTED = ((3, 10), (3, 12))
"""The oldest and newest Python (major, minor) the course supports, both included."""

REQUIRED_PACKAGES: dict[str, str] = {
    "jupyterlab": "4.0",
    "ipywidgets": "8.0",
    "matplotlib": "3.7",
    "sqlite-utils": "3.35",
    "redis": "5.0",
    "hiredis": "2.0",
    "tqdm": "4.60",
    "nbval": "0.11",
}
"""Distribution name → oldest version that works, as in ``pyproject.toml``."""

INSTALL_HINT = "run `make lab` (or `pip install -e '.[test]'` in the course folder), then restart the kernel"


class CheckRow(NamedTuple):
    """One line of the checklist."""

    item: str
    ok: bool
    detail: str


def _version_tuple(version: str) -> tuple[int, ...]:
    """``'4.2.1rc1'`` → ``(4, 2, 1)``: the leading numbers of a version, enough to compare with a minimum."""
    numbers = []
    for part in version.split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        numbers.append(int(digits))
        if digits != part:
            break
    return tuple(numbers)


def check_python(version_info: Sequence[int] = sys.version_info) -> CheckRow:
    """Python itself: a version between ``PYTHON_SUPPORTED``'s bounds."""
    major_minor = (int(version_info[0]), int(version_info[1]))
    shown = ".".join(str(part) for part in version_info[:3])
    (low, high) = PYTHON_SUPPORTED
    ok = low <= major_minor <= high
    supported = f"{low[0]}.{low[1]}–{high[0]}.{high[1]}"
    detail = f"{shown} (supported: {supported})" if ok else (
        f"{shown} is not supported; install Python {supported} "
        f"(or use the conda environment in environment.yml) and recreate .venv"
    )
    return CheckRow("Python", ok, detail)


def check_package(distribution: str, minimum: Optional[str] = None) -> CheckRow:
    """One installed package: present, and at least ``minimum`` when one is given."""
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return CheckRow(distribution, False, f"not installed: {INSTALL_HINT}")
    if minimum is not None and _version_tuple(version) < _version_tuple(minimum):
        return CheckRow(distribution, False, f"{version} is too old (need ≥ {minimum}): {INSTALL_HINT}")
    detail = version
    if distribution == "hiredis":
        detail += _hiredis_in_use()
    return CheckRow(distribution, True, detail)


def _hiredis_in_use() -> str:
    try:
        from redis.utils import HIREDIS_AVAILABLE
    except ImportError:  # redis-py missing: its own row says so
        return ""
    return " (redis-py parses replies with it)" if HIREDIS_AVAILABLE else " (installed, but redis-py is not using it)"


def check_packages(required: Optional[dict[str, str]] = None) -> list[CheckRow]:
    """A row per package in ``required`` (default ``REQUIRED_PACKAGES``)."""
    required = REQUIRED_PACKAGES if required is None else required
    return [check_package(name, minimum) for name, minimum in required.items()]


def check_shop(path: Union[str, Path, None] = None, build: bool = True) -> CheckRow:
    """The shop database at ``path`` (default: the lessons' one): readable, with its rows counted.

    When ``build`` is true, a missing, partial or corrupt database is built first
    (the default size); a complete shop of any size is used as it is.
    """
    try:
        from cachelab.app import Shop
        from cachelab.data import build_shop, default_path, describe

        where = Path(path) if path is not None else default_path()
        if build and describe(where) is None:  # missing, partial or corrupt: (re)build the default shop
            where = build_shop(where)
        shop = Shop(where)
        try:
            products = shop.db["products"].count
            orders = shop.db["orders"].count
        finally:
            shop.close()
    except Exception as error:  # any failure here is a row of the checklist, not a crash
        return CheckRow("shop database", False, f"{type(error).__name__}: {error}")
    if not products or not orders:
        return CheckRow("shop database", False, f"{where} holds {products} products and {orders} orders; "
                                                f"delete it and run `python -m cachelab.data` to rebuild it")
    return CheckRow("shop database", True, f"{products:,} products, {orders:,} orders in {where}")


def redis_source(client=None) -> str:
    """Where the course's Redis comes from: ``REDIS_URL`` (password hidden) or the private server's program."""
    from cachelab import redis_server

    url = os.environ.get("REDIS_URL")
    if url:
        return f"from REDIS_URL = {redis_server._safe(url)}"
    server = redis_server._shared_server
    executable = server.executable if server is not None else redis_server.find_redis_server()
    where = f" on {redis_server.url_of(client)}" if client is not None else ""
    return f"a private server ({executable}){where}"


def check_redis(client=None, pings: int = 200) -> CheckRow:
    """Redis: reachable, and the median round trip of ``pings`` PINGs (in µs)."""
    try:
        from cachelab.redis_server import connect
        from cachelab.timing import measure

        client = client if client is not None else connect()
        source = redis_source(client)
        timing = measure(client.ping, repeat=pings, warmup=5, label="PING")
    except Exception as error:
        return CheckRow("Redis", False, f"{type(error).__name__}: {error}")
    try:
        version = "Redis " + client.info("server")["redis_version"]
    except Exception:  # some hosted servers disable INFO; the PING is what matters
        version = "Redis (version hidden)"
    return CheckRow("Redis", True, f"PING median {timing.median_us:,.1f} µs over {pings} PINGs; "
                                   f"{version}, {source}")


def run_checks(shop_path: Union[str, Path, None] = None, redis_client=None, pings: int = 200) -> list[CheckRow]:
    """Every check of lesson 00 except the widget (which needs a browser): Python, packages, shop, Redis."""
    return [check_python(), *check_packages(), check_shop(shop_path), check_redis(redis_client, pings)]


def failures(rows: Sequence[CheckRow]) -> list[CheckRow]:
    """The rows that are not fine."""
    return [row for row in rows if not row.ok]


def failure_message(rows: Sequence[CheckRow]) -> str:
    """One line per failed row, ``item: what to do``; empty when everything passed."""
    return "\n".join(f"❌ {row.item}: {row.detail}" for row in failures(rows))


def to_html(rows: Sequence[CheckRow]) -> str:
    """The rows as a small HTML table: ✅/❌, item, detail."""
    lines = ["<table>", "<thead><tr><th></th><th style='text-align:left'>item</th>"
             "<th style='text-align:left'>detail</th></tr></thead>", "<tbody>"]
    for row in rows:
        lines.append(
            f"<tr><td>{'✅' if row.ok else '❌'}</td><td style='text-align:left'>{html.escape(row.item)}</td>"
            f"<td style='text-align:left'>{html.escape(row.detail).replace(chr(10), '<br>')}</td></tr>"
        )
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


class Checklist:
    """Rows shown as an HTML table in a notebook, and as plain lines anywhere else (logs, terminals)."""

    def __init__(self, rows: Sequence[CheckRow]) -> None:
        self.rows = list(rows)

    def _repr_html_(self) -> str:
        return to_html(self.rows)

    def __repr__(self) -> str:
        return "\n".join(f"{'✅' if row.ok else '❌'} {row.item}: {row.detail}" for row in self.rows)


def show(rows: Sequence[CheckRow]) -> Checklist:
    """The rows, ready to be the last value of a notebook cell: a ✅/❌ table."""
    return Checklist(rows)
