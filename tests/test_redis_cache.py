"""RedisCache on a real Redis: JSON values, SET EX/PX, prefix isolation, fail-open.

Every test works under its own prefix inside the learner's (the ``redis_cache`` /
``test_prefix`` fixtures). A test that needs keys outside that prefix -- to see that
``clear`` leaves them alone -- writes them on a private server of its own
(``stoppable_redis``), never on a server that may be shared. What both caches
promise is tested once, for both, in ``test_cache_contract.py``.
"""

import json
import os
import signal
import time

import pytest
import redis

from cachelab.cache import CacheKeyError, CacheUnavailable, RedisCache
from cachelab.clock import FakeClock
from cachelab.outages import CircuitBreaker, _PendingDeletes

# --- JSON round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"id": 1, "name": "Blue Cotton Mug", "price_cents": 1299, "tags": ["kitchen", "gift"]},
        [{"id": 1, "units_sold": 10}, {"id": 2, "units_sold": 7}],
        "a string with ünïcode ✓",
        42,
        3.25,
        True,
        {"nested": {"deeper": [1, [2, [3, None]]]}},
    ],
)
def test_a_json_value_comes_back_equal(redis_cache, value):
    redis_cache.set("k", value)
    assert redis_cache.get("k") == value


def test_a_tuple_comes_back_as_a_list_because_json_has_only_lists(redis_cache):
    redis_cache.set("k", (1, 2))
    assert redis_cache.get("k") == [1, 2]


def test_values_are_stored_as_json_text_never_pickle(redis_cache, redis_client):
    value = {"id": 7, "price_cents": 999, "name": "Red Wool Scarf"}
    redis_cache.set("product:7", value)
    raw = redis_client.get(redis_cache.prefix + "product:7")
    assert isinstance(raw, str) and raw.startswith("{")
    assert json.loads(raw) == value
    assert not raw.encode().startswith(b"\x80"), "pickle data starts with the PROTO opcode 0x80"


def test_a_value_json_cannot_encode_is_a_type_error_naming_the_type(redis_cache, redis_client):
    with pytest.raises(TypeError, match=r"holds a set"):
        redis_cache.set("k", {1, 2, 3})
    assert redis_client.exists(redis_cache.prefix + "k") == 0
    assert redis_cache.stats.sets == 0


def test_a_nested_value_json_cannot_encode_names_the_nested_type(redis_cache):
    with pytest.raises(TypeError, match=r"holds a set"):
        redis_cache.set("k", {"rows": [{"tags": {"a", "b"}}]})


def test_a_non_json_value_is_an_error_even_when_failing_open(redis_cache):
    assert redis_cache.fail_open
    with pytest.raises(TypeError, match=r"holds an object"):
        redis_cache.set("k", object())


# --- get, set, delete, stats ----------------------------------------------------------------------


def test_two_caches_on_one_prefix_share_their_entries(redis_client, redis_cache):
    other = RedisCache(redis_client, prefix=redis_cache.prefix)
    redis_cache.set("trending", [1, 2, 3])
    assert other.get("trending") == [1, 2, 3]


# --- TTLs: SET EX and PX --------------------------------------------------------------------------


def test_a_whole_second_ttl_is_set_with_ex(redis_cache, redis_client):
    redis_cache.set("k", 1, ttl=60)
    assert 50 < redis_client.ttl(redis_cache.prefix + "k") <= 60  # loose: a busy machine may pause


def test_a_fractional_ttl_is_set_with_px_in_milliseconds(redis_cache, redis_client):
    redis_cache.set("k", 1, ttl=1.9)
    # EX would have to round: to 1 s (PTTL <= 1000) or to 2 s (PTTL > 1900)
    assert 1000 < redis_client.pttl(redis_cache.prefix + "k") <= 1900


def test_the_cache_ttl_is_the_default_for_every_set(redis_client, test_prefix):
    cache = RedisCache(redis_client, prefix=test_prefix, ttl=30)
    try:
        cache.set("k", 1)
        assert 20 < redis_client.ttl(test_prefix + "k") <= 30
    finally:
        cache.clear()


def test_a_per_set_ttl_overrides_the_cache_ttl(redis_client, test_prefix):
    cache = RedisCache(redis_client, prefix=test_prefix, ttl=30)
    try:
        cache.set("k", 1, ttl=300)
        assert 290 < redis_client.ttl(test_prefix + "k") <= 300
    finally:
        cache.clear()


def test_without_a_ttl_a_key_never_expires(redis_cache, redis_client):
    redis_cache.set("k", 1)
    assert redis_client.ttl(redis_cache.prefix + "k") == -1
    assert redis_cache.ttl_of("k") is None


def test_ttl_of_reports_the_seconds_left(redis_cache):
    redis_cache.set("k", 1, ttl=100)
    assert 90 < redis_cache.ttl_of("k") <= 100


def test_ttl_of_a_missing_key_is_none(redis_cache):
    assert redis_cache.ttl_of("missing") is None


def test_get_or_load_stores_with_its_own_ttl(redis_cache, redis_client):
    redis_cache.get_or_load("k", lambda: "v", ttl=45)
    assert 35 < redis_client.ttl(redis_cache.prefix + "k") <= 45


# --- get_or_load ----------------------------------------------------------------------------------


def test_a_second_cache_on_the_same_prefix_does_not_call_its_loader(redis_client, redis_cache):
    redis_cache.get_or_load("k", lambda: "from the first worker")
    other = RedisCache(redis_client, prefix=redis_cache.prefix)
    assert (
        other.get_or_load("k", lambda: pytest.fail("the loader must not run on a hit"))
        == "from the first worker"
    )


# --- prefixes: clear() deletes only its own keys -------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "mine:", "cachelabX:", "other:cachelab:", 42])
def test_a_prefix_outside_the_course_prefix_is_rejected(redis_client, prefix):
    with pytest.raises(ValueError, match="prefix must start with 'cachelab:'"):
        RedisCache(redis_client, prefix=prefix)


@pytest.mark.parametrize("prefix", ["cachelab:1", "cachelab:a", "cachelab:alice:test"])
def test_a_prefix_that_does_not_end_with_a_colon_is_rejected(redis_client, prefix):
    """``cachelab:1`` would cover ``cachelab:10…`` too; ``cachelab:a`` + ``bc`` would be
    ``cachelab:ab`` + ``c``.
    """
    with pytest.raises(ValueError, match="must end with ':'"):
        RedisCache(redis_client, prefix=prefix)


@pytest.mark.parametrize(
    "prefix", ["cachelab:[ab]:", "cachelab:*:", "cachelab:a?:", "cachelab:a b:"]
)
def test_a_prefix_with_glob_characters_or_spaces_is_rejected(redis_client, prefix):
    with pytest.raises(ValueError, match="glob characters"):
        RedisCache(redis_client, prefix=prefix)


def test_the_default_prefix_is_the_learners(redis_client, monkeypatch):
    monkeypatch.setenv("CACHELAB_LEARNER", "ada")
    assert RedisCache(redis_client).prefix == "cachelab:ada:"


def test_every_key_is_stored_under_the_prefix(redis_cache, redis_client):
    redis_cache.set("product:1", 1)
    redis_cache.set("trending", 2)
    stored = set(redis_client.scan_iter(match=redis_cache.prefix + "*"))
    assert stored == {redis_cache.prefix + "product:1", redis_cache.prefix + "trending"}


def test_clear_deletes_every_key_under_the_prefix_and_counts_them(redis_cache, redis_client):
    for i in range(10):
        redis_cache.set(f"k{i}", i)
    assert redis_cache.clear() == 10
    assert list(redis_client.scan_iter(match=redis_cache.prefix + "*")) == []


def test_clear_leaves_keys_outside_the_prefix(stoppable_redis):
    client = stoppable_redis.client()
    prefix = "cachelab:ada:test:"
    cache = RedisCache(client, prefix=prefix)
    outside = [
        "cachelab:ada:testX:k",  # looks alike: same text, another last character
        "cachelab:ada:testk",  # the prefix without its colon
        "cachelab:ada:test",  # exactly the prefix minus the colon
        "cachelab:ada:k",  # the same learner, another prefix
        "cachelab:adam:test:k",  # another learner whose name starts the same
        "othercourse:cachelab:ada:test:k",
    ]
    for key in outside:
        client.set(key, "keep me")
    cache.set("mine", 1)
    assert cache.clear() == 1
    assert client.exists(*outside) == len(outside)


def test_clear_deletes_more_keys_than_one_batch(redis_cache, redis_client):
    count = 1_234  # more than two batches of 500
    with redis_client.pipeline(transaction=False) as pipe:
        for i in range(count):
            pipe.set(f"{redis_cache.prefix}k{i}", "1")
        pipe.execute()
    assert redis_cache.clear() == count
    assert list(redis_client.scan_iter(match=redis_cache.prefix + "*", count=1000)) == []


# --- fail-open: Redis down is not an outage ------------------------------------------------------


@pytest.fixture
def stopped_cache(stoppable_redis, test_prefix):
    """A fail-open RedisCache whose server worked, then stopped (its breaker never opens)."""
    cache = RedisCache(
        stoppable_redis.client(), prefix=test_prefix, breaker=CircuitBreaker(failures_to_open=1_000)
    )
    cache.set("k", "cached before the outage")
    cache.stats.reset()
    stoppable_redis.stop()
    return cache


def test_get_returns_the_default_and_counts_an_error_when_redis_is_down(stopped_cache):
    assert stopped_cache.get("k", default="fallback") == "fallback"
    assert stopped_cache.stats.errors == 1
    assert stopped_cache.stats.hits == 0 and stopped_cache.stats.misses == 0


def test_get_or_load_returns_the_loaders_value_when_redis_is_down(stopped_cache):
    calls = []
    value = stopped_cache.get_or_load("k", lambda: calls.append(1) or {"fresh": True})
    assert value == {"fresh": True}
    assert calls == [1]
    assert stopped_cache.stats.errors == 1


def test_get_or_load_calls_the_loader_on_every_request_while_redis_is_down(stopped_cache):
    calls = []
    for _ in range(3):
        stopped_cache.get_or_load("k", lambda: calls.append(1) or "fresh")
    assert len(calls) == 3 and stopped_cache.stats.errors == 3


def test_set_returns_false_and_counts_an_error_when_redis_is_down(stopped_cache):
    assert stopped_cache.set("k", 1) is False
    assert stopped_cache.stats.errors == 1 and stopped_cache.stats.sets == 0


def test_delete_returns_false_and_counts_an_error_when_redis_is_down(stopped_cache):
    assert stopped_cache.delete("k") is False
    assert stopped_cache.stats.errors == 1


def test_each_failed_operation_counts_one_error(stopped_cache):
    stopped_cache.get("k")
    stopped_cache.get_or_load("k", lambda: 1)
    stopped_cache.set("k", 1)
    stopped_cache.delete("k")
    assert stopped_cache.stats.errors == 4


def test_without_fail_open_an_unreachable_redis_raises_cache_unavailable(
    stoppable_redis, test_prefix
):
    cache = RedisCache(
        stoppable_redis.client(),
        prefix=test_prefix,
        fail_open=False,
        breaker=CircuitBreaker(failures_to_open=1_000),
    )
    stoppable_redis.stop()
    for operation in (
        lambda: cache.get("k"),
        lambda: cache.get_or_load("k", lambda: 1),
        lambda: cache.set("k", 1),
        lambda: cache.delete("k"),
    ):
        with pytest.raises(CacheUnavailable, match="Redis could not answer"):
            operation()
    assert cache.stats.errors == 4


def test_the_atomic_operations_raise_cache_unavailable_even_when_failing_open(stopped_cache):
    """A lock or a lease coordinates through the shared cache: with none there, the caller must
    decide.
    """
    for operation in (
        lambda: stopped_cache.add("lock", "t", 10),
        lambda: stopped_cache.delete_if_equal("lock", "t"),
        lambda: stopped_cache.set_and_release("k", 1, 10, lock_key="lock", token="t"),
    ):
        with pytest.raises(CacheUnavailable):
            operation()
    assert stopped_cache.stats.errors == 3


def test_the_repr_shows_prefix_and_ttl(redis_client, test_prefix):
    assert repr(RedisCache(redis_client, prefix=test_prefix, ttl=5)) == (
        f"RedisCache(prefix={test_prefix!r}, ttl=5, fail_open=True)"
    )


# --- a full, read-only or misused Redis ---------------------------------------------------------


@pytest.fixture
def full_redis(stoppable_redis):
    """A private server holding 2 MB, then limited to 1 MB with noeviction: every write fails."""
    client = stoppable_redis.client()
    with client.pipeline(transaction=False) as pipe:
        for i in range(200):
            pipe.set(f"cachelab:ada:filler:{i}", "x" * 10_000)
        pipe.execute()
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1mb")
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        client.set("cachelab:ada:probe", "x")
    return stoppable_redis


def test_a_full_redis_does_not_break_a_failing_open_page(full_redis):
    """``get_or_load`` used to read the database and then raise OutOfMemoryError, errors still 0."""
    cache = RedisCache(full_redis.client(), prefix="cachelab:ada:page:")
    calls = []
    assert cache.get_or_load("trending", lambda: calls.append(1) or ["row"] * 100) == ["row"] * 100
    assert (
        calls == [1]
        and cache.stats.misses == 1
        and cache.stats.errors == 1
        and cache.stats.sets == 0
    )
    assert cache.set("k", "v") is False and cache.stats.errors == 2


def test_a_full_redis_is_a_clear_exception_when_not_failing_open(full_redis):
    cache = RedisCache(full_redis.client(), prefix="cachelab:ada:page:", fail_open=False)
    with pytest.raises(CacheUnavailable, match="OutOfMemoryError|OOM"):
        cache.set("k", "v")


def test_a_key_that_holds_a_hash_is_a_clear_error_naming_the_key_even_when_failing_open(
    stoppable_redis,
):
    client = stoppable_redis.client()
    client.hset("cachelab:ada:product:1", mapping={"price": "1"})
    cache = RedisCache(client, prefix="cachelab:ada:")
    with pytest.raises(CacheKeyError, match=r"'cachelab:ada:product:1' holds a hash"):
        cache.get("product:1")
    assert cache.stats.errors == 0, "a bug is not an outage"


def test_a_key_that_holds_text_that_is_not_json_is_a_clear_error(stoppable_redis):
    client = stoppable_redis.client()
    client.set("cachelab:ada:product:1", "not json {")
    with pytest.raises(CacheKeyError, match="holds text that is not JSON"):
        RedisCache(client, prefix="cachelab:ada:").get("product:1")


def test_a_read_only_replica_is_an_outage():
    from cachelab.outages import _is_outage

    assert _is_outage(
        redis.exceptions.ReadOnlyError("You can't write against a read only replica.")
    )
    assert _is_outage(redis.ResponseError("BUSY Redis is busy running a script."))
    assert _is_outage(redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"))
    assert not _is_outage(redis.ResponseError("ERR syntax error"))


# --- a paused Redis: short timeouts and the circuit breaker ------------------------------------


def test_a_paused_redis_costs_a_bounded_time_and_the_breaker_stops_the_stall(
    stoppable_redis, test_prefix
):
    """100 requests in a 3 s pause (SIGSTOP): 3 wait for the timeout, the rest skip Redis."""
    from cachelab.environment.redis_server import COMMAND_TIMEOUT_S

    cache = RedisCache(
        stoppable_redis.client(), prefix=test_prefix, breaker=CircuitBreaker(3, open_s=5.0)
    )
    cache.set("page", "cached")
    os.kill(stoppable_redis.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        waits = []
        for _ in range(100):
            before = time.monotonic()
            assert cache.get_or_load("page", lambda: "from the database") == "from the database"
            waits.append(time.monotonic() - before)
        spent = time.monotonic() - started
    finally:
        os.kill(stoppable_redis.process.pid, signal.SIGCONT)
    assert (
        cache.stats.errors == 3
        and cache.stats.short_circuits == 97
        and cache.stats.circuit == "open"
    )
    assert max(waits) < COMMAND_TIMEOUT_S + 0.25, "no single request waits much past the timeout"
    assert spent < 3 * COMMAND_TIMEOUT_S + 0.5, f"the burst spent {spent:.2f} s in the stall"


def test_after_the_pause_one_probe_closes_the_breaker_and_the_same_client_works_again(
    stoppable_redis, test_prefix
):
    clock = FakeClock()
    cache = RedisCache(
        stoppable_redis.client(), prefix=test_prefix, breaker=CircuitBreaker(2, 10, clock)
    )
    cache.set("page", "cached")
    os.kill(stoppable_redis.process.pid, signal.SIGSTOP)
    try:
        cache.get("page"), cache.get("page")
        assert cache.stats.circuit == "open"
        assert cache.get("page", "skipped") == "skipped" and cache.stats.short_circuits == 1
    finally:
        os.kill(stoppable_redis.process.pid, signal.SIGCONT)
    clock.advance(10)
    assert cache.get("page") == "cached", "the probe went through and found the value"
    assert cache.stats.circuit == "closed"


def test_a_failed_probe_opens_the_breaker_again():
    clock = FakeClock()
    breaker = CircuitBreaker(failures_to_open=1, open_s=5, clock=clock)
    breaker.record_failure()
    clock.advance(5)
    assert breaker.allow() and not breaker.allow(), "one probe at a time"
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()


def test_a_probe_that_never_reports_does_not_keep_the_breaker_half_open():
    """A probe interrupted before it reports (Ctrl-C in a notebook) must not stop every later
    call from reaching Redis: after open_s without a report, the next caller probes."""
    clock = FakeClock()
    breaker = CircuitBreaker(failures_to_open=1, open_s=5, clock=clock)
    breaker.record_failure()
    clock.advance(5)
    assert breaker.allow(), "the first caller is the probe"
    # ... and it never calls record_success or record_failure
    clock.advance(4.9)
    assert not breaker.allow(), "the probe still has time to report"
    clock.advance(0.1)
    assert breaker.allow() and breaker.state == "half-open", "a new probe after open_s"
    assert not breaker.allow(), "still one probe at a time"
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


def test_a_server_restarted_on_the_same_address_is_used_again_by_the_same_client(
    stoppable_redis, test_prefix
):
    """redis-py reconnects by itself to an unchanged address: no new client is needed."""
    cache = RedisCache(stoppable_redis.client(), prefix=test_prefix, breaker=CircuitBreaker(1_000))
    cache.set("k", 1)
    folder = stoppable_redis.folder
    stoppable_redis.process.terminate()
    stoppable_redis.process.wait()
    assert cache.get("k", "down") == "down"
    stoppable_redis.restart()
    assert stoppable_redis.folder == folder
    assert cache.get("k", "miss") == "miss", "a restarted server without persistence is empty"
    assert cache.set("k", 2) and cache.get("k") == 2


# --- deletes are invalidations: never skipped, owed when they fail -------------------------------


def test_a_delete_goes_to_redis_while_the_breaker_is_open(stoppable_redis, test_prefix):
    clock = FakeClock()
    cache = RedisCache(
        stoppable_redis.client(), prefix=test_prefix, breaker=CircuitBreaker(1, 10, clock)
    )
    cache.breaker.record_failure()  # as after a stall: open for 10 s on the fake clock
    stoppable_redis.client().set(test_prefix + "page", '"old"')
    assert cache.get("page", "skipped") == "skipped", "reads skip Redis while it is open"
    assert cache.delete("page") is True, "the delete was not skipped"
    assert stoppable_redis.client().exists(test_prefix + "page") == 0
    assert cache.stats.circuit == "closed", "Redis answered the delete: the breaker closes"


def test_a_failed_delete_is_owed_once_and_sent_before_the_next_command(stopped_cache):
    stopped_cache.delete("k")
    stopped_cache.delete("k")
    assert stopped_cache.pending_deletes() == 1, "a key is owed once"
    assert stopped_cache.get("k", "fallback") == "fallback", "still down: the debt stays"
    assert stopped_cache.pending_deletes() == 1


def test_pending_deletes_forget_only_what_they_delivered(stoppable_redis):
    client = stoppable_redis.client()
    pending = _PendingDeletes()
    client.set("cachelab:ada:a", "1")
    pending.add("cachelab:ada:a")
    assert pending.send(client) == 1 and len(pending) == 0 and client.exists("cachelab:ada:a") == 0

    class FailsAgainMeanwhile:
        """The real client; while its UNLINK is on its way, another delete of b fails."""

        def unlink(self, *names):
            pending.add("cachelab:ada:b")
            return client.unlink(*names)

    pending.add("cachelab:ada:b")
    pending.add("cachelab:ada:c")
    assert pending.send(FailsAgainMeanwhile()) == 2
    assert list(pending._owed) == ["cachelab:ada:b"], "b's newer failure is still owed"


def test_pending_deletes_past_the_limit_drop_the_oldest_and_count_it():
    pending = _PendingDeletes(limit=2)
    for name in ("a", "b", "c"):
        pending.add(f"cachelab:ada:{name}")
    assert len(pending) == 2 and pending.dropped == 1
    assert list(pending._owed) == ["cachelab:ada:b", "cachelab:ada:c"]
