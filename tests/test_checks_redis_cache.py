"""The checks of lesson 04's exercises accept the reference solutions and reject plausible wrong
answers: each is a function named after its mistake, in a table whose ids are those names.

Every check runs against a real Redis, the course's (``connect()``): exercise 2 uses it while
Redis is up, and while it is down a client whose server has stopped (its socket is gone).
"""

from __future__ import annotations

import json

import pytest
import redis
from support import assert_fails, load_solutions, wrong_answers

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


def _cache_aside(client, key, loader, decode, store):
    """Cache-aside, reading a hit with ``decode(raw)`` and storing a miss with ``store(value)``:
    each wrong answer below gets one of the two wrong, or skips a step around it.
    """
    raw = client.get(key)
    if raw is not None:
        return decode(raw)
    value = loader()
    store(value)
    return value


def _no_ttl(client, key, loader, ttl):
    return _cache_aside(client, key, loader, json.loads, lambda v: client.set(key, json.dumps(v)))


def _milliseconds_ttl(client, key, loader, ttl):
    return _cache_aside(
        client, key, loader, json.loads, lambda v: client.set(key, json.dumps(v), px=ttl)
    )


def _stores_repr(client, key, loader, ttl):
    return _cache_aside(
        client,
        key,
        loader,
        eval,  # noqa: S307 -- the wrong answer under test
        lambda v: client.set(key, str(v), ex=ttl),
    )


def _forgets_to_decode(client, key, loader, ttl):
    return _cache_aside(
        client, key, loader, lambda raw: raw, lambda v: client.set(key, json.dumps(v), ex=ttl)
    )


def _never_reads(client, key, loader, ttl):
    value = loader()
    client.set(key, json.dumps(value), ex=ttl)
    return value


def _no_prefix_check(client, key, loader, ttl):
    return _cache_aside(
        client, key, loader, json.loads, lambda v: client.set(key, json.dumps(v), ex=ttl)
    )


def _checks_prefix_after_writing(client, key, loader, ttl):
    value = _no_prefix_check(client, key, loader, ttl)
    if not key.startswith("cachelab:"):
        raise ValueError("outside the prefix")
    return value


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (_never_caches, "store", "stores the value in Redis"),
        (_no_ttl, "ttl", "the key has a TTL"),
        (_milliseconds_ttl, "ttl", "the TTL is ttl seconds"),
        (_stores_repr, "json", "stored as JSON"),
        (_forgets_to_decode, "hit", "a hit returns the decoded value"),
        (_never_reads, "hit", "a hit does not call the loader"),
        (_no_prefix_check, "prefix", "refused with ValueError"),
        (_checks_prefix_after_writing, "prefix", "nothing is written outside the course prefix"),
    ),
)
def test_get_or_load_json_check_rejects_a_wrong_answer(redis_client, answer, topic, match):
    assert_fails(check_get_or_load_json, answer, topic=topic, match=match)


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
        return _no_fail_open(client, key, loader, ttl, stats)
    except Exception:
        stats.errors += 1
        return loader()


def _does_not_count_errors(client, key, loader, ttl, stats):
    try:
        return _no_fail_open(client, key, loader, ttl, stats)
    except redis.ConnectionError:
        return loader()


def _loads_twice_when_down(client, key, loader, ttl, stats):
    try:
        return _no_fail_open(client, key, loader, ttl, stats)
    except redis.ConnectionError:
        stats.errors += 1
        loader()  # "warm" the value, then go on as on a miss and load again
        stats.misses += 1
        return loader()


def _counts_two_errors_per_request(client, key, loader, ttl, stats):
    try:
        return _no_fail_open(client, key, loader, ttl, stats)
    except redis.ConnectionError:
        stats.errors += 2  # the failed GET and the SET of the loaded value, which fails too
        return loader()


def _always_loads(client, key, loader, ttl, stats):
    stats.misses += 1
    return loader()


def _no_stats(client, key, loader, ttl, stats):
    try:
        return _no_prefix_check(client, key, loader, ttl)  # 04.1's answer: counts nothing
    except redis.ConnectionError:
        stats.errors += 1
        return loader()


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (_no_fail_open, "down", "with Redis down, the page is still served"),
        (_catches_everything, "loader-error", "a loader's own error is not counted"),
        (_does_not_count_errors, "down-once", "stats.errors grows by one per request"),
        (_loads_twice_when_down, "down-once", "the loader runs exactly once per request"),
        (_counts_two_errors_per_request, "down-once", "stats.errors grows by one per request"),
        (_always_loads, "up", "the loader runs on the first request only"),
        (_no_stats, "stats", "stats count 1 miss, 2 hits"),
    ),
)
def test_safe_get_or_load_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_safe_get_or_load, answer, topic=topic, match=match)
