"""cachelab: the helper library of "Make or Break", a hands-on course on backend caching.

A map, read first. What the course teaches sits at the top; its shop, its lab, what it shows
and its environment each have a folder; plumbing is private.

What the course teaches:

- ``cache``         the ``Cache`` interface, and ``MemoryCache`` and ``RedisCache``, which have it;
- ``keys``          every cache key the course uses, under each learner's own prefix;
- ``clock``         a fake clock, so TTLs can be taught without ``sleep``;
- ``outages``       when Redis cannot answer: which errors are outages, and a circuit breaker;
- ``invalidation``  delete-on-write, write-through, versioned keys, leases, and the race;
- ``stampedes``     single-flight locks, early refresh (XFetch), TTL jitter, stale-while-revalidate;
- ``near_cache``    ``NearCache``: an in-process tier in front of Redis, kept fresh by the server.

The folders:

- ``shop/``         the SQLite shop the course caches (``data`` builds it, ``app`` serves it);
- ``lab/``          the instruments: timing, traffic, simulations, load, bursts, the capstone;
- ``show/``         tables and money as lessons print them, and one module per slider dashboard;
- ``web/``          the shop as a real HTTP service, and an open-loop load generator (lesson 10);
- ``checks/``       the exercises' self-checks and their hints, one module per lesson;
- ``environment/``  the Redis server the course finds or starts, a local Redis Cluster (lesson 12),
                    lesson 00's checklist, reset;
- ``_internal/``    argument checks and the watchdog: plumbing no lesson imports.

Lessons import the module they need: ``from cachelab.cache import MemoryCache``,
``from cachelab.shop.app import Shop``.
"""

import importlib

__version__ = "0.1.0"

__all__ = ["LocalCluster", "NearCache"]

_HOMES = {"LocalCluster": "cachelab.environment.cluster", "NearCache": "cachelab.near_cache"}
"""The module each top-level name lives in. ``cachelab.LocalCluster`` is imported from there on
first use (``__getattr__``), not by ``import cachelab``: the watchdog runs as
``python -m cachelab._internal.watchdog``, which imports this package first and must start in
milliseconds, without redis-py."""


def __getattr__(name: str) -> object:
    """``cachelab.LocalCluster`` and the other names in ``__all__``, imported from their module."""
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'cachelab' has no attribute {name!r}")
