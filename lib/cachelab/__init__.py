"""cachelab: the helper library of "Make or Break", a hands-on course on backend caching.

A map, read first. What the course teaches sits at the top; its shop, its lab, what it shows
and its environment each have a folder; plumbing is private.

What the course teaches:

- ``cache``         the ``Cache`` interface, and ``MemoryCache`` and ``RedisCache``, which have it;
- ``keys``          every cache key the course uses, under each learner's own prefix;
- ``clock``         a fake clock, so TTLs can be taught without ``sleep``;
- ``outages``       when Redis cannot answer: which errors are outages, and a circuit breaker;
- ``invalidation``  delete-on-write, write-through, versioned keys, leases, and the race;
- ``stampedes``     single-flight locks, early refresh (XFetch), TTL jitter, stale-while-revalidate.

The folders:

- ``shop/``         the SQLite shop the course caches (``data`` builds it, ``app`` serves it);
- ``lab/``          the instruments: timing, traffic, simulations, load, bursts, the capstone;
- ``show/``         tables and money as lessons print them, and one module per slider dashboard;
- ``web/``          the shop as a real HTTP service, and an open-loop load generator (lesson 10);
- ``checks/``       the exercises' self-checks and their hints, one module per lesson;
- ``environment/``  the Redis server the course finds or starts, lesson 00's checklist, reset;
- ``_internal/``    argument checks and the watchdog: plumbing no lesson imports.

Lessons import the module they need: ``from cachelab.cache import MemoryCache``,
``from cachelab.shop.app import Shop``.
"""

__version__ = "0.1.0"

__all__: list[str] = []
