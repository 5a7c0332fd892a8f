"""Run the shop in several worker processes, the way a web server does.

A real web backend runs several worker processes (gunicorn, uWSGI, ...), each
with its own memory. That is exactly what makes an in-memory cache tricky and
a shared cache (Redis) useful, so lessons need real processes, not threads.

``run_workers`` starts one process per argument tuple and returns what each one
returned. ``serve_pages`` is the worker lessons use: it opens its own Shop and
its own cache, serves page requests, and reports what it did.

A ``PageWorker`` is one worker process that stays up between batches of requests,
keeping its Shop and its cache, the way a web server's worker does. Lessons use
it to change the database *between* requests and see what each worker answers.

>>> from cachelab.shop.data import build_shop
>>> jobs = [(str(build_shop(size="tiny")), [("trending", 0)] * 5, "memory")] * 2
>>> [report["db_queries"] for report in run_workers(serve_pages, jobs)]  # one load per cache
[1, 1]
"""

from __future__ import annotations

import multiprocessing
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

if TYPE_CHECKING:
    from cachelab.cache import Cache
    from cachelab.shop.app import Shop

__all__ = ["PageWorker", "run_workers", "serve_pages"]

_CACHE_KINDS = ("none", "memory", "redis")
"""What a worker caches with: nothing, a ``MemoryCache`` of its own, or a shared ``RedisCache``."""


def _context():
    """How worker processes start: ``forkserver`` on Linux, ``spawn`` on macOS and Windows.

    Not plain ``fork``: a notebook kernel runs several threads, and forking a process
    with threads can leave the child stuck on a lock some other thread held (Python
    3.12 warns about it). A fork server is a clean, single-threaded process that forks
    the workers; it imports the course's modules once, so starting a worker stays fast.
    Either way, a worker's function must be importable -- defined in a module, like
    ``serve_pages`` -- not in a notebook cell.
    """
    if sys.platform.startswith("linux"):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            [
                "cachelab.lab.workers",
                "cachelab.shop.app",
                "cachelab.cache",
                "cachelab.environment.redis_server",
            ]
        )
        return context
    return multiprocessing.get_context("spawn")


def run_workers(func: Callable[..., Any], args_per_worker: Sequence[tuple]) -> list[Any]:
    """Run ``func(*args)`` in a separate process for each ``args``; return the results in order.

    ``func`` must be importable (defined in a module, like ``serve_pages``): the
    worker processes start fresh and find it by its module and name.
    """
    if not args_per_worker:
        raise ValueError("args_per_worker is empty: give one tuple of arguments per worker")
    # maxtasksperchild=1 and chunksize=1: each call gets a process of its own. Without them
    # one quick worker may take every task, and "three workers" would be one process.
    with _context().Pool(processes=len(args_per_worker), maxtasksperchild=1) as pool:
        return pool.starmap(func, args_per_worker, chunksize=1)


def serve_pages(
    db_path: str,
    pages: Sequence[tuple[str, int]],
    cache: str = "none",
    redis_url: Optional[str] = None,
    ttl: Optional[float] = None,
    prefix: Optional[str] = None,
) -> dict[str, Any]:
    """One worker: serve ``pages`` and report the database queries, the cache's stats and the last
    answers.

    ``pages`` is a list of ``("trending", 0)`` or ``("product", product_id)``.
    ``cache`` is one of ``_CACHE_KINDS``: ``"none"``, ``"memory"`` (a MemoryCache of
    this process's own) or ``"redis"`` (a RedisCache at ``redis_url``, shared with the
    other workers, under ``prefix``: by default the learner's, plus ``workers:``).
    """
    shop, page_cache = _open_shop_and_cache(db_path, cache, redis_url, ttl, prefix)
    try:
        return _serve(shop, page_cache, pages)
    finally:
        shop.close()


def _open_shop_and_cache(
    db_path: str, cache: str, redis_url: Optional[str], ttl: Optional[float], prefix: Optional[str]
) -> tuple[Shop, Optional[Cache]]:
    """Open a worker's own Shop and its cache (None for ``cache="none"``)."""
    # Imported here so that a spawned worker imports them itself.
    from cachelab import keys
    from cachelab._internal.validation import validate_choice
    from cachelab.cache import MemoryCache, RedisCache
    from cachelab.environment.redis_server import connect
    from cachelab.shop.app import Shop

    validate_choice(cache, "cache", _CACHE_KINDS)
    if cache == "redis" and redis_url is None:
        raise ValueError("cache='redis' needs redis_url: pass redis_server.url_of(client)")
    shop = Shop(db_path)
    if cache == "memory":
        return shop, MemoryCache(ttl=ttl)
    if cache == "redis":
        prefix = prefix if prefix is not None else keys.learner_prefix() + "workers:"
        return shop, RedisCache(connect(redis_url), prefix=prefix, ttl=ttl)
    return shop, None


def _serve(
    shop: Shop, page_cache: Optional[Cache], pages: Sequence[tuple[str, int]]
) -> dict[str, Any]:
    """Serve ``pages`` with ``shop`` and ``page_cache``; report queries so far, cache stats and
    answers.
    """
    import os

    from cachelab import keys

    answers: dict[str, Any] = {}
    for page, product_id in pages:
        if page == "trending":
            key, load = keys.trending(), shop.trending
        elif page == "product":
            key, load = keys.product(product_id), (lambda pid=product_id: shop.product(pid))
        else:
            raise ValueError(f"page must be 'trending' or 'product', got {page!r}")
        answers[key] = page_cache.get_or_load(key, load) if page_cache is not None else load()
    return {
        "pid": os.getpid(),
        "db_queries": shop.queries,
        "stats": page_cache.stats.as_dict() if page_cache is not None else None,
        "answers": answers,
    }


def _page_worker_loop(
    connection: Any,
    db_path: str,
    cache: str,
    redis_url: Optional[str],
    ttl: Optional[float],
    prefix: Optional[str],
) -> None:
    """The body of a ``PageWorker`` process: open once, then answer requests until told to stop."""
    try:
        shop, page_cache = _open_shop_and_cache(db_path, cache, redis_url, ttl, prefix)
    except Exception as error:  # reported to the parent, which raises it
        connection.send(("error", error))
        return
    connection.send(("ready", None))
    while True:
        try:
            request = connection.recv()
        except EOFError:  # the parent has gone
            break
        if request is None:
            break
        command, argument = request
        try:
            if command == "serve":
                result = _serve(shop, page_cache, argument)
            elif command == "delete":
                result = page_cache.delete(argument) if page_cache is not None else False
            else:
                raise ValueError(f"unknown command {command!r}")
        except Exception as error:
            connection.send(("error", error))
        else:
            connection.send(("ok", result))
    shop.close()


class PageWorker:
    """One worker process that stays up between requests, with its own Shop and its own cache.

    ``serve(pages)`` sends a batch of page requests to the process and returns the
    same report as ``serve_pages`` (``db_queries`` counts every query since the
    worker started). ``delete(key)`` drops one key from this worker's cache only --
    the other workers never hear of it. Use it in a ``with`` block, or call ``close()``::

        with PageWorker(build_shop(), cache="memory") as worker:
            worker.serve([("trending", 0)])["db_queries"]   # 1: the first request misses
            worker.serve([("trending", 0)])["db_queries"]   # still 1: a hit
    """

    def __init__(
        self,
        db_path: str,
        cache: str = "memory",
        redis_url: Optional[str] = None,
        ttl: Optional[float] = None,
        prefix: Optional[str] = None,
    ) -> None:
        context = _context()
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_page_worker_loop,
            args=(child, str(db_path), cache, redis_url, ttl, prefix),
            daemon=True,
        )
        self._process.start()
        child.close()
        self.pid = self._process.pid
        status, error = self._receive()
        if status == "error":
            self.close()
            raise error

    def _receive(self) -> tuple[str, Any]:
        try:
            return self._connection.recv()
        except EOFError:
            raise RuntimeError(f"worker process {self.pid} stopped unexpectedly") from None

    def _request(self, command: str, argument: Any) -> Any:
        if self._connection.closed:
            raise RuntimeError("this PageWorker is closed; start a new one")
        self._connection.send((command, argument))
        status, result = self._receive()
        if status == "error":
            raise result
        return result

    def serve(self, pages: Sequence[tuple[str, int]]) -> dict[str, Any]:
        """Serve ``pages`` (``("trending", 0)`` or ``("product", id)``) in the worker; return its
        report.
        """
        return self._request("serve", list(pages))

    def delete(self, key: str) -> bool:
        """Delete ``key`` from this worker's cache; return whether it was there."""
        return self._request("delete", key)

    def close(self) -> None:
        """Stop the worker process (it finishes the request it is serving first)."""
        if not self._connection.closed:
            try:
                self._connection.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._connection.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()

    def __enter__(self) -> "PageWorker":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._connection.closed else "running"
        return f"PageWorker(pid={self.pid}, {state})"
