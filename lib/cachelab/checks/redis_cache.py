"""Checks for lesson 04's exercises: cache-aside on Redis by hand, and failing open.

Both checks run your function against a real Redis server, never a fake, and both run on
the course's Redis alone (``connect()``: ``$REDIS_URL`` or this process's private server), so
they also work where the only Redis is a room's shared one and no server program is installed.
Each writes under a key prefix of its own inside your learner prefix, which it deletes
afterwards (``cachelab:<learner>:check04:<random>:``), reading Redis and deleting that prefix
through a client of its own, never the one your function was handed, so nothing your function
does to its client changes what is deleted. Where Redis must be down, the check hands your
function a client whose server has stopped (``redis_server._gone_client``): every command fails
at once, as after a crash, and nobody's server is stopped.

- ``check_get_or_load_json`` (04.1): cache-aside with JSON and a TTL; then a key outside the
  course prefix, through a client whose server is gone: it must be refused before anything is
  sent, so a check never writes outside the course prefix of a server that may be shared;
- ``check_safe_get_or_load`` (04.2): cache-aside while Redis is up, then the same calls with
  Redis down, to see that your function fails open.

Each raises ``_CheckFailed`` naming the first property that does not hold.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any, Callable

import redis

from cachelab.cache import CacheStats, _delete_keys_under
from cachelab.checks import _call, _CheckFailed, _expect, _raised, _same
from cachelab.environment.redis_server import _gone_client, connect
from cachelab.keys import _COURSE_PREFIX, learner_prefix

__all__ = ["check_get_or_load_json", "check_safe_get_or_load"]

# What the loaders in these checks return: a small homepage-like value, as JSON can carry it.
_PAGE = {
    "products": [
        {"id": 7, "name": "Oak stool", "price_cents": 4599, "stock": 12},
        {"id": 42, "name": "Rustic maple bird feeder", "price_cents": 1099, "stock": 171},
    ],
    "count": 2,
}


class _CountingLoader:
    """A loader that returns a fresh copy of ``_PAGE`` and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return copy.deepcopy(_PAGE)


def _decode_json(raw: Any, property_: str) -> Any:
    """``json.loads(raw)``, or ``_CheckFailed`` naming ``property_`` when ``raw`` is not JSON."""
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        text = raw if isinstance(raw, str) else repr(raw)
        raise _CheckFailed(
            f"{property_} (json.loads could not read what Redis holds: {text[:80]!r})", "json"
        ) from None


def check_get_or_load_json(get_or_load_json: Callable[..., Any]) -> str:
    """Exercise 04.1: ``get_or_load_json(client, key, loader, ttl)``.

    Properties, in order: a miss returns the loader's value and calls it once; the
    value is stored in Redis under ``key`` as JSON; with a TTL of ``ttl`` seconds;
    a hit returns the decoded value without calling the loader; once the key is
    gone the loader runs again; a key outside ``cachelab:`` is refused with
    ``ValueError`` before anything is sent to Redis (tried through a client whose server is
    gone, so nothing can be written anywhere).
    """
    client = connect()  # the answer's
    mine = connect()  # the check's own reads and clean-up: a client the answer never had
    prefix = f"{learner_prefix()}check04:{uuid.uuid4().hex[:10]}:"
    key = prefix + "homepage"
    ttl = 120
    loader = _CountingLoader()

    def answer(
        on_client: Any, on_key: str, property_: str, topic: str, answer_ttl: int = ttl
    ) -> Any:
        return _call(
            get_or_load_json,
            on_client,
            on_key,
            loader,
            answer_ttl,
            property_=property_,
            topic=topic,
        )

    try:
        first = answer(client, key, "a miss returns what the loader returned", "miss")
        _expect(
            loader.calls == 1, "a miss calls the loader exactly once", loader.calls, topic="miss"
        )
        _expect(_same(first, _PAGE), "a miss returns what the loader returned", first, topic="miss")

        raw = mine.get(key)
        _expect(
            raw is not None,
            f"a miss stores the value in Redis under the key it was given ({key!r} is empty)",
            topic="store",
        )
        stored = _decode_json(raw, "the value is stored as JSON")
        _expect(
            _same(stored, _PAGE),
            "the stored JSON decodes to the loader's value",
            stored,
            topic="json",
        )

        pttl_ms = mine.pttl(key)
        _expect(
            pttl_ms != -1,
            "the key has a TTL (SET … EX ttl); Redis says it never expires",
            topic="ttl",
        )
        _expect(
            (ttl - 5) * 1000 < pttl_ms <= ttl * 1000,
            f"the TTL is ttl seconds: asked for {ttl} s (EX takes seconds, PX milliseconds)",
            f"{pttl_ms / 1000:.3f} s left",
            topic="ttl",
        )

        second = answer(client, key, "a hit returns the decoded value", "hit")
        _expect(
            loader.calls == 1,
            "a hit does not call the loader",
            f"{loader.calls} calls after 2 requests",
            topic="hit",
        )
        _expect(
            _same(second, _PAGE),
            "a hit returns the decoded value (the dict, not the JSON text)",
            second,
            topic="hit",
        )

        mine.unlink(key)  # as if the TTL had run out
        third = answer(
            client, key, "once the key has expired, the next request calls the loader again", "miss"
        )
        _expect(
            loader.calls == 2 and _same(third, _PAGE),
            "once the key has expired, the next request calls the loader again",
            f"{loader.calls} loader calls",
            topic="miss",
        )
    finally:
        _delete_keys_under(mine, prefix)

    outside = f"check04-outside-the-course-prefix:{uuid.uuid4().hex[:10]}"
    refusal = "a key that does not start with 'cachelab:' is refused with ValueError"
    try:  # through a client whose server is gone: a command sent would reach nobody's data
        get_or_load_json(_gone_client(), outside, loader, 1)
        refused = False
    except ValueError:
        refused = True
    except NotImplementedError:
        raise
    except redis.RedisError as error:
        raise _CheckFailed(
            f"{refusal} before anything is sent to Redis, so nothing is written outside the "
            f"course prefix (got {type(error).__name__}: it sent a command first)",
            "prefix",
        ) from None
    except Exception as error:
        raise _CheckFailed(f"{refusal} (got {_raised(error)})", "prefix") from None
    _expect(refused, refusal, outside, topic="prefix")
    return (
        f"stored as JSON under the key, TTL {ttl} s, the loader ran once per miss, "
        f"hits decoded, keys outside {_COURSE_PREFIX!r} refused"
    )


def _expect_three_pages(
    answers: list,
    loader_calls: int,
    *,
    redis_is: str,
    loads: int,
    loads_property: str,
    loads_topic: str,
) -> None:
    """Three requests, with Redis ``redis_is`` ("up" or "down"), each returned the loader's page
    (else a ❌ on that topic) and ran the loader ``loads`` times in all (else ``loads_property``
    fails, on ``loads_topic``).
    """
    _expect(
        _same(answers, [_PAGE] * 3),
        f"with Redis {redis_is}, it returns the loader's value",
        answers[-1],
        topic=redis_is,
    )
    _expect(
        loader_calls == loads,
        loads_property,
        f"{loader_calls} loader calls for 3 requests",
        topic=loads_topic,
    )


def check_safe_get_or_load(safe_get_or_load: Callable[..., Any]) -> str:
    """Exercise 04.2: ``safe_get_or_load(client, key, loader, ttl, stats)``.

    With Redis up it is cache-aside (JSON, a TTL, one miss then hits, counted in
    ``stats``); an error raised by the loader itself propagates and is not counted;
    with Redis *stopped* it still returns the loader's value, calls the loader once
    per request, lets no Redis error escape, and adds one to ``stats.errors`` per
    request. Redis is up on the course's server, under a prefix of the check's own that it
    deletes afterwards, and down through a client whose server has stopped (``_gone_client``):
    no server is stopped, so the check also runs on a room's shared one.
    """
    client = connect()  # the answer's, while Redis is up: the course's Redis
    mine = connect()  # the check's own reads and clean-up: a client the answer never had
    prefix = f"{learner_prefix()}check04:{uuid.uuid4().hex[:10]}:"
    key = prefix + "safe:homepage"
    try:
        ttl = 60
        loader = _CountingLoader()
        stats = CacheStats()

        def answer(
            property_: str, topic: str, on_loader: Callable[[], Any] = loader, on_key: str = key
        ) -> Any:
            return _call(
                safe_get_or_load,
                client,
                on_key,
                on_loader,
                ttl,
                stats,
                property_=property_,
                topic=topic,
            )

        answers = [answer("with Redis up, it returns the loader's value", "up") for _ in range(3)]
        _expect_three_pages(
            answers,
            loader.calls,
            redis_is="up",
            loads=1,
            loads_property=(
                "with Redis up, it is cache-aside: the loader runs on the first request only"
            ),
            loads_topic="up",
        )
        _expect(
            (stats.misses, stats.hits, stats.errors) == (1, 2, 0),
            "with Redis up, stats count 1 miss, 2 hits and 0 errors for 3 requests",
            f"misses={stats.misses}, hits={stats.hits}, errors={stats.errors}",
            topic="stats",
        )
        stored = _decode_json(mine.get(key), "with Redis up, the value is stored as JSON")
        _expect(
            _same(stored, _PAGE),
            "with Redis up, the stored JSON decodes to the loader's value",
            stored,
            topic="up",
        )
        _expect(
            mine.ttl(key) > 0,
            "with Redis up, the key is stored with a TTL (SET … EX ttl)",
            mine.ttl(key),
            topic="up",
        )

        def broken_loader() -> Any:
            raise LookupError("no product with id 999")

        prop = (
            "an error raised by the loader itself is not hidden: only Redis errors fail open "
            "(catch redis.ConnectionError and redis.TimeoutError, not Exception)"
        )
        try:
            safe_get_or_load(client, prefix + "safe:missing", broken_loader, ttl, stats)
            propagated = False
        except LookupError:
            propagated = True
        except NotImplementedError:
            raise
        except Exception as error:
            raise _CheckFailed(f"{prop} (got {_raised(error)})", "loader-error") from None
        _expect(propagated, prop, topic="loader-error")
        _expect(
            stats.errors == 0,
            "a loader's own error is not counted as a Redis error",
            stats.errors,
            topic="loader-error",
        )

        down = _gone_client()  # a client of a server that has just stopped: Redis is down
        loader.calls = 0
        errors_before = stats.errors
        answers = []
        for _ in range(3):
            try:
                answers.append(safe_get_or_load(down, key, loader, ttl, stats))
            except redis.RedisError as error:
                raise _CheckFailed(
                    f"with Redis down, the page is still served: no Redis error escapes "
                    f"(got {_raised(error)})",
                    "down",
                ) from None
            except NotImplementedError:
                raise
        _expect_three_pages(
            answers,
            loader.calls,
            redis_is="down",
            loads=3,
            loads_property="with Redis down, the loader runs exactly once per request",
            loads_topic="down-once",
        )
        _expect(
            stats.errors - errors_before == 3,
            "with Redis down, stats.errors grows by one per request",
            f"{stats.errors - errors_before} errors counted for 3 requests",
            topic="down-once",
        )
    finally:
        _delete_keys_under(mine, prefix)
    return (
        "cache-aside while Redis is up; with Redis stopped, every request served from the loader "
        "and each failure counted once"
    )


_EXERCISES = {"04.1": check_get_or_load_json, "04.2": check_safe_get_or_load}

_HINTS = {
    "04.1": {
        "miss": (
            "On a miss (client.get(key) returns None), call loader() once, store its value, and "
            "return it.",
            "Read the key once with client.get and decide from what came back: None means a miss, "
            "anything else is the stored JSON.",
            "On the miss path call the loader exactly once, keep its value in a variable, store "
            "that, and return that same value.",
        ),
        "store": (
            "The value must end up in Redis under exactly the key you were given.",
            "client.set writes a key; give it the key argument itself, not a key of your own "
            "making or one with a prefix added.",
        ),
        "json": (
            "Redis stores text. The course stores values as JSON text, never pickle or str().",
            "json.dumps turns the loader's value into JSON text, and json.loads turns it back.",
            "Encode on the way in (before client.set) and decode on the way out (after "
            "client.get), so the caller only ever sees the value.",
        ),
        "ttl": (
            "The key must expire by itself: set it with a TTL of ttl seconds.",
            "client.set takes the TTL in the same call: ex= is in seconds, px= in milliseconds.",
        ),
        "hit": (
            "On a hit, return the value decoded from JSON, and do not call the loader.",
            "What client.get returns on a hit is JSON text: json.loads gives back the dict.",
            "Return on the hit path before the code that calls the loader is ever reached.",
        ),
        "prefix": (
            "Check the key before you send anything to Redis: a key outside the course prefix is "
            "refused.",
            "str.startswith('cachelab:') tells you whether a key is under the course prefix.",
            "Make the check the first thing the function does, and raise ValueError with the key "
            "in its message, before any client call.",
        ),
    },
    "04.2": {
        "up": (
            "With Redis up this is exercise 04.1 again: cache-aside, JSON, SET … EX ttl.",
            "Start from your get_or_load_json and add the stats and the error handling around it.",
        ),
        "stats": (
            "Count every request once: a hit adds 1 to stats.hits, a miss 1 to stats.misses.",
            "Each request takes exactly one of the two paths, hit or miss: count in the path, "
            "once, not before the lookup.",
        ),
        "loader-error": (
            "Only Redis's own errors are an outage. An error from the loader is a bug in the "
            "page: let it through.",
            "Catch redis.ConnectionError and redis.TimeoutError only: `except Exception` would "
            "also catch the loader's LookupError.",
            "Keep the call to loader() outside every try block, so that nothing you catch can "
            "come from it.",
        ),
        "down": (
            "When Redis is down, the page must still be served: from the loader.",
            "client.get raises redis.ConnectionError (or redis.TimeoutError) when Redis is down: "
            "that is the exception to catch.",
            "Put only the Redis calls inside a try, and make the except branch fall back to the "
            "loader's value.",
        ),
        "down-once": (
            "With Redis down, each request must call the loader exactly once and count exactly "
            "one error.",
            "After a failed GET, the SET would fail too: once you know Redis is down, do not try "
            "it again in the same request.",
            "Make the failed GET lead straight to one error counted and the loader's value "
            "returned, without going on to the miss path.",
        ),
    },
}
