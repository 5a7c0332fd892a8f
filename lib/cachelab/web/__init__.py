"""The shop as a real web service (lesson 10): HTTP, worker processes, a load generator.

Lessons import what this package exports; the modules behind it are private:

- ``_config``   what the service is told at start (``ServiceConfig``, ``CacheMode``);
- ``_app``      the Starlette application: pages, cache modes, status codes, headers;
- ``_edges``    what a request must be first: this machine's host, JSON writes, a small body;
- ``_stats``    each worker's counters, shared through small files, for ``GET /stats``;
- ``_server``   ``python -m cachelab.web``: the command line, and gunicorn's N uvicorn workers;
- ``_service``  ``WebService``: start the service from a notebook or a test, and stop it;
- ``_load``     an open-loop load generator, bounded in requests and seconds.

>>> from cachelab.shop.data import build_shop
>>> from cachelab.web import WebService, run_load
>>> with WebService("redis", workers=2, db_path=build_shop(size="tiny")) as service:
...     pages = [service.get("/").headers["x-cache"] for _ in range(3)]
...     run = run_load(service.url, rate_per_s=200, requests=100, progress=False)
>>> pages, run.ok, run.db_queries
(['miss', 'hit', 'hit'], 100, 0)
"""

from cachelab.web._config import CacheMode
from cachelab.web._load import LoadRun, run_load, sustained, sweep_rates
from cachelab.web._service import WebService

__all__ = ["CacheMode", "WebService", "LoadRun", "run_load", "sustained", "sweep_rates"]
