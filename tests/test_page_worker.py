"""PageWorker: a worker process that keeps its Shop and its cache between batches of requests."""

from __future__ import annotations

import pytest

from cachelab import keys
from cachelab.lab.workers import PageWorker
from cachelab.shop.app import Shop


def test_a_page_worker_keeps_its_cache_between_batches(shop: Shop) -> None:
    with PageWorker(shop.path, cache="memory") as worker:
        first = worker.serve([("trending", 0)])
        second = worker.serve([("trending", 0), ("trending", 0)])
    assert first["db_queries"] == 1
    assert second["db_queries"] == 1
    assert second["stats"]["hits"] == 2


def test_two_page_workers_disagree_after_a_price_change_one_of_them_invalidated(shop: Shop) -> None:
    with PageWorker(shop.path) as worker_a, PageWorker(shop.path) as worker_b:
        before = worker_a.serve([("trending", 0)])["answers"][keys.trending()][0]
        worker_b.serve([("trending", 0)])
        shop.set_price(before["id"], before["price_cents"] + 500)
        assert worker_b.delete(keys.trending()) is True
        seen_by_a = worker_a.serve([("trending", 0)])["answers"][keys.trending()][0]
        seen_by_b = worker_b.serve([("trending", 0)])["answers"][keys.trending()][0]
    assert seen_by_a["price_cents"] == before["price_cents"]
    assert seen_by_b["price_cents"] == before["price_cents"] + 500


def test_a_page_worker_with_a_bad_cache_name_raises_in_the_parent(shop: Shop) -> None:
    with pytest.raises(ValueError, match="cache must be"):
        PageWorker(shop.path, cache="bogus")


def test_an_error_in_a_request_is_raised_and_the_worker_keeps_serving(shop: Shop) -> None:
    with PageWorker(shop.path) as worker:
        with pytest.raises(ValueError, match="page must be"):
            worker.serve([("checkout", 1)])
        assert worker.serve([("product", 1)])["answers"][keys.product(1)]["id"] == 1


def test_a_closed_page_worker_refuses_requests(shop: Shop) -> None:
    worker = PageWorker(shop.path)
    worker.close()
    with pytest.raises(RuntimeError, match="closed"):
        worker.serve([("product", 1)])
