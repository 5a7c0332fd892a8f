"""cachelab: the helper library of "Make or Break", a hands-on course on backend caching.

Each module holds one idea of the course:

- ``data``          builds the SQLite shop database, deterministically;
- ``app``           the shop itself, which counts the SQL it runs;
- ``clock``         a fake clock, so TTLs can be taught without ``sleep``;
- ``keys``          every cache key the course uses, built in one place;
- ``cache``         ``MemoryCache`` and ``RedisCache``, one interface for both;
- ``redis_server``  finds or starts the Redis server the course talks to
                    (``watchdog`` stops it if the process that started it is killed);
- ``timing``        medians, percentiles and the latency-ladder chart;
- ``load``          many concurrent users hammering a page (threads);
- ``workers``       the shop served by several worker processes;
- ``staleness``     measuring stale reads: how often, how old;
- ``invalidation``  delete-on-write, write-through, versioned keys, leases, and the race;
- ``sim``           a seeded simulation of TTL caching, and its closed-form model;
- ``widgets``       the slider dashboard for tuning TTLs;
- ``checks``        the exercises' self-checks;
- ``setup_check``   lesson 00's checklist;  ``reset``  deletes only the course's data.

Lessons import the module they need: ``from cachelab.cache import MemoryCache``.
"""

__version__ = "0.1.0"
