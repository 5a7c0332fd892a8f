"""Worker processes: per-process memory caches load once each; a shared Redis cache loads once in
all.
"""

import os

import pytest

from cachelab.cache import RedisCache
from cachelab.environment.redis_server import url_of
from cachelab.lab.workers import run_workers, serve_pages


def square_with_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def fail(message: str) -> None:
    raise RuntimeError(message)


TRENDING_TEN_TIMES = [("trending", 0)] * 10


@pytest.fixture
def shared_prefix(redis_client, test_prefix):
    """A prefix for the workers' shared cache, cleared after the test."""
    yield test_prefix
    RedisCache(redis_client, prefix=test_prefix).clear()


# --- run_workers ----------------------------------------------------------------------------------


def test_run_workers_returns_each_workers_result_in_order():
    results = run_workers(square_with_pid, [(1,), (2,), (3,)])
    assert [square for square, _ in results] == [1, 4, 9]


def test_run_workers_gives_each_call_a_process_of_its_own():
    pids = [pid for _, pid in run_workers(square_with_pid, [(1,), (2,), (3,), (4,)])]
    assert len(set(pids)) == 4
    assert os.getpid() not in pids


def test_run_workers_with_no_arguments_is_an_error():
    with pytest.raises(ValueError, match="args_per_worker is empty"):
        run_workers(square_with_pid, [])


def test_an_error_in_a_worker_is_raised_in_the_caller():
    with pytest.raises(RuntimeError, match="worker broke"):
        run_workers(fail, [("worker broke",)])


# --- serve_pages in one process -------------------------------------------------------------------


def test_without_a_cache_every_page_is_a_query(tiny_shop_path):
    report = serve_pages(str(tiny_shop_path), TRENDING_TEN_TIMES + [("product", 1)] * 5)
    assert report["db_queries"] == 15
    assert report["stats"] is None


def test_with_a_memory_cache_each_page_is_queried_once(tiny_shop_path):
    pages = TRENDING_TEN_TIMES + [("product", 1), ("product", 2)] * 5
    report = serve_pages(str(tiny_shop_path), pages, cache="memory")
    assert report["db_queries"] == 3
    assert report["stats"]["hits"] == len(pages) - 3 and report["stats"]["misses"] == 3


def test_serve_pages_reports_the_answers_by_key(tiny_shop_path):
    report = serve_pages(str(tiny_shop_path), [("trending", 0), ("product", 7)], cache="memory")
    assert set(report["answers"]) == {"trending:days=7:limit=10", "product:7"}
    assert report["answers"]["product:7"]["id"] == 7
    assert len(report["answers"]["trending:days=7:limit=10"]) == 10


def test_cached_and_uncached_answers_agree(tiny_shop_path, redis_client, shared_prefix):
    pages = [("trending", 0), ("product", 3)]
    plain = serve_pages(str(tiny_shop_path), pages)
    redis_report = serve_pages(
        str(tiny_shop_path),
        pages * 2,
        cache="redis",
        redis_url=url_of(redis_client),
        prefix=shared_prefix,
    )
    assert redis_report["answers"] == plain["answers"]


def test_redis_cache_without_a_url_is_an_error(tiny_shop_path):
    with pytest.raises(ValueError, match="needs redis_url"):
        serve_pages(str(tiny_shop_path), TRENDING_TEN_TIMES, cache="redis")


def test_an_unknown_cache_kind_is_an_error(tiny_shop_path):
    with pytest.raises(
        ValueError, match="cache must be one of 'none', 'memory', 'redis', got 'disk'"
    ):
        serve_pages(str(tiny_shop_path), TRENDING_TEN_TIMES, cache="disk")


def test_an_unknown_page_is_an_error(tiny_shop_path):
    with pytest.raises(ValueError, match="page must be 'trending' or 'product', got 'cart'"):
        serve_pages(str(tiny_shop_path), [("cart", 1)])


def test_a_missing_database_is_reported_by_the_worker(tmp_path):
    with pytest.raises(FileNotFoundError, match="no shop database"):
        serve_pages(str(tmp_path / "missing.db"), TRENDING_TEN_TIMES)


# --- several worker processes ---------------------------------------------------------------------


def test_memory_caches_load_once_per_worker(tiny_shop_path):
    reports = run_workers(serve_pages, [(str(tiny_shop_path), TRENDING_TEN_TIMES, "memory")] * 3)
    assert [report["db_queries"] for report in reports] == [1, 1, 1]
    assert len({report["pid"] for report in reports}) == 3


def test_a_shared_redis_cache_needs_few_database_queries_across_workers(
    tiny_shop_path, redis_client, shared_prefix
):
    args = (
        str(tiny_shop_path),
        TRENDING_TEN_TIMES,
        "redis",
        url_of(redis_client),
        None,
        shared_prefix,
    )
    reports = run_workers(serve_pages, [args] * 3)
    total_queries = sum(report["db_queries"] for report in reports)
    # 1 when the workers take turns; up to 3 if all of them miss at the same instant (a small
    # stampede)
    assert 1 <= total_queries <= 3
    assert sum(report["stats"]["hits"] for report in reports) == 30 - total_queries
    assert sum(report["stats"]["errors"] for report in reports) == 0


def test_a_redis_cache_filled_by_one_worker_serves_the_others(
    tiny_shop_path, redis_client, shared_prefix
):
    url = url_of(redis_client)
    first = run_workers(
        serve_pages, [(str(tiny_shop_path), TRENDING_TEN_TIMES, "redis", url, None, shared_prefix)]
    )
    later = run_workers(
        serve_pages,
        [(str(tiny_shop_path), TRENDING_TEN_TIMES, "redis", url, None, shared_prefix)] * 2,
    )
    assert first[0]["db_queries"] == 1
    assert [report["db_queries"] for report in later] == [0, 0]


def test_workers_without_a_cache_all_query_the_database(tiny_shop_path):
    reports = run_workers(serve_pages, [(str(tiny_shop_path), TRENDING_TEN_TIMES)] * 2)
    assert [report["db_queries"] for report in reports] == [10, 10]
