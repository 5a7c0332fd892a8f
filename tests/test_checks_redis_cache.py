"""The checks of lesson 04's exercises accept the reference solutions and reject plausible wrong
answers.

Every check runs against a real Redis: the course's (``connect()``) for exercise 1,
a private server of the check's own, which it stops, for exercise 2.
"""

from __future__ import annotations

import json

import pytest
import redis
from support import assert_fails, load_solutions

from cachelab import checks
from cachelab.checks.redis_cache import check_get_or_load_json, check_safe_get_or_load

solutions = load_solutions("04_redis_cache")


def _check_keys(client: redis.Redis) -> list[str]:
    return list(client.scan_iter(match="cachelab:check04:*"))


# --- exercise 1: get_or_load_json ------------------------------------------------------------


def test_get_or_load_json_check_passes_the_reference_solution(redis_client):
    assert "TTL 120 s" in check_get_or_load_json(solutions.get_or_load_json)


def test_get_or_load_json_check_leaves_no_keys_behind(redis_client):
    before = set(_check_keys(redis_client))
    check_get_or_load_json(solutions.get_or_load_json)
    assert set(_check_keys(redis_client)) == before


def test_a_stub_is_reported_as_not_attempted(capsys):
    def stub(client, key, loader, ttl):
        raise NotImplementedError

    checks.run(check_get_or_load_json, stub)
    assert "⏳" in capsys.readouterr().out


def _never_caches(client, key, loader, ttl):
    return loader()


def _no_ttl(client, key, loader, ttl):
    raw = client.get(key)
    if raw is not None:
        return json.loads(raw)
    value = loader()
    client.set(key, json.dumps(value))
    return value


def _milliseconds_ttl(client, key, loader, ttl):
    raw = client.get(key)
    if raw is not None:
        return json.loads(raw)
    value = loader()
    client.set(key, json.dumps(value), px=ttl)
    return value


def _stores_repr(client, key, loader, ttl):
    raw = client.get(key)
    if raw is not None:
        return eval(raw)  # noqa: S307 -- the wrong answer under test
    value = loader()
    client.set(key, str(value), ex=ttl)
    return value


def _forgets_to_decode(client, key, loader, ttl):
    raw = client.get(key)
    if raw is not None:
        return raw
    value = loader()
    client.set(key, json.dumps(value), ex=ttl)
    return value


def _never_reads(client, key, loader, ttl):
    value = loader()
    client.set(key, json.dumps(value), ex=ttl)
    return value


def _no_prefix_check(client, key, loader, ttl):
    raw = client.get(key)
    if raw is not None:
        return json.loads(raw)
    value = loader()
    client.set(key, json.dumps(value), ex=ttl)
    return value


def _checks_prefix_after_writing(client, key, loader, ttl):
    raw = client.get(key)
    if raw is not None:
        return json.loads(raw)
    value = loader()
    client.set(key, json.dumps(value), ex=ttl)
    if not key.startswith("cachelab:"):
        raise ValueError("outside the prefix")
    return value


@pytest.mark.parametrize(
    "wrong_answer, property_, topic",
    [
        (_never_caches, "stores the value in Redis", "store"),
        (_no_ttl, "the key has a TTL", "ttl"),
        (_milliseconds_ttl, "the TTL is ttl seconds", "ttl"),
        (_stores_repr, "stored as JSON", "json"),
        (_forgets_to_decode, "a hit returns the decoded value", "hit"),
        (_never_reads, "a hit does not call the loader", "hit"),
        (_no_prefix_check, "refused with ValueError", "prefix"),
        (_checks_prefix_after_writing, "nothing is written outside the course prefix", "prefix"),
    ],
)
def test_get_or_load_json_check_rejects_a_wrong_answer(
    redis_client, wrong_answer, property_, topic
):
    assert_fails(check_get_or_load_json, wrong_answer, topic=topic, match=property_)


# --- exercise 2: safe_get_or_load --------------------------------------------------------------


def test_safe_get_or_load_check_passes_the_reference_solution():
    assert "Redis stopped" in check_safe_get_or_load(solutions.safe_get_or_load)


def _no_fail_open(client, key, loader, ttl, stats):
    raw = client.get(key)
    if raw is not None:
        stats.hits += 1
        return json.loads(raw)
    stats.misses += 1
    value = loader()
    client.set(key, json.dumps(value), ex=ttl)
    return value


def _catches_everything(client, key, loader, ttl, stats):
    try:
        raw = client.get(key)
        if raw is not None:
            stats.hits += 1
            return json.loads(raw)
        stats.misses += 1
        value = loader()
        client.set(key, json.dumps(value), ex=ttl)
        return value
    except Exception:
        stats.errors += 1
        return loader()


def _does_not_count_errors(client, key, loader, ttl, stats):
    try:
        raw = client.get(key)
    except redis.ConnectionError:
        return loader()
    if raw is not None:
        stats.hits += 1
        return json.loads(raw)
    stats.misses += 1
    value = loader()
    client.set(key, json.dumps(value), ex=ttl)
    return value


def _loads_twice_when_down(client, key, loader, ttl, stats):
    raw = None
    try:
        raw = client.get(key)
    except redis.ConnectionError:
        stats.errors += 1
        loader()  # "warm" the value, then fall through to the miss path and load again
    if raw is not None:
        stats.hits += 1
        return json.loads(raw)
    stats.misses += 1
    value = loader()
    try:
        client.set(key, json.dumps(value), ex=ttl)
    except redis.ConnectionError:
        pass
    return value


def _counts_two_errors_per_request(client, key, loader, ttl, stats):
    raw = None
    try:
        raw = client.get(key)
    except redis.ConnectionError:
        stats.errors += 1
    if raw is not None:
        stats.hits += 1
        return json.loads(raw)
    stats.misses += 1
    value = loader()
    try:
        client.set(key, json.dumps(value), ex=ttl)
    except redis.ConnectionError:
        stats.errors += 1
    return value


def _always_loads(client, key, loader, ttl, stats):
    stats.misses += 1
    return loader()


def _no_stats(client, key, loader, ttl, stats):
    try:
        raw = client.get(key)
    except redis.ConnectionError:
        stats.errors += 1
        return loader()
    if raw is not None:
        return json.loads(raw)
    value = loader()
    client.set(key, json.dumps(value), ex=ttl)
    return value


@pytest.mark.parametrize(
    "wrong_answer, property_, topic",
    [
        (_no_fail_open, "with Redis down, the page is still served", "down"),
        (_catches_everything, "a loader's own error is not counted", "loader-error"),
        (_does_not_count_errors, "stats.errors grows by one per request", "down-once"),
        (_loads_twice_when_down, "the loader runs exactly once per request", "down-once"),
        (_counts_two_errors_per_request, "stats.errors grows by one per request", "down-once"),
        (_always_loads, "the loader runs on the first request only", "up"),
        (_no_stats, "stats count 1 miss, 2 hits", "stats"),
    ],
)
def test_safe_get_or_load_check_rejects_a_wrong_answer(wrong_answer, property_, topic):
    assert_fails(check_safe_get_or_load, wrong_answer, topic=topic, match=property_)
