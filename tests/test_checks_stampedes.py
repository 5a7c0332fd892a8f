"""Lesson 08's checks accept the reference solutions and reject plausible wrong answers, naming
the property that failed and the hints that help with it.

Each wrong answer is a function named after its mistake, in a table with the hint topic and the
words the check's message must hold; the table's ids are those names. The one that waits forever
has a test of its own, which also times the check.
"""

from __future__ import annotations

import math
import time
import uuid

import pytest
from support import assert_fails, load_solutions, wrong_answers

from cachelab import checks, keys
from cachelab.checks.stampedes import check_load_once, check_swr_action, check_xfetch_rule

solutions = load_solutions("08_stampedes")
MISSING = object()


# --------------------------------------------------------------------------- 08.1 · load_once


def test_load_once_check_passes_the_reference():
    assert "load once" in check_load_once(solutions.load_once)


def test_the_library_single_flight_passes_the_same_check():
    from cachelab.stampedes import SingleFlight, WaitTimeout

    def with_the_library(cache, key, loader, ttl, lock_ttl, wait_timeout):
        try:
            return SingleFlight(cache, lock_ttl, wait_timeout).get_or_load(key, loader, ttl)
        except WaitTimeout as error:  # a TimeoutError, as the exercise asks
            assert isinstance(error, TimeoutError)
            raise

    assert check_load_once(with_the_library)


def plain_cache_aside(cache, key, loader, ttl, lock_ttl, wait_timeout):
    return cache.get_or_load(key, loader, ttl)


def a_lock_without_a_ttl(cache, key, loader, ttl, lock_ttl, wait_timeout):
    return solutions.load_once(cache, key, loader, ttl, None, wait_timeout)


def _hit_or_lock(cache, key, token, lock_ttl, wait_timeout):
    """The cached value (a hit, or stored by the lock's holder while this reader waited), or
    MISSING once this reader holds the lock with ``token``: the right start of the two answers
    below, which go wrong after it.
    """
    value = cache.get(key, MISSING)
    if value is not MISSING:
        return value
    deadline = time.monotonic() + wait_timeout
    while not cache.add(keys.lock(key), token, lock_ttl):
        if time.monotonic() >= deadline:
            raise TimeoutError("waited too long")
        time.sleep(0.005)
        value = cache.get(key, MISSING)
        if value is not MISSING:
            return value
    return MISSING


def releases_with_a_plain_delete(cache, key, loader, ttl, lock_ttl, wait_timeout):
    value = _hit_or_lock(cache, key, uuid.uuid4().hex, lock_ttl, wait_timeout)
    if value is not MISSING:
        return value
    value = cache.get(key, MISSING)  # stored between our miss and our lock?
    if value is MISSING:
        value = loader()
        cache.set(key, value, ttl)
    cache.delete(keys.lock(key))  # whoever holds it now
    return value


def keeps_the_lock_on_error(cache, key, loader, ttl, lock_ttl, wait_timeout):
    token = uuid.uuid4().hex
    value = _hit_or_lock(cache, key, token, lock_ttl, wait_timeout)
    if value is not MISSING:
        return value
    value = cache.get(key, MISSING)  # stored between our miss and our lock?
    if value is not MISSING:
        cache.delete_if_equal(keys.lock(key), token)
        return value
    value = loader()  # an exception leaves the lock for lock_ttl
    cache.set_and_release(key, value, ttl, lock_key=keys.lock(key), token=token)
    return value


def loads_after_waiting(cache, key, loader, ttl, lock_ttl, wait_timeout):
    try:
        return solutions.load_once(cache, key, loader, ttl, lock_ttl, wait_timeout)
    except TimeoutError:
        return loader()  # the herd, back when the database is slowest


def a_hit_that_still_loads(cache, key, loader, ttl, lock_ttl, wait_timeout):
    cache.delete(key)
    return solutions.load_once(cache, key, loader, ttl, lock_ttl, wait_timeout)


def a_cached_none_is_a_miss(cache, key, loader, ttl, lock_ttl, wait_timeout):
    if cache.get(key) is not None:  # None is also what a miss gives: a cached None reloads
        return cache.get(key)
    cache.delete(key)
    return solutions.load_once(cache, key, loader, ttl, lock_ttl, wait_timeout)


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (plain_cache_aside, "one-load", "exactly one load"),
        (a_cached_none_is_a_miss, "hit", "a cached None is a hit"),
        (a_lock_without_a_ttl, "lock-ttl", "taken with a TTL"),
        (releases_with_a_plain_delete, "token", "neither releases"),
        (keeps_the_lock_on_error, "error", "releases the lock"),
        (loads_after_waiting, "timeout", "raises TimeoutError"),
        (a_hit_that_still_loads, "hit", "without calling the loader"),
    ),
)
def test_load_once_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_load_once, answer, topic=topic, match=match)


def test_a_waiter_that_waits_forever_is_caught_without_hanging_the_check():
    def waits_forever(cache, key, loader, ttl, lock_ttl, wait_timeout):
        return solutions.load_once(cache, key, loader, ttl, lock_ttl, 3_600)

    started = time.monotonic()
    assert_fails(check_load_once, waits_forever, topic="timeout", match="returns within")
    assert time.monotonic() - started < 30


# --------------------------------------------------------------------------- 08.2 · XFetch


def test_xfetch_check_passes_the_reference_and_the_library():
    from cachelab.stampedes import xfetch_probability

    assert check_xfetch_rule(solutions.should_refresh)
    assert xfetch_probability(1.0, 1.0) == math.exp(-1)


def a_plus_sign(now, delta, beta, expiry, u):
    return now + delta * beta * math.log(u) >= expiry


def log10(now, delta, beta, expiry, u):
    return now - delta * beta * math.log10(u) >= expiry


def no_beta(now, delta, beta, expiry, u):
    return now - delta * math.log(u) >= expiry


def a_strict_comparison(now, delta, beta, expiry, u):
    return now - delta * beta * math.log(u) > expiry


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (a_plus_sign, "sign", "refreshes"),
        (log10, "log", "natural log"),
        (no_beta, "beta", "β = 2 doubles"),
        (a_strict_comparison, "expired", "at expiry"),
    ),
)
def test_xfetch_check_rejects_a_wrong_rule(answer, topic, match):
    assert_fails(check_xfetch_rule, answer, topic=topic, match=match)


# --------------------------------------------------------------------------- 08.3 · SWR windows


def test_swr_check_passes_the_reference():
    assert check_swr_action(solutions.swr_action)


def a_fresh_ttl_that_includes_its_end(age, fresh, stale, error, up):
    if age is not None and age == fresh:
        return "serve"
    return solutions.swr_action(age, fresh, stale, error, up)


def waits_for_the_database_inside_the_window(age, fresh, stale, error, up):
    if age is not None and fresh <= age < stale:
        return "load"
    return solutions.swr_action(age, fresh, stale, error, up)


def no_stale_if_error(age, fresh, stale, error, up):
    answer = solutions.swr_action(age, fresh, stale, error, up)
    return "error" if answer == "serve stale (error)" else answer


def serves_stale_forever_when_the_database_is_down(age, fresh, stale, error, up):
    if not up and age is not None and age >= stale:
        return "serve stale (error)"
    return solutions.swr_action(age, fresh, stale, error, up)


def an_answer_outside_the_actions(age, fresh, stale, error, up):
    return "fresh"


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (a_fresh_ttl_that_includes_its_end, "fresh", "at fresh_ttl"),
        (waits_for_the_database_inside_the_window, "window", "served at once"),
        (no_stale_if_error, "error", "stale-if-error"),
        (serves_stale_forever_when_the_database_is_down, "error", "at error_ttl"),
        (an_answer_outside_the_actions, "fresh", "returns one of"),
    ),
)
def test_swr_check_rejects_a_wrong_answer(answer, topic, match):
    assert_fails(check_swr_action, answer, topic=topic, match=match)


def test_the_stubs_are_reported_as_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError

    for check in (check_load_once, check_xfetch_rule, check_swr_action):
        checks.run(check, stub)
    assert capsys.readouterr().out.count("⏳") == 3
