"""cachelab: the helper library of "Make or Break", a hands-on course on backend caching.

Each module holds one idea of the course:

- ``data``          builds the SQLite shop database, deterministically;
- ``app``           the shop itself, which counts the SQL it runs;
- ``clock``         a fake clock, so TTLs can be taught without ``sleep``;
- ``keys``          every cache key the course uses, under each learner's own prefix;
- ``validation``    every check of an argument, with one style of message;
- ``cache``         the ``Cache`` interface, and ``MemoryCache`` and ``RedisCache``, which have it;
- ``redis_server``  finds or starts the Redis server the course talks to
                    (``watchdog`` stops it if the process that started it is killed);
- ``timing``        medians, percentiles, the latency-ladder chart, and competing work;
- ``loadtest``      many concurrent users hammering a page (threads);
- ``workers``       the shop served by several worker processes;
- ``web``           the shop as a real HTTP service (uvicorn workers) and an open-loop load
                    generator (lesson 10);
- ``workload``      seeded random traffic: the one generator of reads and writes;
- ``staleness``     measuring stale reads: how often, how old;
- ``invalidation``  delete-on-write, write-through, versioned keys, leases, and the race;
- ``sim``           a seeded simulation of TTL caching, and its closed-form model;
- ``stampede``      single-flight locks, early refresh (XFetch), TTL jitter, stale-while-revalidate;
- ``burst``         a hot key expiring under load, measured: the herd, and the fixes on one burst;
- ``capstone``      lesson 09's mixed page, its budgets, and the seeded replay that grades a design;
- ``widgets``       the slider dashboard for tuning TTLs;
- ``display``       tables, money and stock, as lessons show them;
- ``checks``        the exercises' self-checks and their hints, one module per lesson;
- ``checklist``     lesson 00's setup checklist;  ``reset``  deletes only the course's data.

Lessons import the module they need: ``from cachelab.cache import MemoryCache``.
"""

__version__ = "0.1.0"
