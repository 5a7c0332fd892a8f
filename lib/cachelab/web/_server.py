"""Serve the shop over HTTP from a shell: the service's main process, and gunicorn's workers.

    python -m cachelab.web --port 8000 --workers 2 --cache redis

This is the service's main process. It decides what every worker gets -- the shop's database,
the cache mode, the TTL, the Redis server -- and builds the app once. gunicorn then binds the
listening socket and forks ``--workers`` worker processes that all accept connections on it, each
running the app in uvicorn (gunicorn's worker class from the ``uvicorn-worker`` package). gunicorn
supervises them: a worker that dies is replaced, and if one cannot start the app the whole service
stops with exit status 3 (``STARTUP_FAILURE``).

Why gunicorn, and why ``--preload`` (``preload_app``): the app is loaded in this process, which has
imported everything already, and the workers are forked from it, so a worker starts in
milliseconds instead of importing Starlette, the shop and the caches again (uvicorn's own
``--workers`` starts fresh interpreters); lesson 10 starts five services side by side. Nothing that
belongs to one worker is made before the fork: each worker's lifespan opens its own thread pool,
shops, cache (a ``MemoryCache`` of its own, or its own connection to the shared Redis) and
counters, so per-worker caches really are per worker. Lesson 10 teaches what the workers do, not
how they are supervised, so that part is gunicorn's (which runs on Linux and macOS; on Windows
the course runs inside WSL 2).

The shop: ``--db FILE`` serves (and writes) that file. Without it, the service serves a private
copy of the course's shop (``data.build_shop()``), made in its state folder and removed when it
stops: a price posted over HTTP must not stay in every later lesson, nor make the next
``build_shop()`` think the course's file is damaged. The state folder (the workers' counters, the
copy) is removed however the service stops: Ctrl-C, SIGTERM, or an error.

Redis is chosen as everywhere in the course: ``$REDIS_URL`` if set; otherwise, in a mode that
needs Redis, this process starts one private ``redis-server`` (``redis_server.connect()``) and
passes its URL to every worker in ``REDIS_URL``, so that all of them share it. It stops with the
service.

The service listens on the loopback interface only (127.0.0.1 by default): it has no passwords,
and anyone who can reach it can change prices. ``--port 0`` picks a free port; the line ``serving
... on http://127.0.0.1:<port>`` says which.

>>> arguments = parse_arguments(["--cache", "redis", "--workers", "4", "--port", "0"])
>>> arguments.cache, arguments.workers, arguments.host
(<CacheMode.REDIS: 'redis'>, 4, '127.0.0.1')
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from gunicorn.app.base import BaseApplication

from cachelab import keys
from cachelab._internal.validation import validate_whole_number
from cachelab.shop.data import _SIZES
from cachelab.web._config import (
    APPS,
    MAX_THREADS,
    MAX_WAITERS,
    CacheMode,
    ServiceConfig,
    cache_mode,
)

__all__ = ["MAX_WORKERS", "READY_LINE", "STARTUP_FAILURE", "parse_arguments", "serve", "main"]

MAX_WORKERS = 32
"""The most worker processes one service starts."""

READY_LINE = "cachelab.web: serving"
"""How the line that announces the service's address starts (``WebService`` waits for it)."""

STARTUP_FAILURE = 3
"""The exit status when a worker cannot start the app (gunicorn's ``WORKER_BOOT_ERROR``)."""


def _loopback(host: str) -> str:
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"the course's service listens on this machine only (127.0.0.1, ::1 or localhost), got "
        f"{host!r}: it has no passwords, and anyone who reaches it can change prices"
    )


def _whole_number(option: str, minimum: int = 1, maximum: int = 1) -> Callable[[str], int]:
    """An argparse ``type``: a whole number for ``option`` in ``[minimum, maximum]``."""

    def parse(text: str) -> int:
        try:
            return validate_whole_number(int(text), option, minimum=minimum, maximum=maximum)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of seconds, got {text!r}") from None
    if not 0 < value <= 365 * 86_400:
        raise argparse.ArgumentTypeError(f"a number of seconds > 0, got {text!r}")
    return value


def _cache(text: str) -> CacheMode:
    try:
        return cache_mode(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_arguments(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The service's options, from ``argv`` (default: the command line); ``--help`` lists them."""
    parser = argparse.ArgumentParser(
        prog="python -m cachelab.web",
        description="Serve the course's shop over HTTP, with N worker processes and a cache mode.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_epilog(),
    )
    _add_serving_options(parser)
    parser.add_argument("--lock-ttl", type=_seconds, default=5.0, help=argparse.SUPPRESS)
    parser.add_argument("--wait-timeout", type=_seconds, default=5.0, help=argparse.SUPPRESS)
    waiters = _whole_number("--max-waiters", maximum=MAX_WAITERS)
    parser.add_argument("--max-waiters", type=waiters, default=64, help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=("critical", "error", "warning", "info", "debug"),
        help="gunicorn's and uvicorn's log level (default warning)",
    )
    # Where the workers keep their counters; WebService passes a folder it owns.
    parser.add_argument("--state-dir", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _epilog() -> str:
    """The end of ``--help``: the cache modes, the endpoints, and commands to copy."""
    modes = "\n".join(f"  {mode.value:<22} {mode.description}" for mode in CacheMode)
    return f"""cache modes:
{modes}

endpoints:
  GET  /                      the homepage (trending products)
  GET  /products/ID           one product
  POST /products/ID/price     body {{"price_cents": 1299}}
  POST /products/ID/sell      body {{"quantity": 2}}
  GET  /stats                 every worker's requests, queries run, cache hits and misses
A POST must be sent as application/json (a body of at most 4 KB), from no other site.

Shop: --db FILE, else a private copy of the course's shop, removed when the service stops.
Redis: $REDIS_URL if set, else a private redis-server that all workers share.
Example: python -m cachelab.web --port 8000 --workers 2 --cache redis
         curl http://127.0.0.1:8000/  ;  curl http://127.0.0.1:8000/stats
         curl -H 'Content-Type: application/json' -d '{{"quantity": 1}}' \\
              http://127.0.0.1:8000/products/3/sell"""


def _add_serving_options(parser: argparse.ArgumentParser) -> None:
    """Add the options a learner sets: where to listen, how many workers, what cache, what shop."""
    parser.add_argument(
        "--host",
        type=_loopback,
        default="127.0.0.1",
        help="the address to listen on, on this machine only (default 127.0.0.1)",
    )
    port = _whole_number("--port", minimum=0, maximum=65_535)
    parser.add_argument(
        "--port", type=port, default=8000, help="the TCP port; 0 picks a free one (default 8000)"
    )
    workers = _whole_number("--workers", maximum=MAX_WORKERS)
    parser.add_argument("--workers", type=workers, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--cache",
        type=_cache,
        default=CacheMode.NONE,
        metavar="{" + ",".join(CacheMode) + "}",
        help="the cache mode (default none; see below)",
    )
    parser.add_argument(
        "--ttl",
        type=_seconds,
        default=30.0,
        help="seconds a cached page lives, and its Cache-Control max-age (default 30)",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="the shop's SQLite file, served and written as it is (default: a private copy of "
        "the course's shop, removed when the service stops)",
    )
    parser.add_argument(
        "--size",
        choices=tuple(_SIZES),
        default=None,
        help="the shop to build without --db (default: $CACHELAB_SHOP_SIZE, else default)",
    )
    parser.add_argument(
        "--prefix", default=None, help="the Redis key prefix (default cachelab:<learner>:web:)"
    )
    parser.add_argument(
        "--app",
        choices=APPS,
        default="shop",
        help="shop, or ceiling: the homepage's bytes as a constant, to measure the stack alone",
    )
    parser.add_argument(
        "--threads",
        type=_whole_number("--threads", maximum=MAX_THREADS),
        default=8,
        help="requests each worker serves at once: its thread pool (default 8)",
    )


def serve(arguments: argparse.Namespace) -> int:
    """Run the service until it is stopped (Ctrl-C, SIGTERM); return the exit status."""
    main_pid = os.getpid()
    own_state_dir = arguments.state_dir is None
    state_dir = (
        Path(tempfile.mkdtemp(prefix="cachelab-web-")) if own_state_dir else arguments.state_dir
    )
    private_copy: Optional[Path] = None
    # Until gunicorn installs its own handlers, SIGTERM ends this process through the clean-up.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if arguments.db is not None:
            db_path = arguments.db
        else:
            private_copy = Path(tempfile.mkdtemp(prefix="cachelab-web-shop-", dir=state_dir))
            db_path = copy_shop(private_copy, size=arguments.size)
        config = ServiceConfig(
            db_path=str(Path(db_path).resolve()),
            state_dir=str(state_dir),
            cache=arguments.cache,
            ttl=arguments.ttl,
            prefix=keys._validate_prefix(arguments.prefix) if arguments.prefix else None,
            app=arguments.app,
            lock_ttl=arguments.lock_ttl,
            wait_timeout=arguments.wait_timeout,
            threads=arguments.threads,
            max_waiters=arguments.max_waiters,
            host=arguments.host,
        )
        _use_the_shared_redis(config)
        _Gunicorn(config, arguments).run()
        return 0
    except SystemExit as stop:  # gunicorn's arbiter ends with sys.exit(status)
        return stop.code if isinstance(stop.code, int) else 1
    finally:
        # A worker is a fork of this process, and gunicorn ends one with sys.exit(), which would
        # pass through here: the clean-up is the main process's alone.
        if os.getpid() == main_pid:
            if private_copy is not None:
                shutil.rmtree(private_copy, ignore_errors=True)
            if own_state_dir:
                shutil.rmtree(state_dir, ignore_errors=True)


def _exit_on_sigterm(number: int, frame: object) -> None:
    raise SystemExit(0)


def _use_the_shared_redis(config: ServiceConfig) -> None:
    """Refuse a missing or broken shop once, here, rather than in every worker; and, in a mode
    that caches in Redis, put the server's URL in ``REDIS_URL`` for the workers (starting a
    private server now if ``$REDIS_URL`` is not set).
    """
    from cachelab.shop.app import Shop

    Shop(config.db_path).close()
    if config.cache.uses_redis and config.app == "shop":
        from cachelab.environment import redis_server

        client = redis_server.connect()  # $REDIS_URL, else a private server started now
        os.environ["REDIS_URL"] = redis_server.url_of(client)
        client.close()  # each worker opens its own connection


class _Gunicorn(BaseApplication):
    """gunicorn, told by this module what to run, instead of by its command line and config file:
    its documented way of being embedded ("custom application").
    """

    def __init__(self, config: ServiceConfig, arguments: argparse.Namespace) -> None:
        self.config = config
        self.arguments = arguments
        super().__init__()

    def load_config(self) -> None:
        host = f"[{self.arguments.host}]" if ":" in self.arguments.host else self.arguments.host
        settings = {
            "bind": [f"{host}:{self.arguments.port}"],
            "workers": self.arguments.workers,
            "worker_class": "uvicorn_worker.UvicornWorker",
            "preload_app": True,  # the app is built here, once, and the workers are forked
            "loglevel": self.arguments.log_level,
            "graceful_timeout": 5,  # seconds a worker has to finish its requests on SIGTERM
            "keepalive": 5,  # uvicorn's own default for idle keep-alive connections
            "control_socket_disable": True,  # no gunicornc socket in the learner's home
            "when_ready": self.announce,
        }
        for name, value in settings.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        from cachelab.web._app import create_app

        return create_app(self.config)

    def announce(self, arbiter: Any) -> None:
        """Print ``READY_LINE`` with the port: the socket is bound, the workers come next."""
        port = arbiter.LISTENERS[0].getsockname()[1]
        config, arguments = self.config, self.arguments
        print(
            f"{READY_LINE} the shop ({config.app}, cache={config.cache}, ttl={config.ttl:g} s, "
            f"{arguments.workers} worker(s) x {config.threads} threads) "
            f"on http://{arguments.host}:{port}",
            flush=True,
        )


def copy_shop(folder: Path, size: Optional[str] = None) -> Path:
    """A copy of the course's shop (``data.build_shop(size=size)``) in ``folder``; its path.

    Copied through SQLite's backup API, which reads a consistent state of the file even
    while someone writes it, and opens it read-only: the course's file is not changed.
    """
    from cachelab.shop.data import _connect_read_only, build_shop

    source = build_shop(size=size)
    target = folder / source.name
    reading = _connect_read_only(source)
    try:
        writing = sqlite3.connect(target)
        try:
            reading.backup(writing)
        finally:
            writing.close()
    finally:
        reading.close()
    return target


def main(argv: Optional[Sequence[str]] = None) -> int:
    arguments = parse_arguments(argv)
    try:
        return serve(arguments)
    except KeyboardInterrupt:
        return 0
    except (FileNotFoundError, ValueError, TypeError, RuntimeError) as error:
        print(f"python -m cachelab.web: {error}", file=sys.stderr)
        return 2
