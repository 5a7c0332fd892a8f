"""Reference solutions for lesson 03 · An in-memory cache (for instructors).

One answer per exercise; ``tests/test_checks_memory_cache.py`` runs each through its
check. Learners: try the exercise first, and ask for hints (``checks.hint("03.1")``).
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from typing import Any, Callable, Optional

_MISSING = object()


class TTLCache:
    """Exercise 1: a cache whose entries expire ``ttl`` seconds after their set, by ``clock``."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl!r}")
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, tuple[Any, float]] = {}  # key -> (value, expires_at)

    def get(self, key: str, default: Any = None) -> Any:
        entry = self._entries.get(key, _MISSING)
        if entry is _MISSING:
            return default
        value, expires_at = entry
        if self.clock() >= expires_at:
            del self._entries[key]
            return default
        return value

    def set(self, key: str, value: Any) -> None:
        self._entries[key] = (value, self.clock() + self.ttl)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)


class LRUCache:
    """Exercise 2: a cache that holds at most ``max_entries`` and evicts the least recently used."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Any] = OrderedDict()  # least recently used first

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._entries:
            return default
        self._entries.move_to_end(key)
        return self._entries[key]

    def set(self, key: str, value: Any) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)


def cached(
    ttl: float, clock: Callable[[], float] = time.monotonic
) -> Callable[[Callable], Callable]:
    """Exercise 3: a decorator that runs the function at most once per arguments per ``ttl``
    seconds.
    """

    def decorator(func: Callable) -> Callable:
        results: dict[tuple, tuple[Any, float]] = {}  # args -> (result, expires_at)

        @functools.wraps(func)
        def wrapper(*args: Any) -> Any:
            entry: Optional[tuple[Any, float]] = results.get(args)
            if entry is not None and clock() < entry[1]:
                return entry[0]
            result = func(*args)
            results[args] = (result, clock() + ttl)
            return result

        return wrapper

    return decorator
