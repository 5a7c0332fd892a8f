"""Reference solutions for lesson 08 · Stampedes (for instructors; learners: try first!).

One answer per exercise; ``tests/test_checks_stampedes.py`` runs each through its check.
"""

from __future__ import annotations

import math
import time
import uuid

from cachelab import keys

MISSING = object()
POLL_S = 0.005


def load_once(cache, key, loader, ttl, lock_ttl, wait_timeout):
    """Exercise 1: single-flight by hand, over an AtomicCache.

    One caller takes the lock (``add`` = SET NX PX) and loads; it stores the value and
    releases the lock in one step, only while the lock is still its own. The others
    poll for the value; a waiter that has waited ``wait_timeout`` raises TimeoutError.
    """
    value = cache.get(key, MISSING)
    if value is not MISSING:
        return value
    lock_key = keys.lock(key)
    deadline = time.monotonic() + wait_timeout
    while True:
        token = uuid.uuid4().hex
        if cache.add(lock_key, token, lock_ttl):
            value = cache.get(key, MISSING)  # stored between our miss and our lock?
            if value is not MISSING:
                cache.delete_if_equal(lock_key, token)
                return value
            try:
                value = loader()
            except BaseException:
                cache.delete_if_equal(lock_key, token)
                raise
            cache.set_and_release(key, value, ttl, lock_key=lock_key, token=token)
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"waited {wait_timeout} s for another request's load of {key!r}")
        time.sleep(POLL_S)
        value = cache.get(key, MISSING)
        if value is not MISSING:
            return value


def should_refresh(now, delta_s, beta, expires_at, u):
    """Exercise 2: XFetch's rule, ``now − Δ·β·ln(u) ≥ expiry``, for u in (0, 1]."""
    return now - delta_s * beta * math.log(u) >= expires_at


def swr_action(age_s, fresh_ttl, stale_ttl, error_ttl, database_up):
    """Exercise 3: what a stale-while-revalidate cache does with one read."""
    if age_s is not None and age_s < fresh_ttl:
        return "serve"
    if age_s is not None and age_s < stale_ttl:
        return "serve stale and refresh"
    if database_up:
        return "load"
    if age_s is not None and age_s < error_ttl:
        return "serve stale (error)"
    return "error"
