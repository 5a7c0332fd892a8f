"""The web service's edges: cross-site writes, body sizes, hostile ids and JSON, the shop it
serves, and what it leaves behind.

One real service (uvicorn, one worker, no cache) on its own copy of the tiny shop,
shared by the module; raw HTTP through ``http.client``, so that every header and
every byte on the wire is the test's choice.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest
from support import shop_digest

from cachelab.web._service import WebService

PRODUCT = 5


@pytest.fixture(scope="module")
def service(tiny_shop_path: Path, tmp_path_factory) -> Iterator[WebService]:
    copy = tmp_path_factory.mktemp("edges") / "shop-edges.db"
    shutil.copyfile(tiny_shop_path, copy)
    with WebService("none", workers=1, threads=4, db_path=copy) as running:
        yield running


def send(
    service: WebService,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Optional[dict] = None,
    timeout_s: float = 20.0,
) -> tuple[int, str]:
    """One raw request; (status, body text)."""
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=timeout_s)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def price(service: WebService) -> int:
    return service.get(f"/products/{PRODUCT}").body["price_cents"]


JSON = {"Content-Type": "application/json"}


# --------------------------------------------------------------------------- cross-site writes


def test_a_text_plain_post_from_a_foreign_site_changes_nothing(service):
    before = price(service)
    status, _ = send(
        service,
        "POST",
        f"/products/{PRODUCT}/price",
        json.dumps({"price_cents": before + 1}).encode(),
        {"Content-Type": "text/plain", "Origin": "http://evil.example", "Host": "evil.example"},
    )
    assert status in (400, 403, 415)
    assert price(service) == before


def test_a_write_must_be_sent_as_json(service):
    before = price(service)
    body = json.dumps({"price_cents": before + 1}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        status, text = send(service, "POST", f"/products/{PRODUCT}/price", body, headers)
        assert status == 415, text
        assert "application/json" in json.loads(text)["error"]
    assert price(service) == before


def test_a_write_from_another_origin_is_refused(service):
    before = price(service)
    body = json.dumps({"price_cents": before + 1}).encode()
    for origin in ("http://evil.example", "null", f"http://localhost:{service.port + 1}"):
        status, text = send(
            service, "POST", f"/products/{PRODUCT}/price", body, {**JSON, "Origin": origin}
        )
        assert status == 403, (origin, text)
    assert price(service) == before
    same_site = {**JSON, "Origin": f"http://127.0.0.1:{service.port}"}
    status, text = send(service, "POST", f"/products/{PRODUCT}/price", body, same_site)
    assert status == 200, text
    assert price(service) == before + 1


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example"])
def test_a_request_for_another_host_name_is_refused(service, host):
    """DNS rebinding: a foreign name that resolves to 127.0.0.1 reaches the service."""
    before = price(service)
    body = json.dumps({"price_cents": before + 1}).encode()
    status, _ = send(service, "POST", f"/products/{PRODUCT}/price", body, {**JSON, "Host": host})
    assert status == 400
    assert send(service, "GET", "/", headers={"Host": host})[0] == 400
    assert price(service) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST:8000", "[::1]:1234"])
def test_this_machines_names_are_served(service, host):
    assert send(service, "GET", f"/products/{PRODUCT}", headers={"Host": host})[0] == 200


# --------------------------------------------------------------------------- body sizes


def test_a_body_declared_too_large_is_refused_before_it_is_read(service):
    """10 MB declared, a few bytes sent: the answer comes without the rest of the body."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=20) as client:
        client.sendall(
            (
                f"POST /products/{PRODUCT}/price HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
                '{"price_cents": '
            ).encode()
        )
        reply = client.recv(4096).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 413"), reply[:200]


def test_a_chunked_body_is_cut_off_at_the_limit(service):
    before = price(service)

    def chunks():
        yield b'{"price_cents": 1, "padding": "'
        for _ in range(64):
            yield b"x" * 1024
        yield b'"}'

    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=20)
    try:
        connection.request(
            "POST", f"/products/{PRODUCT}/price", body=chunks(), headers=JSON, encode_chunked=True
        )
        status = connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):  # refused while the rest was still sent
        status = 413
    finally:
        connection.close()
    assert status == 413
    assert price(service) == before


def test_a_body_within_the_limit_is_still_read(service):
    before = price(service)
    body = json.dumps({"price_cents": before + 2}).encode()
    assert send(service, "POST", f"/products/{PRODUCT}/price", body, JSON)[0] == 200
    assert price(service) == before + 2


# --------------------------------------------------------------------------- hostile values


def test_an_id_of_thousands_of_digits_is_a_4xx_not_a_500(service):
    for digits in (20, 4_299, 4_400, 10_000):
        status, text = send(service, "GET", "/products/" + "9" * digits)
        assert status in (404, 422), (digits, status, text[:200])
        assert len(text) < 500, "the answer does not echo the id back"
        status, _ = send(
            service, "POST", "/products/" + "9" * digits + "/sell", b'{"quantity": 1}', JSON
        )
        assert status in (404, 422)


@pytest.mark.parametrize("depth", [1_000, 2_000])
def test_json_nested_deeply_is_a_4xx_not_a_500(service, depth):
    """Python 3.11's json gives up on it (RecursionError: 400, nested too deeply); 3.13's parses
    it, and a list is no price (422). Either way a short answer, and the price unchanged."""
    before = send(service, "GET", f"/products/{PRODUCT}")[1]
    body = ('{"price_cents": ' + "[" * depth + "]" * depth + "}").encode()
    assert len(body) <= 4_096
    status, text = send(service, "POST", f"/products/{PRODUCT}/price", body, JSON)
    assert status in (400, 422), text[:300]
    assert len(text) < 500, f"the refusal echoes the body: {len(text):,} characters"
    assert send(service, "GET", f"/products/{PRODUCT}")[1] == before


def test_error_bodies_name_no_folder_of_this_machine(service):
    replies = [
        send(service, "GET", "/products/99999"),
        send(service, "POST", "/products/99999/sell", b'{"quantity": 1}', JSON),
        send(service, "POST", f"/products/{PRODUCT}/sell", b'{"quantity": 10000}', JSON),
    ]
    for status, text in replies:
        assert status in (404, 409)
        assert str(service.db_path.parent) not in text and "/tmp" not in text, text


# --------------------------------------------------------------------------- the shop it serves


def start_shell_service(
    arguments: list[str], tmp: Path, data: Optional[Path] = None
) -> tuple[subprocess.Popen, int]:
    """``python -m cachelab.web`` from a shell, its temporary folders under ``tmp`` and the
    course's shops in ``data``.
    """
    environment = dict(os.environ, TMPDIR=str(tmp), CACHELAB_SHOP_SIZE="tiny")
    if data is not None:
        environment["CACHELAB_DATA_DIR"] = str(data)
    process = subprocess.Popen(
        [sys.executable, "-m", "cachelab.web", "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
        start_new_session=True,
    )
    line = process.stdout.readline()
    assert "serving" in line, line
    return process, int(line.rsplit(":", 1)[1])


def wait_for_answer(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/stats")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def send_get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def post(port: int, path: str, document: dict) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("POST", path, body=json.dumps(document), headers=JSON)
        return connection.getresponse().status
    finally:
        connection.close()


def files_open_in(process_id: int) -> set[Path]:
    """The files a process and its children have open (Linux's /proc), resolved."""
    import psutil

    found = set()
    for process in [psutil.Process(process_id), *psutil.Process(process_id).children(True)]:
        for held in process.open_files():
            found.add(Path(held.path).resolve())
    return found


def test_by_default_the_service_writes_a_private_copy_and_removes_it(tiny_shop_path, tmp_path):
    data, scratch = tmp_path / "data", tmp_path / "tmp"  # the course's data folder, and /tmp
    data.mkdir()
    scratch.mkdir()
    course_shop = data / "shop-tiny.db"
    shutil.copyfile(tiny_shop_path, course_shop)
    before = shop_digest(course_shop)
    process, port = start_shell_service(["--workers", "1"], scratch, data)
    try:
        wait_for_answer(port)
        assert send_get(port, "/products/3") == 200  # its shop is open now
        if sys.platform.startswith("linux"):
            assert course_shop.resolve() not in files_open_in(process.pid)
        assert post(port, "/products/3/price", {"price_cents": 123_456}) == 200
        assert post(port, "/products/3/sell", {"quantity": 1}) == 200
        assert shop_digest(course_shop) == before, "the course's shop is as it was built"
        copies = list(scratch.rglob("*.db"))
        assert len(copies) == 1, copies
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert list(scratch.iterdir()) == [], "the copy and its folder are gone"
    assert list(data.iterdir()) == [course_shop]


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_leaves_no_state_folder_behind(tiny_shop_path, tmp_path, workers):
    copy = tmp_path / "given" / "shop.db"
    copy.parent.mkdir()
    shutil.copyfile(tiny_shop_path, copy)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process, port = start_shell_service(["--workers", str(workers), "--db", str(copy)], scratch)
    try:
        wait_for_answer(port)
        assert post(port, "/products/4/sell", {"quantity": 1}) == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert list(scratch.iterdir()) == []
    assert copy.exists(), "a file given with --db is served, and kept"
