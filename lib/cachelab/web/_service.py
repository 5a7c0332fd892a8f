"""Start the web service from a notebook or a test, wait until it answers, and stop it.

``WebService`` runs ``python -m cachelab.web`` as a process of its own, on a free
port of 127.0.0.1, with a fresh Redis key prefix under the learner's (deleted again
when it stops)::

    with WebService(cache="redis", workers=2) as service:
        service.get("/").headers["x-cache"]       # 'miss', then 'hit'
        service.stats()["total"]["db_queries"]

Stopping is done by process id, and reaches the workers too: the service leads a
process group of its own (its workers belong to it), and ``stop()`` signals that
group -- SIGTERM, so gunicorn shuts the workers down cleanly, then SIGKILL for
anything still there after a grace period. The group is also a session of its own,
so Jupyter's "Interrupt kernel" (which signals the kernel's process group) leaves
the service running for the ``with`` block to stop. If the kernel *dies*, the same
watchdog that guards the private Redis (``cachelab._internal.watchdog``, here with
``--group``) stops the service and its workers within a second.

Redis, in the modes that use it, is the course's: ``$REDIS_URL`` if set, else this
process's private server (``redis_server.connect()``), whose URL is handed to every
worker -- so a lesson can look at the very keys the service writes (``cache()``).
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from cachelab import keys
from cachelab._internal import watchdog
from cachelab._internal.validation import validate_choice, validate_number, validate_whole_number
from cachelab.web._config import APPS, MAX_THREADS, MAX_WAITERS, CacheMode, cache_mode
from cachelab.web._load import wait_until_idle
from cachelab.web._server import MAX_WORKERS, READY_LINE

__all__ = ["Reply", "WebService", "ServiceNotReady", "stop_all"]


class ServiceNotReady(RuntimeError):
    """The service did not start (or did not answer) in time; the message holds its log."""


@dataclass
class Reply:
    """One HTTP answer: its status, its headers (names in lower case) and its JSON body."""

    status: int
    headers: dict[str, str]
    body: Any

    @property
    def worker(self) -> int:
        """The process id of the worker that answered (its ``X-Worker`` header)."""
        return int(self.headers["x-worker"])


_running: "weakref.WeakSet[WebService]" = weakref.WeakSet()


def stop_all() -> None:
    """Stop every service this process started and has not stopped (run at exit)."""
    for service in list(_running):
        service.stop()


atexit.register(stop_all)


class WebService:
    """The shop served by ``workers`` worker processes in ``cache`` mode (a ``CacheMode``, or its
    name), on 127.0.0.1, each serving up to ``threads`` requests at once.

    ``db_path`` is the shop it serves, and writes; by default a private copy of the course's shop
    (``data.build_shop()``) that the service makes and removes. A lesson that looks at the database
    itself passes ``data.scratch_shop()``. ``max_waiters`` bounds the requests per worker waiting
    for one page's load (single-flight). ``prefix`` defaults to a fresh one under the learner's,
    ``cachelab:<learner>:web:<random>:``, whose keys ``stop()`` deletes. ``app="ceiling"`` serves
    the homepage's bytes as a constant instead of the shop.

    >>> from cachelab.shop.data import build_shop
    >>> with WebService("memory", workers=1, db_path=build_shop(size="tiny")) as service:
    ...     reply = service.get("/products/99999")
    >>> reply.status, reply.body["error"]
    (404, 'no product with id 99999 in shop-tiny.db')
    >>> service.is_running()
    False
    """

    def __init__(
        self,
        cache: Union[CacheMode, str] = CacheMode.NONE,
        *,
        workers: int = 2,
        ttl: float = 30.0,
        db_path: Union[str, Path, None] = None,
        prefix: Optional[str] = None,
        app: str = "shop",
        lock_ttl: float = 5.0,
        wait_timeout: float = 5.0,
        threads: int = 8,
        max_waiters: int = 64,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.cache_mode = cache_mode(cache)
        self.workers = validate_whole_number(workers, "workers", maximum=MAX_WORKERS)
        self.ttl = validate_number(ttl, "ttl", above=0, maximum=365 * 86_400, unit="seconds")
        self.app = validate_choice(app, "app", APPS)
        self.lock_ttl = validate_number(lock_ttl, "lock_ttl", above=0, maximum=3600, unit="seconds")
        self.wait_timeout = validate_number(
            wait_timeout, "wait_timeout", above=0, maximum=3600, unit="seconds"
        )
        self.threads = validate_whole_number(threads, "threads", maximum=MAX_THREADS)
        self.max_waiters = validate_whole_number(max_waiters, "max_waiters", maximum=MAX_WAITERS)
        self.start_timeout_s = validate_number(
            start_timeout_s, "start_timeout_s", above=0, maximum=600, unit="seconds"
        )
        self._own_prefix = prefix is None
        self.prefix = keys._validate_prefix(
            prefix if prefix is not None else f"{keys.learner_prefix()}web:{uuid.uuid4().hex[:8]}:"
        )
        self.db_path = Path(db_path) if db_path is not None else None
        self.port: Optional[int] = None
        self.folder: Optional[Path] = None
        self.process: Optional[subprocess.Popen] = None
        self.watchdog: Optional[subprocess.Popen] = None
        self.owner_pid = os.getpid()
        self._redis_client = None
        self._started_at = 0.0

    # -- where it is

    @property
    def url(self) -> str:
        """The service's address, e.g. ``http://127.0.0.1:41235``."""
        if self.port is None:
            raise RuntimeError("the service has not been started: call start() or use `with`")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> Optional[int]:
        """The id of the service's main process (it leads the group its workers are in)."""
        return self.process.pid if self.process is not None else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- start and stop

    def start(self, wait: bool = True) -> "WebService":
        """Start the service and wait until every worker answers; return ``self``.

        With ``wait=False`` it returns at once, and ``wait()`` waits: several services
        then start side by side, which is quicker than one after another.
        """
        if self.is_running():
            return self
        self.port = None
        self._started_at = time.monotonic()
        self.folder = Path(tempfile.mkdtemp(prefix="cachelab-web-"))
        (self.folder / "state").mkdir()
        environment = dict(os.environ, PYTHONUNBUFFERED="1")
        if self.cache_mode.uses_redis and self.app == "shop":
            from cachelab.environment import redis_server

            self._redis_client = redis_server.connect()
            environment["REDIS_URL"] = redis_server.url_of(self._redis_client)
        command = [
            sys.executable, "-m", "cachelab.web",
            "--host", "127.0.0.1", "--port", "0",
            "--workers", str(self.workers),
            "--cache", self.cache_mode.value,
            "--ttl", repr(float(self.ttl)),
            "--prefix", self.prefix,
            "--app", self.app,
            "--lock-ttl", repr(float(self.lock_ttl)),
            "--wait-timeout", repr(float(self.wait_timeout)),
            "--threads", str(self.threads),
            "--max-waiters", str(self.max_waiters),
            "--state-dir", str(self.folder / "state"),
        ]  # fmt: skip
        if self.db_path is not None:  # else the service serves a private copy of its own
            command += ["--db", str(self.db_path)]
        self.owner_pid = os.getpid()
        # A session of its own (so a kernel interrupt does not reach it), which makes the
        # service the leader of a process group that its workers join: the watchdog stops
        # the whole group if we die.
        self.process, self.watchdog = watchdog.start_detached(
            command, self.folder, "service.log", env=environment, group=True
        )
        _running.add(self)
        return self.wait() if wait else self

    def wait(self) -> "WebService":
        """Wait until the service started by ``start(wait=False)`` answers on every worker.

        If it stops, or does not answer within ``start_timeout_s`` of its start, it is
        stopped and ``ServiceNotReady`` says why, with its log.
        """
        if self.process is None:
            raise RuntimeError("the service has not been started: call start() first")
        try:
            self._wait_until_ready()
        except ServiceNotReady as error:
            log_text = self.log()[-3000:]
            self.stop()
            raise ServiceNotReady(f"{error}. The service's log:\n{log_text}") from None
        except BaseException:  # an interrupt while waiting: leave nothing running
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = self._started_at + self.start_timeout_s
        pattern = re.compile(re.escape(READY_LINE) + r".* on http://127\.0\.0\.1:(\d+)")
        while self.port is None:
            found = pattern.search(self.log())
            if found:
                self.port = int(found.group(1))
                break
            self._check_alive_until(deadline)
        while True:
            try:
                workers = self.stats(timeout_s=2)["workers"]
            except (OSError, http.client.HTTPException, ValueError):
                workers = []
            if len(workers) >= self.workers:
                return
            self._check_alive_until(deadline)

    def _check_alive_until(self, deadline: float) -> None:
        if self.process.poll() is not None:
            raise ServiceNotReady(f"the service stopped with exit status {self.process.returncode}")
        if time.monotonic() > deadline:
            raise ServiceNotReady(f"the service did not answer within {self.start_timeout_s:g} s")
        time.sleep(0.05)

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the service and its workers (by their process group), delete its Redis keys
        (when the prefix was its own) and its folder. Safe to call twice.
        """
        if os.getpid() != self.owner_pid:
            return  # only the process that started the service may stop it
        if self.process is not None:
            if self.process.poll() is None or watchdog.group_is_alive(self.process.pid):
                watchdog.stop(self.process.pid, group=True, grace_s=grace_s, reap=self.process.poll)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:  # pragma: no cover -- SIGKILL was sent
                self.process.kill()
                self.process.wait()
        if self.watchdog is not None:
            self.watchdog.terminate()
            self.watchdog.wait()
            self.watchdog = None
        if self._redis_client is not None and self._own_prefix:
            from cachelab.cache import _delete_keys_under

            try:
                _delete_keys_under(self._redis_client, self.prefix)
            except Exception:  # the server may be gone (a test stopped it): nothing to delete
                pass
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        _running.discard(self)

    def processes_left(self) -> bool:
        """True while any process of the service still runs: its main process or a worker (they
        share a process group). False once ``stop()`` has returned."""
        if self.process is None:
            return False
        return self.process.poll() is None or watchdog.group_is_alive(self.process.pid)

    def __enter__(self) -> "WebService":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- talking to it

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        timeout_s: float = 10.0,
        headers: Optional[dict[str, str]] = None,
    ) -> Reply:
        """One request on a connection of its own (so successive requests may reach different
        workers); ``body`` is sent as JSON (a ``str`` or ``bytes`` is sent as it is, labelled
        JSON too: the service reads nothing else). ``headers`` are added or replace these.
        """
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        try:
            sent = {"Connection": "close"}
            if body is not None:
                sent["Content-Type"] = "application/json"
                if not isinstance(body, (str, bytes)):
                    body = json.dumps(body)
            headers = {**sent, **(headers or {})}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            reply_headers = {name.lower(): value for name, value in response.getheaders()}
            return Reply(response.status, reply_headers, json.loads(raw) if raw else None)
        finally:
            connection.close()

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Reply:
        return self.request("POST", path, body)

    def stats(self, timeout_s: float = 10.0) -> dict:
        """``GET /stats``: every worker's counters and their totals."""
        return self.request("GET", "/stats", timeout_s=timeout_s).body

    def worker_pids(self) -> list[int]:
        """The process ids of the workers, from ``/stats``."""
        return [row["pid"] for row in self.stats()["workers"]]

    def cache(self):
        """A ``RedisCache`` on the service's own keys (same server, same prefix), to look at
        them.
        """
        if self._redis_client is None:
            raise RuntimeError(f"cache mode {self.cache_mode.value!r} uses no Redis")
        from cachelab.cache import RedisCache

        return RedisCache(self._redis_client, prefix=self.prefix)

    def expire_homepage(self, in_s: float) -> None:
        """Make the cached homepage expire ``in_s`` seconds from now (``PEXPIRE`` on its Redis
        key): lesson 10 lets it expire under load, on purpose, to show the stampede."""
        in_s = validate_number(in_s, "in_s", above=0, maximum=3600, unit="seconds")
        key = keys._redis_key(self.prefix, keys.trending())
        if not self.cache().client.pexpire(key, max(1, round(in_s * 1000))):
            raise RuntimeError("the homepage is not cached yet: GET / once, then expire it")

    def wait_until_idle(self, timeout_s: float = 15.0) -> bool:
        """Wait until no worker has a request in flight (what a load run left queued), so that
        the next run starts on an idle service; True if it got there within ``timeout_s``."""
        return wait_until_idle(self.url, timeout_s=timeout_s)

    def log(self) -> str:
        """What the service has printed so far (gunicorn's and uvicorn's warnings and errors)."""
        if self.folder is None:
            return ""
        try:
            return (self.folder / "service.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.is_running() else "stopped"
        return f"WebService(cache={self.cache_mode.value!r}, workers={self.workers}, {state})"
