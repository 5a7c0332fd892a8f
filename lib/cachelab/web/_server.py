"""Serve the shop over HTTP from a shell: the service's main process and its workers.

    python -m cachelab.web --port 8000 --workers 2 --cache redis

This is the service's main process. It decides what every worker gets -- the
shop's database, the cache mode, the TTL, the Redis server -- binds the listening
socket, and hands both to uvicorn, which starts ``--workers`` worker processes that
all accept connections on that one socket.

The shop: ``--db FILE`` serves (and writes) that file. Without it, the service
serves a private copy of the course's shop (``data.build_shop()``), made in its
state folder and removed when it stops: a price posted over HTTP must not stay in
every later lesson, nor make the next ``build_shop()`` think the course's file is
damaged. The state folder (the workers' counters, the copy) is removed however the
service stops: Ctrl-C, SIGTERM, or an error.

Redis is chosen as everywhere in the course: ``$REDIS_URL`` if set; otherwise, in a
mode that needs Redis, this process starts one private ``redis-server``
(``redis_server._private_server()``) and passes its URL to every worker in
``REDIS_URL``, so that all of them share it. It stops with the service.

The service listens on the loopback interface only (127.0.0.1 by default): it has
no passwords, and anyone who can reach it can change prices. ``--port 0`` picks a
free port; the line ``serving ... on http://127.0.0.1:<port>`` says which.

>>> arguments = parse_arguments(["--cache", "redis", "--workers", "4", "--port", "0"])
>>> arguments.cache, arguments.workers, arguments.host
('redis', 4, '127.0.0.1')
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
import time
from pathlib import Path
from typing import Optional, Sequence

from cachelab import keys
from cachelab._internal.validation import validate_whole_number
from cachelab.shop.data import _SIZES
from cachelab.web._config import (
    APPS,
    CACHE_MODES,
    ENVIRONMENT_VARIABLE,
    MAX_THREADS,
    MAX_WAITERS,
    MODE_DESCRIPTIONS,
    ServiceConfig,
    needs_redis,
)

__all__ = [
    "MAX_WORKERS",
    "READY_LINE",
    "STARTUP_FAILURE",
    "parse_arguments",
    "serve",
    "run_workers",
    "main",
]

MAX_WORKERS = 32
"""The most worker processes one service starts."""

READY_LINE = "cachelab.web: serving"
"""How the line that announces the service's address starts (``WebService`` waits for it)."""

STARTUP_FAILURE = 3
"""uvicorn's exit status when the app cannot start (the same here)."""


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


def _workers(text: str) -> int:
    try:
        return validate_whole_number(int(text), "--workers", maximum=MAX_WORKERS)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _threads(text: str) -> int:
    try:
        return validate_whole_number(int(text), "--threads", maximum=MAX_THREADS)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _waiters(text: str) -> int:
    try:
        return validate_whole_number(int(text), "--max-waiters", maximum=MAX_WAITERS)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of seconds, got {text!r}") from None
    if not 0 < value <= 365 * 86_400:
        raise argparse.ArgumentTypeError(f"a number of seconds > 0, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        return validate_whole_number(int(text), "--port", minimum=0, maximum=65_535)
    except (TypeError, ValueError) as error:
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
    parser.add_argument("--max-waiters", type=_waiters, default=64, help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=("critical", "error", "warning", "info", "debug"),
        help="uvicorn's log level (default warning)",
    )
    # Where the workers keep their counters; WebService passes a folder it owns.
    parser.add_argument("--state-dir", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _epilog() -> str:
    """The end of ``--help``: the cache modes, the endpoints, and commands to copy."""
    modes = "\n".join(f"  {mode:<22} {MODE_DESCRIPTIONS[mode]}" for mode in CACHE_MODES)
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
    parser.add_argument(
        "--port", type=_port, default=8000, help="the TCP port; 0 picks a free one (default 8000)"
    )
    parser.add_argument("--workers", type=_workers, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--cache",
        choices=CACHE_MODES,
        default="none",
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
        type=_threads,
        default=8,
        help="requests each worker serves at once: its thread pool (default 8)",
    )


def serve(arguments: argparse.Namespace) -> int:
    """Run the service until it is stopped (Ctrl-C, SIGTERM); return the exit status."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    own_state_dir = arguments.state_dir is None
    state_dir = (
        Path(tempfile.mkdtemp(prefix="cachelab-web-")) if own_state_dir else arguments.state_dir
    )
    private_copy: Optional[Path] = None
    # uvicorn, once it has shut down on SIGTERM, raises the signal again: with Python's default
    # handler that would end this process before the clean-up below.
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
        from cachelab.shop.app import Shop

        # A missing or broken database is refused here, once, rather than in every worker.
        Shop(config.db_path).close()
        if needs_redis(config.cache) and config.app == "shop":
            from cachelab.environment import redis_server

            client = redis_server.connect()  # $REDIS_URL, else a private server started now
            os.environ["REDIS_URL"] = redis_server.url_of(client)
            client.close()  # each worker opens its own connection
        os.environ[ENVIRONMENT_VARIABLE] = config.to_json()

        uvicorn_config = uvicorn.Config(
            "cachelab.web._app:app_from_environment",
            factory=True,
            host=arguments.host,
            port=arguments.port,
            workers=arguments.workers,
            log_level=arguments.log_level,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        socket = uvicorn_config.bind_socket()
        socket.listen(uvicorn_config.backlog)  # from now on connections wait for a worker
        port = socket.getsockname()[1]
        print(
            f"{READY_LINE} the shop ({config.app}, cache={config.cache}, ttl={config.ttl:g} s, "
            f"{arguments.workers} worker(s) x {arguments.threads} threads) on http://{arguments.host}:{port}",
            flush=True,
        )
        if arguments.workers > 1 and hasattr(os, "fork"):
            return run_workers(uvicorn_config, socket, arguments.workers)
        if arguments.workers > 1:  # no fork (Windows): uvicorn's own supervisor spawns them
            Multiprocess(uvicorn_config, sockets=[socket]).run()
        else:
            uvicorn.Server(uvicorn_config).run(sockets=[socket])
        return 0
    finally:
        if private_copy is not None:
            shutil.rmtree(private_copy, ignore_errors=True)
        if own_state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


def _exit_on_sigterm(number: int, frame: object) -> None:
    raise SystemExit(0)


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


def _worker(uvicorn_config, socket) -> None:
    """The body of one forked worker: a uvicorn server on the shared socket, until told to stop."""
    import traceback

    import uvicorn

    # The parent's handlers are inherited; uvicorn installs its own, and once it has shut
    # down cleanly it raises the signal again, which must then end this process.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    status = 0
    try:
        uvicorn.Server(uvicorn_config).run(sockets=[socket])
    except SystemExit as stop:  # uvicorn exits with 3 when the app cannot start
        status = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def run_workers(uvicorn_config, socket, workers: int, grace_s: float = 5.0) -> int:
    """Fork ``workers`` uvicorn servers on ``socket``; supervise them until SIGTERM or SIGINT.

    The way gunicorn runs uvicorn workers with ``--preload``: this process has imported
    everything already, so a forked worker starts in milliseconds instead of importing
    it all again (uvicorn's own ``--workers`` starts fresh interpreters). It is
    single-threaded when it forks, which is what makes forking safe. A worker that
    dies is replaced; one that cannot start the app stops the whole service.
    Returns the exit status: 0, or 3 if a worker could not start.
    """
    import cachelab.web._app  # noqa: F401 -- imported once, here, for every worker

    stopping = []
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, lambda number, frame: stopping.append(number))

    def fork_one() -> int:
        pid = os.fork()
        if pid == 0:
            _worker(uvicorn_config, socket)
        return pid

    children = {fork_one() for _ in range(workers)}
    status = 0
    while not stopping:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid = 0
        if pid in children:
            children.discard(pid)
            code = os.waitstatus_to_exitcode(wait_status)
            if code == STARTUP_FAILURE:
                print("cachelab.web: a worker could not start the app; stopping", flush=True)
                status = STARTUP_FAILURE
                break
            print(f"cachelab.web: worker {pid} ended ({code}); starting another", flush=True)
            children.add(fork_one())
            continue
        time.sleep(0.1)
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    while children and time.monotonic() < deadline:
        for pid in list(children):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    children.discard(pid)
            except ChildProcessError:
                children.discard(pid)
        time.sleep(0.02)
    for pid in children:  # still there after the grace period
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    arguments = parse_arguments(argv)
    try:
        return serve(arguments)
    except KeyboardInterrupt:
        return 0
    except (FileNotFoundError, ValueError, TypeError, RuntimeError) as error:
        print(f"python -m cachelab.web: {error}", file=sys.stderr)
        return 2
