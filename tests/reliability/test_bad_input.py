"""Hostile input to every public function and widget: a clear, specific error, and nothing lost.

One table of cases, each a call and the outcome it must have: an exception of a given
kind whose message names what was wrong, or a value. Afterwards the shop passes
SQLite's ``integrity_check`` with its row counts unchanged, and the cache holds
exactly what the accepted cases stored. Every call runs against a real shop copy and
a private Redis server of the suite's own.
"""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from cachelab import checks, keys
from cachelab.cache import CacheKeyError, MemoryCache, RedisCache, to_json
from cachelab.clock import FakeClock
from cachelab.environment.redis_server import PrivateRedisServer, RedisNotFoundError, connect
from cachelab.invalidation import DeleteOnWrite, LeaseCache, VersionedKeys
from cachelab.lab import loadtest, timing
from cachelab.lab.sim import model, simulate
from cachelab.lab.staleness import make_schedule
from cachelab.lab.workload import poisson_arrivals
from cachelab.shop.app import OutOfStock, Shop
from cachelab.shop.data import _describe, _verify_shop, build_shop
from cachelab.show import ttl_dashboard as widgets  # the module: widgets.ttl_dashboard() below

PREFIX = "cachelab:ada:hostile:"


@dataclass(frozen=True)
class Case:
    """One hostile call: what it is, the call, and its outcome (an exception and a message part)."""

    name: str
    call: Callable[["World"], Any]
    raises: Optional[type] = None
    message: str = ""


@dataclass
class World:
    """What the calls act on: a shop copy, the two caches, a private server."""

    shop: Shop
    memory: MemoryCache
    redis: RedisCache
    server: PrivateRedisServer
    folder: Path


def looped() -> list:
    value: list = []
    value.append(value)
    return value


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


BAD_KEYS = [  # (what, key, exception)
    ("None", None, TypeError),
    ("an int", 42, TypeError),
    ("a float", 1.5, TypeError),
    ("bytes", b"product:1", TypeError),
    ("a tuple", ("a",), TypeError),
    ("empty", "", ValueError),
    ("a newline", "a\nb", ValueError),
    ("a NUL", "a\x00b", ValueError),
    ("a tab", "a\tb", ValueError),
    ("1 MB", "k" * 1_000_000, ValueError),
]
ODD_BUT_FINE_KEYS = ["with spaces", "ünïcödé:ключ:鍵", "glob*?[x]\\", "quote'\"`", "x" * 1_000]
BAD_TTLS = [
    0,
    -1,
    -0.5,
    math.nan,
    math.inf,
    -math.inf,
    1e20,
    10**400,
    "60",
    True,
    [60],
    365 * 86_400 + 1,
]
BAD_VALUES = [  # (what, value, exception, message part)
    ("a set", {1, 2}, TypeError, "holds a set"),
    ("an object", object(), TypeError, "holds an object"),
    ("bytes", b"\x00", TypeError, "holds a bytes"),
    ("NaN", math.nan, ValueError, "JSON"),
    ("infinity", math.inf, ValueError, "JSON"),
    ("NaN inside", {"price": math.nan}, ValueError, "JSON"),
    ("a list in itself", looped(), ValueError, "JSON"),
    ("nested 100,000 deep", nested(100_000), ValueError, "JSON"),
    ("a tuple as a key", {(1, 2): "pair"}, TypeError, "as a key"),
]
BAD_IDS = [  # (what, id, exception)
    ("True", True, TypeError),
    ("1.0", 1.0, TypeError),
    ("1.9", 1.9, TypeError),
    ("'1'", "1", TypeError),
    ("' 1 '", " 1 ", TypeError),
    ("None", None, TypeError),
    ("0", 0, ValueError),
    ("-1", -1, ValueError),
    ("2**63", 2**63, ValueError),
    ("[1]", [1], TypeError),
    ("SQL in a string", "1; DROP TABLE products", TypeError),
    ("a quote", "1' OR '1'='1", TypeError),
]
BAD_COUNTS = [0, -7, 2.5, "7", True, None, 2**63, "7 OR 1=1"]
BAD_URLS = [  # (url, exception, message part)
    ("", ValueError, "non-empty"),
    ("localhost:6379", ValueError, "not a Redis URL"),
    ("http://localhost:6379", ValueError, "not a Redis URL"),
    ("redis://", ValueError, "names no host"),
    ("redis://localhost:notaport/0", ValueError, "not a port number"),
    ("unix://", ValueError, "no socket path"),
    ("redis://127.0.0.1:1/abc", ValueError, "whole number"),
    ("redis://127.0.0.1:1/-1", ValueError, "whole number"),
    ("redis://127.0.0.1:1/0", RedisNotFoundError, "cannot reach Redis"),
    ("redis://:s3cret@127.0.0.1:1/0", RedisNotFoundError, ":***@"),
    ("unix:///no/such/redis.sock", RedisNotFoundError, "cannot reach Redis"),
]


def cache_cases() -> list[Case]:
    cases = []
    for kind in ("memory", "redis"):
        for what, key, error in BAD_KEYS:
            for operation in ("get", "set", "delete", "get_or_load", "add"):
                cases.append(
                    Case(
                        f"{kind}.{operation}(key={what})",
                        _cache_call(kind, operation, key),
                        error,
                        "cache keys",
                    )
                )
        for ttl in BAD_TTLS:
            cases.append(
                Case(
                    f"{kind}.set(ttl={ttl!r:.20})",
                    lambda w, k=kind, t=ttl: _cache(w, k).set("t", 1, ttl=t),
                    (TypeError, ValueError),
                    "ttl must be",
                )
            )
            cases.append(
                Case(
                    f"{kind}.get_or_load(ttl={ttl!r:.20})",
                    lambda w, k=kind, t=ttl: _cache(w, k).get_or_load("t", _no_loader, ttl=t),
                    (TypeError, ValueError),
                    "ttl must be",
                )
            )
        for key in ODD_BUT_FINE_KEYS:
            cases.append(
                Case(
                    f"{kind} stores the key {key[:20]!r}",
                    lambda w, k=kind, key=key: _round_trip(w, k, key),
                )
            )
    for what, value, error, message in BAD_VALUES:
        cases.append(
            Case(f"redis.set(value={what})", lambda w, v=value: w.redis.set("v", v), error, message)
        )
        cases.append(Case(f"to_json({what})", lambda w, v=value: to_json(v), error, message))
    return cases


def _no_loader() -> Any:
    raise AssertionError("the loader must not run for a request that is refused")


def _cache(world: World, kind: str) -> Any:
    return world.memory if kind == "memory" else world.redis


def _cache_call(kind: str, operation: str, key: Any) -> Callable[[World], Any]:
    def run(world: World) -> Any:
        cache = _cache(world, kind)
        if operation == "get":
            return cache.get(key)
        if operation == "delete":
            return cache.delete(key)
        if operation == "get_or_load":
            return cache.get_or_load(key, _no_loader)
        return getattr(cache, operation)(key, "value")

    return run


def _round_trip(world: World, kind: str, key: str) -> None:
    cache = _cache(world, kind)
    cache.set(key, {"ok": True}, ttl=60)
    assert cache.get(key) == {"ok": True}
    assert cache.delete(key) is True


def shop_cases() -> list[Case]:
    cases = []
    for what, product_id, error in BAD_IDS:
        cases.append(
            Case(
                f"shop.product({what})",
                lambda w, i=product_id: w.shop.product(i),
                error,
                "product_id",
            )
        )
        cases.append(
            Case(
                f"shop.set_price({what}, 1)",
                lambda w, i=product_id: w.shop.set_price(i, 1),
                error,
                "product_id",
            )
        )
        cases.append(
            Case(
                f"shop.sell({what}, 1)",
                lambda w, i=product_id: w.shop.sell(i, 1),
                error,
                "product_id",
            )
        )
        cases.append(
            Case(
                f"keys.product({what})",
                lambda w, i=product_id: keys.product(i),
                error,
                "product_id",
            )
        )
        cases.append(
            Case(
                f"DeleteOnWrite.read({what})",
                lambda w, i=product_id: DeleteOnWrite(w.shop, w.memory, ttl=60).read(i),
                error,
                "product_id",
            )
        )
    for value in BAD_COUNTS:
        for name in ("days", "limit"):
            cases.append(
                Case(
                    f"shop.trending({name}={value!r:.20})",
                    lambda w, n=name, v=value: w.shop.trending(**{n: v}),
                    (TypeError, ValueError),
                    name,
                )
            )
        cases.append(
            Case(
                f"shop.sell(1, quantity={value!r:.20})",
                lambda w, v=value: w.shop.sell(1, v),
                (TypeError, ValueError),
                "quantity",
            )
        )
        cases.append(
            Case(
                f"keys.trending(days={value!r:.20})",
                lambda w, v=value: keys.trending(days=v),
                (TypeError, ValueError),
                "days",
            )
        )
    for price in (-1, 9.99, "999", True, None, 2**63, 10**9, "0); DROP TABLE products; --"):
        cases.append(
            Case(
                f"shop.set_price(1, {price!r:.20})",
                lambda w, p=price: w.shop.set_price(1, p),
                (TypeError, ValueError),
                "price_cents",
            )
        )
    cases += [
        Case(
            "shop.product(an unknown id)",
            lambda w: w.shop.product(999_999),
            LookupError,
            "no product with id 999999",
        ),
        Case(
            "shop.set_price(an unknown id)",
            lambda w: w.shop.set_price(999_999, 100),
            LookupError,
            "no product",
        ),
        Case(
            "shop.sell(more than the stock)", lambda w: w.shop.sell(1, 10_000), OutOfStock, "only"
        ),
        Case(
            "shop.sell(an unknown id)", lambda w: w.shop.sell(999_999, 1), LookupError, "no product"
        ),
    ]
    return cases


def file_cases() -> list[Case]:
    def at(world: World, name: str, content: Optional[bytes]) -> Path:
        path = world.folder / name
        if content is not None:
            path.write_bytes(content)
        return path

    def truncated(world: World) -> Path:
        whole = world.shop.path.read_bytes()
        return at(world, "truncated.db", whole[: int(len(whole) * 0.99)])

    return [
        Case(
            "Shop(a missing file)",
            lambda w: Shop(at(w, "missing.db", None)),
            FileNotFoundError,
            "build_shop",
        ),
        Case(
            "Shop(a zero-byte file)",
            lambda w: Shop(at(w, "empty.db", b"")),
            ValueError,
            "not a complete shop",
        ),
        Case(
            "Shop(a truncated shop)",
            lambda w: Shop(truncated(w)),
            ValueError,
            "not a complete shop",
        ),
        Case(
            "Shop(a text file)",
            lambda w: Shop(at(w, "notes.txt", b"my notes")),
            ValueError,
            "not a complete shop",
        ),
        Case(
            "build_shop(over a text file)",
            lambda w: build_shop(at(w, "notes2.txt", b"my notes"), size="tiny"),
            FileExistsError,
            "not a file the course made",
        ),
        Case(
            "build_shop(over another SQLite database)",
            lambda w: build_shop(_foreign_db(w.folder), size="tiny"),
            FileExistsError,
            "tables: invoices",
        ),
        Case(
            "build_shop(over a folder)",
            lambda w: build_shop(_a_folder(w.folder), size="tiny"),
            IsADirectoryError,
            "not a shop database",
        ),
        Case(
            "build_shop(size='huge')",
            lambda w: build_shop(w.folder / "x.db", size="huge"),
            ValueError,
            "size",
        ),
        Case(
            "build_shop(seed='1')",
            lambda w: build_shop(w.folder / "x.db", size="tiny", seed="1"),
            TypeError,
            "seed",
        ),
        Case(
            "build_shop(a path with #, ? and %)",
            lambda w: (
                _describe(build_shop(w.folder / "a #b?c%d" / "s.db", size="tiny"))["size"] == "tiny"
            ),
        ),
        Case("describe(a truncated shop)", lambda w: _describe(truncated(w)) is None),
        Case(
            "shop.set_price on a read-only file",
            _write_read_only,
            PermissionError,
            "cannot be written",
        ),
    ]


def _foreign_db(folder: Path) -> Path:
    path = folder / "shop-accounts.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS invoices (id INTEGER PRIMARY KEY)")
    return path


def _a_folder(folder: Path) -> Path:
    (folder / "a-folder.db").mkdir(exist_ok=True)
    return folder / "a-folder.db"


def _write_read_only(world: World) -> Any:
    """As root, chmod does not stop writes; the immutable attribute does (``chattr +i``)."""
    path = world.folder / "read-only.db"
    path.write_bytes(world.shop.path.read_bytes())
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        shop = Shop(path)
        assert shop.product(1)["id"] == 1, "reading a read-only shop works"
        return shop.set_price(1, 100)
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def other_cases() -> list[Case]:
    cases = []
    for url, error, message in BAD_URLS:
        cases.append(Case(f"connect({url!r})", lambda w, u=url: connect(u), error, message))
    for prefix in (
        "",
        "mine:",
        "cachelab",
        "cachelab:1",
        "cachelab:a*:",
        "cachelab:[x]:",
        "cachelab: :",
        42,
    ):
        cases.append(
            Case(
                f"RedisCache(prefix={prefix!r})",
                lambda w, p=prefix: RedisCache(w.redis.client, prefix=p),
                ValueError,
                "prefix must",
            )
        )
    for name in ("*", "a:b", "x" * 65, "é", "a b", "-a"):
        cases.append(
            Case(
                f"keys.learner_prefix({name!r:.12})",
                lambda w, n=name: keys.learner_prefix(n),
                ValueError,
                "a learner name is",
            )
        )
    settings = dict(ttl=5.0, read_rate=1.0, write_rate=0.1, strategy="ttl")
    for name, value in [
        ("ttl", -5),
        ("ttl", math.nan),
        ("ttl", None),
        ("ttl", "5"),
        ("read_rate", -1),
        ("read_rate", 0),
        ("read_rate", math.inf),
        ("write_rate", math.nan),
        ("write_rate", -0.1),
        ("strategy", "lru"),
        ("strategy", None),
    ]:
        cases.append(
            Case(
                f"ttl_dashboard({name}={value!r})",
                lambda w, n=name, v=value: widgets.ttl_dashboard(**{**settings, n: v}),
                (TypeError, ValueError),
                name,
            )
        )
    for name, value in [
        ("ttl", -1),
        ("ttl", 0),
        ("ttl", math.nan),
        ("read_rate", 1e200),
        ("read_rate", -1),
        ("write_rate", math.nan),
        ("strategy", "write_through"),
        ("key_count", 0),
        ("key_count", 1.5),
        ("key_count", True),
        ("key_count", 10**6),
        ("zipf_exponent", -1),
    ]:
        base = dict(ttl=10.0, read_rate=2.0, write_rate=0.1)
        cases.append(
            Case(
                f"model({name}={value!r})",
                lambda w, n=name, v=value, b=base: model(**{**b, n: v}),
                (TypeError, ValueError),
                name,
            )
        )
    for name, value in [
        ("duration_s", 0),
        ("duration_s", -1),
        ("duration_s", math.nan),
        ("seed", "x"),
    ]:
        base = dict(ttl=1.0, read_rate=1.0, write_rate=0.1, duration_s=100.0)
        cases.append(
            Case(
                f"simulate({name}={value!r})",
                lambda w, n=name, v=value, b=base: simulate(**{**b, n: v}),
                (TypeError, ValueError),
                name,
            )
        )
    cases += [
        Case("model(1e200, 1e200, 0)", lambda w: model(1e200, 1e200, 0), ValueError, "ttl"),
        Case(
            "poisson_arrivals(read_rate=nan)",
            lambda w: poisson_arrivals(math.nan, 1, 10),
            ValueError,
            "read_rate",
        ),
        Case(
            "make_schedule(no products)",
            lambda w: make_schedule([], 10, 1, 1),
            ValueError,
            "product_ids",
        ),
        Case(
            "make_schedule(write_rate=-1)",
            lambda w: make_schedule([1], 10, 1, -1),
            ValueError,
            "write_rate",
        ),
        Case(
            "hammer(users=0)",
            lambda w: loadtest.hammer(lambda: lambda: None, 0, 1),
            ValueError,
            "users",
        ),
        Case(
            "hammer(users=10,000)",
            lambda w: loadtest.hammer(lambda: lambda: None, 10_000, 1),
            ValueError,
            "users",
        ),
        Case(
            "hammer(make_request='x')",
            lambda w: loadtest.hammer("x", 1, 1),
            TypeError,
            "make_request",
        ),
        Case(
            "measure(repeat=0)",
            lambda w: timing.measure(lambda: None, repeat=0),
            ValueError,
            "repeat",
        ),
        Case(
            "competing_work(processes=0)",
            lambda w: timing.competing_work(0).__enter__(),
            ValueError,
            "processes",
        ),
        Case("FakeClock(nan)", lambda w: FakeClock(math.nan), ValueError, "finite"),
        Case("FakeClock().advance(-1)", lambda w: FakeClock().advance(-1), ValueError, "seconds"),
        Case("checks.hint('99.1')", lambda w: checks.hint("99.1"), ValueError, "exercise"),
        Case("checks.hint(3)", lambda w: checks.hint(3), TypeError, "exercise"),
        Case(
            "DeleteOnWrite(ttl=None)",
            lambda w: DeleteOnWrite(w.shop, w.memory, ttl=None),
            ValueError,
            "ttl",
        ),
        Case(
            "VersionedKeys(version_ttl=ttl)",
            lambda w: VersionedKeys(w.shop, w.memory, 60, version_ttl=60),
            ValueError,
            "version_ttl",
        ),
        Case(
            "LeaseCache(lease_ttl=0)",
            lambda w: LeaseCache(w.memory, lease_ttl=0),
            ValueError,
            "lease_ttl",
        ),
        Case(
            "a key under the prefix that holds a hash", _wrong_type, CacheKeyError, "holds a hash"
        ),
    ]
    return cases


def _wrong_type(world: World) -> Any:
    world.redis.client.hset(PREFIX + "hashed", mapping={"field": "value"})
    try:
        return world.redis.get("hashed")
    finally:
        world.redis.client.unlink(PREFIX + "hashed")


CASES = cache_cases() + shop_cases() + file_cases() + other_cases()


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_shop_path) -> World:
    folder = tmp_path_factory.mktemp("hostile")
    copy = folder / "shop.db"
    copy.write_bytes(tiny_shop_path.read_bytes())
    server = PrivateRedisServer().start()
    yield World(
        Shop(copy), MemoryCache(), RedisCache(server.client(), prefix=PREFIX), server, folder
    )
    server.stop()


def test_there_are_at_least_150_hostile_cases():
    print(f"\n{len(CASES)} hostile inputs tried")
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_input_has_a_clear_outcome(world, case):
    if case.raises is None:
        result = case.call(world)
        assert result is None or result is True, f"{case.name} gave {result!r}"
        return
    with pytest.raises(case.raises) as raised:
        case.call(world)
    assert case.message in str(raised.value), (
        f"{case.name}: the message does not say {case.message!r}: {raised.value}"
    )


def test_afterwards_the_shop_is_intact_and_the_cache_holds_nothing_unexpected(
    world, tiny_shop_path
):
    """Runs last in this file: no hostile call left the database damaged or a key behind."""
    assert _verify_shop(world.shop.path) == ["ok"]
    with sqlite3.connect(world.shop.path) as copy, sqlite3.connect(tiny_shop_path) as original:
        for table in ("products", "orders"):
            count = f"SELECT COUNT(*) FROM {table}"
            assert copy.execute(count).fetchone() == original.execute(count).fetchone()
        prices = "SELECT id, price_cents, stock FROM products ORDER BY id"
        assert copy.execute(prices).fetchall() == original.execute(prices).fetchall(), (
            "no hostile write landed"
        )
    stray = [key for key in world.server.client().scan_iter("*") if not key.startswith(PREFIX)]
    assert stray == [], f"keys written outside the prefix: {stray[:5]}"
    assert sorted(world.server.client().scan_iter(PREFIX + "*")) == [], (
        "every accepted case cleaned up"
    )
    assert len(world.memory) == 0
    assert not os.path.exists(world.folder / "a "), "no stray file from a path with # in it"
