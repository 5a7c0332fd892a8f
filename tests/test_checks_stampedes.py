"""Lesson 08's checks accept the reference solutions and reject plausible wrong answers, naming
the property that failed and the hints that help with it."""

from __future__ import annotations

import math
import time
import uuid

from support import assert_fails, load_solutions

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


def test_plain_cache_aside_is_caught_loading_once_per_miss():
    def cache_aside(cache, key, loader, ttl, lock_ttl, wait_timeout):
        return cache.get_or_load(key, loader, ttl)

    assert_fails(check_load_once, cache_aside, topic="one-load", match="exactly one load")


def test_a_lock_without_a_ttl_is_caught():
    def no_lock_ttl(cache, key, loader, ttl, lock_ttl, wait_timeout):
        return solutions.load_once(cache, key, loader, ttl, None, wait_timeout)

    assert_fails(check_load_once, no_lock_ttl, topic="lock-ttl", match="taken with a TTL")


def test_releasing_with_a_plain_delete_is_caught():
    def plain_delete(cache, key, loader, ttl, lock_ttl, wait_timeout):
        value = cache.get(key, MISSING)
        if value is not MISSING:
            return value
        deadline = time.monotonic() + wait_timeout
        while not cache.add(keys.lock(key), uuid.uuid4().hex, lock_ttl):
            if time.monotonic() >= deadline:
                raise TimeoutError("waited too long")
            time.sleep(0.005)
            value = cache.get(key, MISSING)
            if value is not MISSING:
                return value
        value = cache.get(key, MISSING)  # stored between our miss and our lock?
        if value is MISSING:
            value = loader()
            cache.set(key, value, ttl)
        cache.delete(keys.lock(key))  # whoever holds it now
        return value

    assert_fails(check_load_once, plain_delete, topic="token", match="neither releases")


def test_a_lock_left_behind_by_a_failed_load_is_caught():
    def keeps_the_lock_on_error(cache, key, loader, ttl, lock_ttl, wait_timeout):
        value = cache.get(key, MISSING)
        if value is not MISSING:
            return value
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait_timeout
        while not cache.add(keys.lock(key), token, lock_ttl):
            if time.monotonic() >= deadline:
                raise TimeoutError("waited too long")
            time.sleep(0.005)
            value = cache.get(key, MISSING)
            if value is not MISSING:
                return value
        value = cache.get(key, MISSING)  # stored between our miss and our lock?
        if value is not MISSING:
            cache.delete_if_equal(keys.lock(key), token)
            return value
        value = loader()  # an exception leaves the lock for lock_ttl
        cache.set_and_release(key, value, ttl, lock_key=keys.lock(key), token=token)
        return value

    assert_fails(check_load_once, keeps_the_lock_on_error, topic="error", match="releases the lock")


def test_a_waiter_that_loads_after_its_wait_is_caught():
    def loads_after_waiting(cache, key, loader, ttl, lock_ttl, wait_timeout):
        try:
            return solutions.load_once(cache, key, loader, ttl, lock_ttl, wait_timeout)
        except TimeoutError:
            return loader()  # the herd, back when the database is slowest

    assert_fails(check_load_once, loads_after_waiting, topic="timeout", match="raises TimeoutError")


def test_a_waiter_that_waits_forever_is_caught_without_hanging_the_check():
    def waits_forever(cache, key, loader, ttl, lock_ttl, wait_timeout):
        return solutions.load_once(cache, key, loader, ttl, lock_ttl, 3_600)

    started = time.monotonic()
    assert_fails(check_load_once, waits_forever, topic="timeout", match="returns within")
    assert time.monotonic() - started < 30


def test_a_hit_that_still_loads_is_caught():
    def always_loads(cache, key, loader, ttl, lock_ttl, wait_timeout):
        cache.delete(key)
        return solutions.load_once(cache, key, loader, ttl, lock_ttl, wait_timeout)

    assert_fails(check_load_once, always_loads, topic="hit", match="without calling the loader")


# --------------------------------------------------------------------------- 08.2 · XFetch


def test_xfetch_check_passes_the_reference_and_the_library():
    from cachelab.stampedes import xfetch_probability

    assert check_xfetch_rule(solutions.should_refresh)
    assert xfetch_probability(1.0, 1.0) == math.exp(-1)


def test_a_plus_sign_never_refreshes_early():
    assert_fails(
        check_xfetch_rule,
        lambda now, d, b, e, u: now + d * b * math.log(u) >= e,
        topic="sign",
        match="refreshes",
    )


def test_log10_is_caught():
    assert_fails(
        check_xfetch_rule,
        lambda now, d, b, e, u: now - d * b * math.log10(u) >= e,
        topic="log",
        match="natural log",
    )


def test_a_rule_without_beta_is_caught():
    assert_fails(
        check_xfetch_rule,
        lambda now, d, b, e, u: now - d * math.log(u) >= e,
        topic="beta",
        match="β = 2 doubles",
    )


def test_a_strict_comparison_is_caught_at_expiry():
    assert_fails(
        check_xfetch_rule,
        lambda now, d, b, e, u: now - d * b * math.log(u) > e,
        topic="expired",
        match="at expiry",
    )


# --------------------------------------------------------------------------- 08.3 · SWR windows


def test_swr_check_passes_the_reference():
    assert check_swr_action(solutions.swr_action)


def test_a_fresh_ttl_that_includes_its_end_is_caught():
    def inclusive(age, fresh, stale, error, up):
        if age is not None and age == fresh:
            return "serve"
        return solutions.swr_action(age, fresh, stale, error, up)

    assert_fails(check_swr_action, inclusive, topic="fresh", match="at fresh_ttl")


def test_waiting_for_the_database_inside_the_window_is_caught():
    def blocks_in_the_window(age, fresh, stale, error, up):
        if age is not None and fresh <= age < stale:
            return "load"
        return solutions.swr_action(age, fresh, stale, error, up)

    assert_fails(check_swr_action, blocks_in_the_window, topic="window", match="served at once")


def test_no_stale_if_error_is_caught():
    def errors_at_once(age, fresh, stale, error, up):
        answer = solutions.swr_action(age, fresh, stale, error, up)
        return "error" if answer == "serve stale (error)" else answer

    assert_fails(check_swr_action, errors_at_once, topic="error", match="stale-if-error")


def test_serving_stale_forever_when_the_database_is_down_is_caught():
    def stale_forever(age, fresh, stale, error, up):
        if not up and age is not None and age >= stale:
            return "serve stale (error)"
        return solutions.swr_action(age, fresh, stale, error, up)

    assert_fails(check_swr_action, stale_forever, topic="error", match="at error_ttl")


def test_an_answer_outside_the_actions_is_named():
    assert_fails(check_swr_action, lambda *a: "fresh", topic="fresh", match="returns one of")


def test_the_stubs_are_reported_as_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError

    for check in (check_load_once, check_xfetch_rule, check_swr_action):
        checks.run(check, stub)
    assert capsys.readouterr().out.count("⏳") == 3
