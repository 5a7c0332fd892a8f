"""cachelab: the helper library of "Make or Break", a hands-on course on backend caching.

Each module holds one idea of the course:

- ``data``          builds the SQLite shop database, deterministically;
- ``app``           the shop itself, which counts the SQL it runs;
- ``clock``         a fake clock, so TTLs can be taught without ``sleep``;
- ``keys``          every cache key the course uses, built in one place;
- ``cache``         ``MemoryCache`` and ``RedisCache``, one interface for both;
- ``redis_server``  finds or starts the Redis server the course talks to.

Lessons import the module they need: ``from cachelab.cache import MemoryCache``.
"""

__version__ = "0.1.0"
