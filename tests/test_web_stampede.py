"""A stampede over HTTP: the homepage's key expires while a burst of requests wants it.

On the default shop, where the trending query takes tens of milliseconds, 40
requests arrive within a few milliseconds of the key going away. With plain
cache-aside (``redis``) many of them run the query; with lesson 08's single-flight
(``redis-single-flight``) exactly one does, and every request still gets the page.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from cachelab import keys
from cachelab.shop.data import build_shop
from cachelab.web._load import run_load, wait_until_idle
from cachelab.web._service import WebService

BURST = 40


@pytest.fixture(scope="module")
def default_shop():
    return build_shop()  # read only: these services never write


@pytest.fixture(scope="module")
def plain(default_shop) -> Iterator[WebService]:
    with WebService("redis", workers=2, db_path=default_shop) as service:
        yield service


@pytest.fixture(scope="module")
def single_flight(default_shop) -> Iterator[WebService]:
    with WebService("redis-single-flight", workers=2, db_path=default_shop) as service:
        yield service


def burst_after_expiry(service: WebService):
    """Expire the homepage's key, then send BURST homepage requests at once; the run's figures."""
    service.get("/")  # warm: the key is there
    assert service.cache().delete(keys.trending()), "the homepage's key was cached"
    run = run_load(
        service.url, 5_000, BURST, time_limit_s=60, timeout_s=60, progress=False
    )  # generous: a herd on a busy machine is slow, and every answer is counted
    wait_until_idle(service.url)
    return run


def test_with_single_flight_one_expiry_costs_exactly_one_query(single_flight):
    run = burst_after_expiry(single_flight)
    assert run.ok == BURST, "every request got the page"
    assert run.db_queries == 1
    assert run.cache_misses == 1 and run.cache_hits == BURST - 1


@pytest.mark.serial  # the herd needs the burst to arrive at once: a generator starved of CPU by
# the parallel run sent 40 requests over 118 ms, past the query's 25 ms, and only one missed
def test_without_it_the_burst_runs_the_query_many_times(plain):
    run = burst_after_expiry(plain)
    assert run.ok == BURST
    assert run.db_queries >= 3, "requests that missed together each ran the query"
    assert run.cache_misses == run.db_queries
