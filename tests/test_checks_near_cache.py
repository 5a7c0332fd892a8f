"""Lesson 11's checks accept the reference solutions and reject plausible wrong answers, with the
right hint.

Each wrong answer is named after its mistake, in a table with the hint topic and the words the
check's message must hold; the table's ids are those names.
"""

from __future__ import annotations

import pytest
from support import assert_fails, load_solutions, wrong_answers

from cachelab.checks.near_cache import (
    check_fetch_guard,
    check_flush_on_reconnect,
    check_safety_net_ttl,
)

lesson11 = load_solutions("11_near_cache")


# --------------------------------------------------------------------------- 11.1 · fetch guard


def test_fetch_guard_check_passes_the_reference():
    assert check_fetch_guard(lesson11.FetchGuard)


class _StoresAlways(lesson11.FetchGuard):
    def may_store(self, key, mark):
        return True


class _ForgetsEveryKey(lesson11.FetchGuard):
    def invalidated(self, key):
        self._open.clear()


class _RemembersInvalidations(lesson11.FetchGuard):
    """Keeps a set of invalidated keys: a later fetch of the key is voided too."""

    def __init__(self):
        super().__init__()
        self.dirty = set()

    def invalidated(self, key):
        super().invalidated(key)
        self.dirty.add(key)

    def may_store(self, key, mark):
        return super().may_store(key, mark) and key not in self.dirty


class _OneFlagPerKey:
    """A flag per key instead of a mark per fetch: the second fetch re-arms the first."""

    def __init__(self):
        self.ok = {}

    def start(self, key):
        self.ok[key] = True
        return 0

    def invalidated(self, key):
        self.ok[key] = False

    def may_store(self, key, mark):
        return self.ok.get(key, False)


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (_StoresAlways, "voided", "may NOT store"),
        (_ForgetsEveryKey, "per-key", "another key"),
        (_RemembersInvalidations, "before", "BEFORE"),
        (_OneFlagPerKey, "overlap", "two fetches"),
    ),
)
def test_fetch_guard_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_fetch_guard, answer, topic=topic, match=match)


# --------------------------------------------------------------------------- 11.2 · reconnect


def test_flush_on_reconnect_check_passes_the_reference():
    assert check_flush_on_reconnect(lesson11.FlushOnReconnect)


class _NeverFlushes(lesson11.FlushOnReconnect):
    def get(self, key, connection_id, fetch):
        self.connection_id = connection_id
        if key not in self.copies:
            self.copies.set(key, fetch(key))
        return self.copies.get(key)


class _DropsOnlyTheKeyRead(lesson11.FlushOnReconnect):
    def get(self, key, connection_id, fetch):
        if connection_id != self.connection_id:
            self.copies.delete(key)
            self.connection_id = connection_id
        if key not in self.copies:
            self.copies.set(key, fetch(key))
        return self.copies.get(key)


class _ForgetsTheNewId(lesson11.FlushOnReconnect):
    def get(self, key, connection_id, fetch):
        if connection_id != self.connection_id:
            self.copies.clear()
            if self.connection_id is None:
                self.connection_id = connection_id
        if key not in self.copies:
            self.copies.set(key, fetch(key))
        return self.copies.get(key)


class _NeverCopies(lesson11.FlushOnReconnect):
    def get(self, key, connection_id, fetch):
        return fetch(key)


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (_NeverCopies, "copy", "served from the copy"),
        (_NeverFlushes, "flush", "fetched again"),
        (_DropsOnlyTheKeyRead, "all", "EVERY copy"),
        (_ForgetsTheNewId, "remember", "new connection are kept"),
    ),
)
def test_flush_on_reconnect_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_flush_on_reconnect, answer, topic=topic, match=match)


# --------------------------------------------------------------------------- 11.3 · TTL


def test_safety_net_ttl_check_passes_the_reference():
    assert check_safety_net_ttl(lesson11.safety_net_ttl)


def _the_whole_budget(budget, fetch):
    return budget


def _half_the_budget(budget, fetch):
    if budget <= fetch:
        raise ValueError("too small")
    return (budget - fetch) / 2


def _never_refuses(budget, fetch):
    return max(budget - fetch, 0.0)


def _refuses_with_another_error(budget, fetch):
    if budget <= fetch:
        raise RuntimeError("too small")
    return budget - fetch


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (_the_whole_budget, "sum", "fetch \\+ TTL"),
        (_half_the_budget, "longest", "LONGEST"),
        (_never_refuses, "impossible", "raise ValueError"),
        (_refuses_with_another_error, "impossible", "RuntimeError"),
    ),
)
def test_safety_net_ttl_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_safety_net_ttl, answer, topic=topic, match=match)
