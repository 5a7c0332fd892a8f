"""Every cache key the course uses, built in one place.

Why one module? A cache key is a contract between the code that fills the cache
and the code that invalidates it. If ``"product:42"`` is spelled in two places,
one day it will be spelled two ways, and an invalidation will silently miss.

Two layers:

- *logical keys* such as ``product:42`` or ``trending:days=7:limit=10`` name
  what is cached. Both caches take logical keys.
- the *Redis key* is the logical key under a prefix, ``cachelab:product:42``.
  Every prefix must start with ``COURSE_PREFIX``, so the course can only ever
  delete its own keys, even on a Redis server that holds other data.
"""

COURSE_PREFIX = "cachelab:"
"""Every Redis key the course writes starts with this."""


def product(product_id: int) -> str:
    """Key of one product page: ``product:42`` (holds a product dict)."""
    return f"product:{int(product_id)}"


def trending(days: int = 7, limit: int = 10) -> str:
    """Key of the homepage's trending list: ``trending:days=7:limit=10`` (holds a list of dicts)."""
    return f"trending:days={int(days)}:limit={int(limit)}"


def versioned(key: str, version: int) -> str:
    """The same key at one *version* (generation): ``product:42:v3``.

    Bumping the version on a write makes every older entry unreachable --
    invalidation without a delete.
    """
    return f"{key}:v{int(version)}"


def version_counter(key: str) -> str:
    """Key of the counter that holds the current version of ``key``: ``version:product:42``."""
    return f"version:{key}"


def lease(key: str) -> str:
    """Key of the lease on ``key``: ``lease:product:42`` (holds a token string; see ``invalidation.LeaseCache``)."""
    return f"lease:{key}"


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is a valid course prefix, else raise ``ValueError``.

    A valid prefix is a string that starts with ``COURSE_PREFIX`` ("cachelab:").
    This is what keeps ``clear()`` from ever touching keys that are not ours.
    """
    if not isinstance(prefix, str) or not prefix.startswith(COURSE_PREFIX):
        raise ValueError(
            f"prefix must start with {COURSE_PREFIX!r} so the course only ever touches its own keys, "
            f"got {prefix!r}; try {COURSE_PREFIX + 'mine:'!r}"
        )
    return prefix


def redis_key(prefix: str, key: str) -> str:
    """The Redis key that stores logical ``key`` under ``prefix``."""
    if not isinstance(key, str) or not key:
        raise TypeError(f"cache keys are non-empty strings, got {key!r}")
    return prefix + key


def scan_pattern(prefix: str) -> str:
    """A ``SCAN MATCH`` pattern that matches exactly the keys under ``prefix``.

    Glob characters in the prefix are escaped, so a prefix such as ``cachelab:[a]:``
    cannot match more than it says.
    """
    escaped = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in prefix)
    return escaped + "*"
