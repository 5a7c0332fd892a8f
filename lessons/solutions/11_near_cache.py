"""Reference solutions for lesson 11 · A near cache the server keeps fresh (for instructors;
learners: try first!)."""

from __future__ import annotations

from typing import Any, Callable, Optional

from cachelab.cache import MemoryCache


class FetchGuard:
    """Exercise 1: mark each fetch; an invalidation of its key voids the marks of that key.

    A fetch may store its result only if its mark survived: no invalidation of that key arrived
    between ``start`` and ``may_store``. Marks are numbers that never repeat, so a fetch that
    started after an invalidation is not confused with one that started before it.
    """

    def __init__(self) -> None:
        self._next_mark = 0
        self._open: dict[str, set[int]] = {}  # key -> the marks of fetches under way

    def start(self, key: str) -> int:
        mark = self._next_mark
        self._next_mark += 1
        self._open.setdefault(key, set()).add(mark)
        return mark

    def invalidated(self, key: str) -> None:
        self._open.pop(key, None)

    def may_store(self, key: str, mark: int) -> bool:
        marks = self._open.get(key, set())
        fresh = mark in marks
        marks.discard(mark)
        return fresh


class FlushOnReconnect:
    """Exercise 2: near copies that are dropped, all of them, when the connection changes.

    The server tracked the keys for one connection; a new connection (a new id) means every
    invalidation sent in between was lost, so no copy made before it can be trusted.
    """

    def __init__(self, copies: MemoryCache) -> None:
        self.copies = copies
        self.connection_id: Optional[int] = None

    def get(self, key: str, connection_id: int, fetch: Callable[[str], Any]) -> Any:
        if connection_id != self.connection_id:
            self.copies.clear()
            self.connection_id = connection_id
        if key not in self.copies:
            self.copies.set(key, fetch(key))
        return self.copies.get(key)


def safety_net_ttl(staleness_budget_s: float, fetch_s: float) -> float:
    """Exercise 3: the longest near-tier TTL that keeps a copy within the staleness budget even
    if its invalidation is lost.

    The value may be replaced on the server just after Redis read it; the copy lands here up to
    ``fetch_s`` later and is served for ``ttl`` more: stale for up to ``fetch_s + ttl``.
    """
    if staleness_budget_s <= fetch_s:
        raise ValueError(
            f"a staleness budget of {staleness_budget_s} s is not more than a fetch "
            f"({fetch_s} s): no near copy can meet it"
        )
    return staleness_budget_s - fetch_s
