"""The web service's ``near`` mode (lesson 11): every worker hears of a write, and a near hit costs
no Redis command and no thread.

Real services (gunicorn, uvicorn workers, the course's Redis, a copy of the tiny shop), real HTTP
on 127.0.0.1, each request on a connection of its own, so successive requests may reach different
workers. What the workers' Redis connections did is read from the server itself (``CLIENT LIST``:
each connection's ``tot-cmds``), not from the service.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from cachelab.web._service import Reply, WebService

TTL_S = 60


@pytest.fixture(scope="module")
def near(tiny_shop_path: Path, tmp_path_factory) -> Iterator[WebService]:
    """A near-mode service of two workers on its own copy of the tiny shop."""
    copy = tmp_path_factory.mktemp("web-near") / "shop.db"
    shutil.copyfile(tiny_shop_path, copy)
    with WebService("near", workers=2, ttl=TTL_S, db_path=copy) as service:
        yield service


def near_copy_everywhere(service: WebService, path: str, within_s: float = 30.0) -> dict:
    """GET ``path`` on fresh connections until every worker has answered it from its near copy;
    {worker pid: its last reply}. The bound is in seconds: which worker accepts a connection is
    the kernel's choice, and one worker may take many in a row."""
    last: dict[int, Reply] = {}
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        reply = service.get(path)
        assert reply.status == 200, reply.body
        last[reply.worker] = reply
        if len(last) == service.workers and all(
            r.headers["x-cache"] == "near" for r in last.values()
        ):
            return last
    raise AssertionError(f"not every worker served {path} from a near copy: {last}")


def commands_by_connection(client) -> dict[int, int]:
    """Every connection of the server: {its id: the commands it has sent so far}."""
    return {int(row["id"]): int(row["tot-cmds"]) for row in client.client_list()}


def sent_since(before: dict[int, int], client) -> dict[int, int]:
    """{connection id: the commands it sent since ``before``} for every connection that sent
    any, except ``client``'s own (which asked)."""
    now, observer = commands_by_connection(client), client.client_id()
    sent = {pid: count - before.get(pid, 0) for pid, count in now.items() if pid != observer}
    return {pid: count for pid, count in sent.items() if count}


def test_after_a_price_change_every_workers_next_answers_show_the_new_price(near):
    """The bound measured here is the strictest one: an answer to a request sent after the
    write's answer came back. Each worker holds a near copy of the page when the price changes
    (else there would be nothing to invalidate), and each is asked again after it."""
    path = "/products/31"
    for round_number in range(3):
        before = near_copy_everywhere(near, path)
        new_price = max(reply.body["price_cents"] for reply in before.values()) + 100
        write = near.post(f"{path}/price", {"price_cents": new_price})
        assert write.status == 200 and write.body["price_cents"] == new_price
        after: dict[int, list[int]] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            len(after) < near.workers or min(len(prices) for prices in after.values()) < 3
        ):
            reply = near.get(path)
            after.setdefault(reply.worker, []).append(reply.body["price_cents"])
        assert len(after) == near.workers, f"only workers {sorted(after)} answered"
        stale = {pid: prices for pid, prices in after.items() if set(prices) != {new_price}}
        assert not stale, (
            f"round {round_number}: after the write answered {new_price}, workers still served "
            f"the old price: {stale} (the writer was {write.worker})"
        )


def test_the_homepage_shows_a_price_change_on_every_worker_too(near):
    trending = near_copy_everywhere(near, "/")
    first = next(iter(trending.values())).body["trending"][0]
    new_price = first["price_cents"] + 1
    assert near.post(f"/products/{first['id']}/price", {"price_cents": new_price}).status == 200
    for _ in range(20):
        shown = near.get("/").body["trending"]
        assert next(row for row in shown if row["id"] == first["id"])["price_cents"] == new_price


def test_a_near_hit_sends_no_command_to_redis(near, redis_client):
    near_copy_everywhere(near, "/")
    near_copy_everywhere(near, "/products/32")
    before = commands_by_connection(redis_client)
    replies = [near.get(path) for path in ("/", "/products/32") * 25]
    sent = sent_since(before, redis_client)
    assert {reply.headers["x-cache"] for reply in replies} == {"near"}
    assert not sent, f"50 near hits, yet connections sent commands to Redis: {sent}"
    # The count sees commands: a write (two DELs), then a read that is not a near hit (a GET).
    before = commands_by_connection(redis_client)
    assert near.post("/products/32/price", {"price_cents": 3_200}).status == 200
    assert near.get("/products/32").headers["x-cache"] != "near"
    assert sum(sent_since(before, redis_client).values()) >= 3


def test_a_near_hit_is_served_while_every_thread_of_the_worker_is_busy(tiny_shop_path, tmp_path):
    """One worker, one thread. A price change waits for SQLite's write lock, which this test
    holds, so the worker's only thread is busy; a near hit is answered meanwhile, on the event
    loop. (Served on a thread, it would wait for the write to finish.)"""
    copy = tmp_path / "shop.db"
    shutil.copyfile(tiny_shop_path, copy)
    with WebService("near", workers=1, threads=1, ttl=TTL_S, db_path=copy) as service:
        near_copy_everywhere(service, "/")
        lock = sqlite3.connect(copy, timeout=0, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the shop's write lock, held by this test
        writes: list[Reply] = []
        writer = threading.Thread(
            target=lambda: writes.append(service.post("/products/5/price", {"price_cents": 505}))
        )
        try:
            writer.start()
            deadline = time.monotonic() + 4  # the shop waits up to 5 s for the lock
            while service.stats()["total"]["in_flight"] < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert service.stats()["total"]["in_flight"] == 1, "the write is on the thread"
            home = service.get("/")
            served_during_the_write = writer.is_alive()
        finally:
            lock.execute("ROLLBACK")
            lock.close()
            writer.join(timeout=10)
        assert home.status == 200 and home.headers["x-cache"] == "near"
        assert served_during_the_write, "the near hit waited for the thread the write held"
        assert writes and writes[0].status == 200, "the write went through once the lock was free"
