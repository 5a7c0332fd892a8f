"""The shop as a web service: right answers in every cache mode, clear errors, nothing half-written.

One real service per cache mode (uvicorn, two worker processes, the real Redis,
its own copy of the tiny shop), started once for the module and shared by its
tests. Requests go over real HTTP on 127.0.0.1, each on a connection of its own,
so successive requests may reach different workers.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Iterator

import pytest
from support import shop_digest

from cachelab import keys
from cachelab.shop.app import Shop
from cachelab.shop.data import DATA_END
from cachelab.web._config import CacheMode
from cachelab.web._service import WebService

TTL_S = 60
CACHED_MODES = [mode for mode in CacheMode if mode is not CacheMode.NONE]
REDIS_MODES = [mode for mode in CacheMode if mode.uses_redis]


def integrity(path: Path) -> str:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def row_counts(path: Path) -> tuple[int, int]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return tuple(
            connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("products", "orders")
        )
    finally:
        connection.close()


def answers_by_worker(service: WebService, path: str, workers: int = 2, within_s: float = 30.0):
    """GET ``path`` on fresh connections until every worker has answered twice; {pid: [replies]}.

    Which worker accepts a connection is the kernel's choice, and on a busy machine the one
    that just answered may take hundreds in a row: the bound is in seconds, not requests.
    """
    seen: dict[int, list] = {}
    deadline = time.monotonic() + within_s
    asked = 0
    while time.monotonic() < deadline:
        reply = service.get(path)
        asked += 1
        seen.setdefault(reply.worker, []).append(reply)
        if len(seen) >= workers and all(len(replies) >= 2 for replies in seen.values()):
            break
    assert len(seen) == workers, f"only workers {sorted(seen)} answered {asked} requests"
    return seen


class Services:
    """One running service per cache mode, each on its own copy of the tiny shop, started on
    first use."""

    def __init__(self, tiny_shop_path: Path, folder: Path) -> None:
        self.tiny_shop_path = tiny_shop_path
        self.folder = folder
        self.running: dict[str, WebService] = {}

    def __getitem__(self, mode: str) -> WebService:
        if mode not in self.running:
            copy = self.folder / f"shop-{mode}.db"
            shutil.copyfile(self.tiny_shop_path, copy)
            self.running[mode] = WebService(mode, workers=2, ttl=TTL_S, db_path=copy).start()
        return self.running[mode]

    def stop(self) -> None:
        for service in self.running.values():
            service.stop()


@pytest.fixture(scope="module")
def services(tiny_shop_path: Path, tmp_path_factory) -> Iterator[Services]:
    """The module's services, one per cache mode, stopped when the module is done."""
    started = Services(tiny_shop_path, tmp_path_factory.mktemp("web"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def reference(tiny_shop_path: Path) -> Iterator[Shop]:
    """The tiny shop read directly, on the service's clock (standing at DATA_END)."""
    shop = Shop(tiny_shop_path, clock=lambda: DATA_END)
    yield shop
    shop.close()


# --------------------------------------------------------------------------- reads, every mode


@pytest.mark.parametrize("mode", list(CacheMode))
def test_the_homepage_answers_the_trending_products(services, mode, reference):
    service = services[mode]
    reply = service.get("/")
    assert reply.status == 200
    assert reply.body == {"trending": reference.trending()}


@pytest.mark.parametrize("mode", list(CacheMode))
def test_a_product_page_answers_the_products_row(services, mode, reference):
    service = services[mode]
    reply = service.get("/products/42")
    assert reply.status == 200
    assert reply.body["id"] == 42 and reply.body["name"] == reference.product(42)["name"]


@pytest.mark.parametrize("mode", list(CacheMode))
def test_cached_pages_say_how_long_a_browser_may_keep_them(services, mode):
    service = services[mode]
    reply = service.get("/")
    if service.cache_mode is CacheMode.NONE:
        assert reply.headers["cache-control"] == "no-cache"
        assert "x-cache" not in reply.headers
    else:
        assert reply.headers["cache-control"] == f"public, max-age={TTL_S}"


@pytest.mark.parametrize("mode", CACHED_MODES)
def test_a_cached_mode_misses_once_then_hits(services, mode):
    service = services[mode]
    first = service.get("/products/61")
    again = service.get("/products/61") if service.cache_mode != "memory" else None
    assert first.headers["x-cache"] == "miss"
    if again is not None:  # a shared cache: whichever worker answers, it is a hit now
        assert again.headers["x-cache"] == "hit"
    else:  # one cache per worker: each worker misses once, then hits
        for replies in answers_by_worker(service, "/products/61").values():
            assert replies[-1].headers["x-cache"] == "hit"


@pytest.mark.parametrize("mode", list(CacheMode))
def test_stats_reports_every_worker_and_their_totals(services, mode):
    service = services[mode]
    before = service.stats()
    assert before["cache"] == service.cache_mode
    assert len(before["workers"]) == 2
    service.get("/products/3")
    after = service.stats()
    assert after["total"]["requests"] == before["total"]["requests"] + 1
    assert after["total"]["in_flight"] == 0
    assert after["total"]["cpu_us"] > before["total"]["cpu_us"] > 0, "the CPU time it used"
    assert sorted(row["pid"] for row in after["workers"]) == sorted(service.worker_pids())
    assert service.get("/stats").headers["cache-control"] == "no-store"


@pytest.mark.parametrize("mode", REDIS_MODES)
def test_only_keys_under_the_services_own_prefix_are_written(services, mode):
    service = services[mode]
    service.get("/")
    service.get("/products/9")
    client = service.cache().client
    written = set(client.scan_iter(match=keys._scan_pattern(service.prefix)))
    assert keys._redis_key(service.prefix, keys.trending()) in written
    assert keys._redis_key(service.prefix, keys.product(9)) in written
    assert service.prefix.startswith(keys.learner_prefix())


# --------------------------------------------------------------------------- writes, every mode


@pytest.mark.parametrize("mode", list(CacheMode))
def test_a_sale_lowers_the_stock_and_records_one_order(services, mode):
    service = services[mode]
    orders_before = row_counts(service.db_path)[1]
    stock = service.get("/products/12").body["stock"]
    reply = service.post("/products/12/sell", {"quantity": 2})
    assert reply.status == 200
    assert reply.body["stock"] == stock - 2
    assert row_counts(service.db_path)[1] == orders_before + 1
    assert "cache-control" not in reply.headers


@pytest.mark.parametrize("mode", list(CacheMode))
def test_a_price_change_answers_the_new_price(services, mode):
    service = services[mode]
    reply = service.post("/products/13/price", {"price_cents": 4321})
    assert reply.status == 200
    assert reply.body["price_cents"] == 4321
    assert "cache-control" not in reply.headers


# --------------------------------------------------------------------------- errors, every mode

BAD_REQUESTS = [  # (method, path, body, status, what the message must say)
    ("GET", "/products/99999", None, 404, "no product with id 99999"),
    ("GET", "/products/abc", None, 422, "product_id must be a whole number >= 1, got str 'abc'"),
    ("GET", "/products/0", None, 422, "product_id must be a whole number >= 1, got 0"),
    ("POST", "/products/5/price", {"price_cents": -5}, 422, "price_cents must be a whole number"),
    ("POST", "/products/5/price", {"price_cents": 12.5}, 422, "got float 12.5"),
    ("POST", "/products/5/price", {"price_cents": "1299"}, 422, "got str '1299'"),
    ("POST", "/products/5/price", {"price_cents": True}, 422, "got bool True"),
    ("POST", "/products/5/price", {"cents": 1299}, 400, 'such as {"price_cents": 1299}'),
    ("POST", "/products/5/price", {"price_cents": 1, "stock": 0}, 400, "unknown field"),
    ("POST", "/products/5/price", "not json", 400, "must be a JSON object"),
    ("POST", "/products/5/price", [1299], 400, "must be a JSON object"),
    ("POST", "/products/99999/price", {"price_cents": 1299}, 404, "no product with id 99999"),
    ("POST", "/products/5/sell", {"quantity": 0}, 422, "quantity must be a whole number"),
    ("POST", "/products/5/sell", {"quantity": 2.0}, 422, "got float 2.0"),
    ("POST", "/products/5/sell", {"quantity": 10**6}, 422, "between 1 and 10000"),
    ("POST", "/products/99999/sell", {"quantity": 1}, 404, "no product with id 99999"),
    ("POST", "/products/5/sell", {"quantity": 10_000}, 409, "only .* in stock"),
    ("GET", "/nowhere", None, 404, "no page at /nowhere"),
    ("DELETE", "/products/5", None, 405, "DELETE is not allowed"),
]


@pytest.mark.parametrize(
    "method, path, body, status, message",
    BAD_REQUESTS,
    ids=[f"{m} {p} {b!r}"[:60] for m, p, b, _, _ in BAD_REQUESTS],
)
@pytest.mark.parametrize("mode", list(CacheMode))
def test_a_bad_request_gets_its_status_and_a_json_message(
    services, mode, method, path, body, status, message
):
    service = services[mode]
    import re

    reply = service.request(method, path, body)
    assert reply.status == status, reply.body
    assert re.search(message, reply.body["error"]), reply.body


@pytest.mark.parametrize("mode", list(CacheMode))
def test_refused_requests_leave_the_database_exactly_as_it_was(services, mode):
    service = services[mode]
    before = shop_digest(service.db_path)
    for method, path, body, status, _ in BAD_REQUESTS:
        assert service.request(method, path, body).status == status
    assert shop_digest(service.db_path) == before
    assert integrity(service.db_path) == "ok"


# --------------------------------------------------------------------------- what each mode does


def test_without_a_cache_every_page_view_runs_a_query(services):
    service = services["none"]
    before = service.stats()["total"]["db_queries"]
    for _ in range(5):
        service.get("/")
    assert service.stats()["total"]["db_queries"] - before == 5


def test_delete_on_write_shows_a_write_on_the_next_read_from_every_worker(services):
    service = services["redis-delete-on-write"]
    answers_by_worker(service, "/products/21")  # cached now
    assert service.post("/products/21/price", {"price_cents": 777}).status == 200
    for replies in answers_by_worker(service, "/products/21").values():
        assert all(reply.body["price_cents"] == 777 for reply in replies)
    now = Shop(service.db_path, clock=lambda: DATA_END)
    assert service.get("/").body == {"trending": now.trending()}, "the homepage was deleted too"
    now.close()


def test_ttl_only_redis_keeps_serving_the_old_price_until_the_entry_expires(services):
    service = services["redis"]
    old = service.get("/products/22").body["price_cents"]
    assert service.post("/products/22/price", {"price_cents": old + 1}).status == 200
    for replies in answers_by_worker(service, "/products/22").values():
        assert all(reply.body["price_cents"] == old for reply in replies)  # stale, everywhere


def test_per_worker_memory_caches_disagree_after_a_price_change(services):
    service = services["memory"]
    old = answers_by_worker(service, "/products/23")  # every worker has cached it
    write = service.post("/products/23/price", {"price_cents": 555})
    prices = {
        pid: {reply.body["price_cents"] for reply in replies}
        for pid, replies in answers_by_worker(service, "/products/23").items()
    }
    assert prices[write.worker] == {555}, "the worker that wrote deleted its own copy"
    other = next(pid for pid in prices if pid != write.worker)
    assert prices[other] == {old[other][0].body["price_cents"]}, "the other never heard of it"
