"""Run the shop in several worker processes, the way a web server does.

A real web backend runs several worker processes (gunicorn, uWSGI, ...), each
with its own memory. That is exactly what makes an in-memory cache tricky and
a shared cache (Redis) useful, so lessons need real processes, not threads.

``run_workers`` starts one process per argument tuple and returns what each one
returned. ``serve_pages`` is the worker lessons use: it opens its own Shop and
its own cache, serves page requests, and reports what it did.
"""

from __future__ import annotations

import multiprocessing
import sys
from typing import Any, Callable, Optional, Sequence


def _context():
    """``fork`` on Linux (fast, and works with functions defined in a notebook), ``spawn`` elsewhere."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def run_workers(func: Callable[..., Any], args_per_worker: Sequence[tuple]) -> list[Any]:
    """Run ``func(*args)`` in a separate process for each ``args``; return the results in order.

    On macOS and Windows the processes are spawned, so ``func`` must be importable
    (defined in a module, like ``serve_pages``), not defined in a notebook cell.
    """
    if not args_per_worker:
        raise ValueError("args_per_worker is empty: give one tuple of arguments per worker")
    with _context().Pool(processes=len(args_per_worker)) as pool:
        return pool.starmap(func, args_per_worker)


def serve_pages(
    db_path: str,
    pages: Sequence[tuple[str, int]],
    cache: str = "none",
    redis_url: Optional[str] = None,
    ttl: Optional[float] = None,
    prefix: str = "cachelab:workers:",
) -> dict[str, Any]:
    """One worker: serve ``pages`` and report the database queries, the cache's stats and the last answers.

    ``pages`` is a list of ``("trending", 0)`` or ``("product", product_id)``.
    ``cache`` is ``"none"``, ``"memory"`` (a MemoryCache of this process's own)
    or ``"redis"`` (a RedisCache at ``redis_url``, shared with the other workers).
    """
    # Imported here so that a spawned worker imports them itself.
    import os

    from cachelab import keys
    from cachelab.app import Shop
    from cachelab.cache import MemoryCache, RedisCache
    from cachelab.redis_server import connect

    shop = Shop(db_path)
    if cache == "none":
        store = None
    elif cache == "memory":
        store = MemoryCache(ttl=ttl)
    elif cache == "redis":
        if redis_url is None:
            raise ValueError("cache='redis' needs redis_url: pass redis_server.url_of(client)")
        store = RedisCache(connect(redis_url), prefix=prefix, ttl=ttl)
    else:
        raise ValueError(f"cache must be 'none', 'memory' or 'redis', got {cache!r}")

    answers: dict[str, Any] = {}
    for page, product_id in pages:
        if page == "trending":
            key, load = keys.trending(), shop.trending
        elif page == "product":
            key, load = keys.product(product_id), (lambda pid=product_id: shop.product(pid))
        else:
            raise ValueError(f"page must be 'trending' or 'product', got {page!r}")
        answers[key] = store.get_or_load(key, load) if store is not None else load()
    return {
        "pid": os.getpid(),
        "db_queries": shop.queries,
        "stats": store.stats.as_dict() if store is not None else None,
        "answers": answers,
    }
