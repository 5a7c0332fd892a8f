"""The shop as a real web service (lesson 10): HTTP, worker processes, a load generator.

- ``config``   what the service is told at start (``ServiceConfig``, the cache modes);
- ``app``      the Starlette application: pages, cache modes, status codes, headers;
- ``edges``    what a request must be first: this machine's host, JSON writes, a small body;
- ``stats``    each worker's counters, shared through small files, for ``GET /stats``;
- ``server``   ``python -m cachelab.web``: the command line, and uvicorn with N workers;
- ``service``  ``WebService``: start the service from a notebook or a test, and stop it;
- ``load``     an open-loop load generator, bounded in requests and seconds.

>>> from cachelab.shop.data import build_shop
>>> from cachelab.web import WebService, run_load
>>> with WebService("redis", workers=2, db_path=build_shop(size="tiny")) as service:
...     pages = [service.get("/").headers["x-cache"] for _ in range(3)]
...     run = run_load(service.url, rate_per_s=200, requests=100, progress=False)
>>> pages, run.ok, run.db_queries
(['miss', 'hit', 'hit'], 100, 0)
"""

from cachelab.web.config import CACHE_MODES, MODE_DESCRIPTIONS
from cachelab.web.load import LoadRun, run_load, sustained, sweep
from cachelab.web.service import Reply, WebService

__all__ = [
    "CACHE_MODES",
    "MODE_DESCRIPTIONS",
    "WebService",
    "Reply",
    "LoadRun",
    "run_load",
    "sweep",
    "sustained",
]
