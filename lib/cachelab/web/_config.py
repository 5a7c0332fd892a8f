"""What the web service is told when it starts: which shop, which cache mode, which TTL.

One ``ServiceConfig`` is made by the service's main process (``python -m cachelab.web``, which
``WebService`` runs from a notebook), from its command line. The main process builds the app from
it before gunicorn forks the workers (``cachelab.web._server``), so every worker starts with the
same config, already checked. The Redis server travels as everywhere in the course, in
``REDIS_URL``.

>>> config = ServiceConfig(db_path="shop.db", cache="redis", ttl=30, state_dir="/tmp/x")
>>> config.cache, config.cache.uses_redis, config.prefix.endswith(":web:")
(<CacheMode.REDIS: 'redis'>, True, True)
>>> ServiceConfig(db_path="shop.db", cache="redis-ish", state_dir="/tmp/x")
Traceback (most recent call last):
...
ValueError: cache must be one of 'none', 'memory', 'redis', 'redis-delete-on-write', \
'redis-single-flight', 'near', got 'redis-ish'
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Optional

from cachelab import keys
from cachelab._internal.validation import (
    validate_choice,
    validate_number,
    validate_ttl,
    validate_whole_number,
)

__all__ = ["CacheMode", "APPS", "MAX_THREADS", "MAX_WAITERS", "ServiceConfig", "cache_mode"]


class CacheMode(StrEnum):
    """The cache modes the service can start in (``--cache``), each with what the service does.

    A mode is its command-line name (``CacheMode.REDIS == "redis"``), so either may be passed
    where a mode is asked for; ``description`` is the line that ``--help`` and lesson 10 show.

    >>> [mode.value for mode in CacheMode if mode.uses_redis]
    ['redis', 'redis-delete-on-write', 'redis-single-flight', 'near']
    >>> CacheMode("memory").description
    "a MemoryCache in each worker; a write deletes the key in that worker's cache only"
    """

    NONE = "none", "no cache: every page runs its query"
    MEMORY = (
        "memory",
        "a MemoryCache in each worker; a write deletes the key in that worker's cache only",
    )
    REDIS = "redis", "one RedisCache shared by every worker; writes leave it alone (TTL only)"
    REDIS_DELETE_ON_WRITE = (
        "redis-delete-on-write",
        "the shared RedisCache; a write deletes the keys it made stale",
    )
    REDIS_SINGLE_FLIGHT = (
        "redis-single-flight",
        "the shared RedisCache, TTL only; on a miss, one load per key at a time (lesson 08's "
        "SingleFlight)",
    )
    NEAR = (
        "near",
        "a NearCache in each worker in front of the shared RedisCache, kept fresh by the server "
        "(CLIENT TRACKING); a write deletes the keys it made stale (lesson 11)",
    )

    def __new__(cls, value: str, description: str) -> "CacheMode":
        mode = str.__new__(cls, value)
        mode._value_ = value
        mode.description = description
        return mode

    @property
    def uses_redis(self) -> bool:
        """Whether this mode caches in the shared Redis."""
        return self.value.startswith("redis") or self is CacheMode.NEAR


def cache_mode(value: Any) -> CacheMode:
    """``value`` (a ``CacheMode`` or its name) as a ``CacheMode``; a ``ValueError`` lists them."""
    return CacheMode(validate_choice(value, "cache", [mode.value for mode in CacheMode]))


APPS = ("shop", "ceiling")
"""What the service serves: the shop, or (``ceiling``) the homepage's bytes as a constant --
what uvicorn and Starlette can serve on this machine when the page costs nothing."""

MAX_THREADS = 256
"""The most threads one worker's pool may have."""

MAX_WAITERS = 10_000
"""The most single-flight waiters per key one worker may be told to keep (``max_waiters``)."""


@dataclass(frozen=True)
class ServiceConfig:
    """How one web service runs; every worker gets the same.

    - ``db_path``: the shop's SQLite file (``data.build_shop()`` by default on the command line);
    - ``cache``: a ``CacheMode`` (or its name); ``ttl``: seconds every page stays cached;
    - ``prefix``: the Redis keys' prefix (under the learner's: ``cachelab:<learner>:web:``);
    - ``state_dir``: a folder for the workers' counters (``/stats``);
    - ``app``: ``"shop"``, or ``"ceiling"`` (a constant page, to measure the stack alone);
    - ``lock_ttl`` and ``wait_timeout``: the single-flight lock's TTL and how long a waiter
      waits for another worker's load, in seconds;
    - ``max_waiters``: how many requests of one worker may wait for one key's load at
      once (single-flight); more are answered 503 at once;
    - ``threads``: how many requests one worker serves at once (its thread pool);
    - ``host``: the address the service listens on (a name of this machine): with
      ``localhost``, ``127.0.0.1`` and ``::1``, the only ``Host`` a request may name.
    """

    db_path: str
    state_dir: str
    cache: CacheMode = CacheMode.NONE
    ttl: float = 30.0
    prefix: Optional[str] = None
    app: str = "shop"
    lock_ttl: float = 5.0
    wait_timeout: float = 5.0
    threads: int = 8
    max_waiters: int = 64
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache", cache_mode(self.cache))
        validate_choice(self.app, "app", APPS)
        if validate_ttl(self.ttl) is None:
            raise ValueError("ttl must be a number of seconds > 0: every cached page expires")
        validate_number(self.lock_ttl, "lock_ttl", above=0, maximum=3600, unit="seconds")
        validate_number(self.wait_timeout, "wait_timeout", above=0, maximum=3600, unit="seconds")
        validate_whole_number(self.threads, "threads", maximum=MAX_THREADS)
        validate_whole_number(self.max_waiters, "max_waiters", maximum=MAX_WAITERS)
        if self.prefix is None:
            object.__setattr__(self, "prefix", keys.learner_prefix() + "web:")
        keys._validate_prefix(self.prefix)
        for name in ("db_path", "state_dir", "host"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise TypeError(
                    f"{name} must be a path (a non-empty str), got {getattr(self, name)!r}"
                )
