"""Fixtures shared by every test: a real Redis server, a tiny real shop, a fake clock.

No fakes of Redis or SQLite here. The Redis is the course's own default: the
server at ``$REDIS_URL`` if set, else a private ``redis-server`` on a unix socket.
Each test gets its own key prefix inside the learner's prefix, so tests never see
each other's keys (or another learner's), and only that prefix is ever deleted.
Helpers that test modules import (``load_solutions``) are in ``support.py``.

The browser tests share two more: ``chromium`` (the system's Chromium-family browser, or a skip
that says how to get one) and ``page`` (a fresh headless page in it, per test); the machinery
behind them is ``lab.py``'s.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import redis

from cachelab import checks, keys
from cachelab.cache import RedisCache
from cachelab.clock import FakeClock
from cachelab.environment.redis_server import PrivateRedisServer, connect
from cachelab.shop.app import Shop
from cachelab.shop.data import DATA_END, build_shop


@pytest.fixture(autouse=True)
def no_hints_carried_over() -> Iterator[None]:
    """Every test starts with no recorded failure and no hint shown (``checks`` keeps them per
    process).
    """
    checks._reset_hints()
    yield
    checks._reset_hints()


@pytest.fixture(scope="session")
def redis_client() -> redis.Redis:
    """A client of the course's Redis (``$REDIS_URL`` or the private server)."""
    return connect()


@pytest.fixture
def test_prefix() -> str:
    """A key prefix that belongs to this one test: ``cachelab:<learner>:test:<random>:``."""
    return f"{keys.learner_prefix()}test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def redis_cache(redis_client: redis.Redis, test_prefix: str) -> Iterator[RedisCache]:
    """A RedisCache under this test's own prefix; its keys are deleted afterwards."""
    cache = RedisCache(redis_client, prefix=test_prefix)
    yield cache
    cache.clear()


@pytest.fixture
def stoppable_redis() -> Iterator[PrivateRedisServer]:
    """A private Redis server of this test's own, which the test may stop."""
    server = PrivateRedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at t = 0 that only moves when the test calls ``advance``."""
    return FakeClock()


@pytest.fixture(scope="session")
def tiny_shop_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny shop database (100 products, 10,000 orders), built once per test session."""
    return build_shop(tmp_path_factory.mktemp("shop") / "shop-tiny.db", size="tiny")


@pytest.fixture
def shop(tiny_shop_path: Path, tmp_path: Path) -> Iterator[Shop]:
    """A Shop on this test's own copy of the tiny database, so writes never leak between tests."""
    copy = tmp_path / "shop.db"
    shutil.copyfile(tiny_shop_path, copy)
    shop = Shop(copy)
    yield shop
    shop.close()


@pytest.fixture
def clocked_shop(shop: Shop) -> Iterator[Shop]:
    """The test's own shop copy on a fake clock that stands at ``DATA_END``
    (``clocked_shop.clock``).

    Commits do not wait for the disk (``synchronous = OFF``): the copy is thrown away.
    """
    clocked = Shop(shop.path, clock=FakeClock(start=DATA_END))
    clocked.db.execute("PRAGMA synchronous = OFF")
    yield clocked
    clocked.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser ``scripts/browser.py`` finds, or a skip that says how to get one (a failure
    under ``CI=true``, where a skipped browser test must not look like a pass).
    """
    from lab import browser, find_chromium

    try:
        return find_chromium().path
    except browser.BrowserNotFound as error:
        missing = str(error)
    if browser.ci_requires_browser():
        pytest.fail(f"{missing} (CI=true: a browser test may not be skipped)", pytrace=False)
    pytest.skip(missing)


@pytest.fixture
def page(chromium: str, tmp_path: Path):
    """One page of a fresh headless Chromium with an empty profile of this test's own."""
    from lab import chromium_page

    with chromium_page(chromium, tmp_path / "chromium-profile") as page:
        yield page
