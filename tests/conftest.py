"""Fixtures shared by every test: a real Redis server, a tiny real shop, a fake clock.

No fakes of Redis or SQLite here. The Redis is the course's own default: the
server at ``$REDIS_URL`` if set, else a private ``redis-server`` on a unix socket.
Each test gets its own key prefix, so tests never see each other's keys, and
only that prefix is ever deleted.
"""

from __future__ import annotations

import importlib.util
import shutil
import uuid
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest
import redis

from cachelab.app import Shop
from cachelab.cache import RedisCache
from cachelab.clock import FakeClock
from cachelab.data import build_shop
from cachelab.redis_server import PrivateRedisServer, connect


SOLUTIONS_DIR = Path(__file__).resolve().parents[1] / "lessons" / "solutions"


def load_solutions(lesson: str) -> ModuleType:
    """The instructor's reference solutions of one lesson: ``load_solutions("03_memory_cache")``.

    The files are named like the lessons (``03_memory_cache.py``), which Python cannot
    ``import`` by name, so they are loaded from their path. Test files import this
    helper with ``from conftest import load_solutions``.
    """
    path = SOLUTIONS_DIR / f"{lesson}.py"
    spec = importlib.util.spec_from_file_location(f"solutions_{lesson}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def redis_client() -> redis.Redis:
    """A client of the course's Redis (``$REDIS_URL`` or the private server)."""
    return connect()


@pytest.fixture
def test_prefix() -> str:
    """A key prefix that belongs to this one test: ``cachelab:test:<random>:``."""
    return f"cachelab:test:{uuid.uuid4().hex[:12]}:"


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
