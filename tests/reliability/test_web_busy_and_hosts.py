"""Two more of the web service's edges: a shop database another process is writing (503, not
500), and Starlette's test-client host name (refused, like any other foreign name).

One real service (uvicorn, one worker, no cache) on its own copy of the tiny shop; raw HTTP
through ``http.client``; the lock is a real ``BEGIN EXCLUSIVE`` held from this process.
"""

from __future__ import annotations

import http.client
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Iterator, Optional

import pytest

from cachelab.web._service import WebService

PRODUCT = 5
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def served(tiny_shop_path: Path, tmp_path_factory) -> Iterator[tuple[WebService, Path]]:
    copy = tmp_path_factory.mktemp("busy") / "shop-busy.db"
    shutil.copyfile(tiny_shop_path, copy)
    with WebService("none", workers=1, threads=2, db_path=copy) as running:
        yield running, copy


def send(
    service: WebService,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Optional[dict] = None,
) -> tuple[int, dict, str]:
    """One raw request; (status, headers, body text)."""
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        return response.status, dict(response.getheaders()), text
    finally:
        connection.close()


def test_a_write_while_another_process_holds_the_database_is_a_503_with_retry_after(served):
    """The shop's connection waits SQLite's busy timeout (5 s), then "database is locked": once a
    500 with a traceback in the log; it is the database being busy, so 503 and Retry-After."""
    service, path = served
    before = service.get(f"/products/{PRODUCT}").body["price_cents"]
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # as a long write of another process does
        status, headers, text = send(
            service,
            "POST",
            f"/products/{PRODUCT}/price",
            json.dumps({"price_cents": before + 1}).encode(),
            JSON,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status == 503, text[:300]
    assert headers.get("retry-after") == "1", headers
    assert "busy" in json.loads(text)["error"], text
    assert str(path.parent) not in text, "the error names a folder of this machine"
    assert service.get(f"/products/{PRODUCT}").body["price_cents"] == before, "nothing written"


def test_the_test_clients_host_name_is_not_trusted(served):
    """``testserver`` (Starlette's TestClient's name) was a trusted ``Host`` in production,
    though no test uses the TestClient: a name anyone's DNS can point at 127.0.0.1."""
    service, _ = served
    assert send(service, "GET", f"/products/{PRODUCT}", headers={"Host": "testserver"})[0] == 400
    assert send(service, "GET", f"/products/{PRODUCT}", headers={"Host": "127.0.0.1"})[0] == 200
