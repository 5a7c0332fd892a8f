"""cachelab.invalidation: the strategies, the lost-invalidation race, the lease that fixes it."""

from __future__ import annotations

import random

import pytest

from cachelab import keys
from cachelab.cache import CacheKeyError, MemoryCache, RedisCache
from cachelab.invalidation import (
    DeleteOnWrite,
    LeaseCache,
    LeasedDeleteOnWrite,
    TTLOnly,
    VersionedKeys,
    WriteThrough,
    _run_steps,
    count_stale_races,
    interleave,
)
from cachelab.lab.staleness import make_schedule, run_workload

TTL = 60.0
PRODUCT = 5
RACES = 1000
LOST_INVALIDATION = ["reader", "reader", "writer", "writer", "reader"]


def race(strategy, new_price=1):
    return interleave(
        strategy,
        PRODUCT,
        {
            "reader": strategy.read_steps(PRODUCT),
            "writer": strategy.write_steps(
                PRODUCT, lambda shop: shop.set_price(PRODUCT, new_price)
            ),
        },
        LOST_INVALIDATION,
    )


def test_the_scripted_race_leaves_delete_on_write_stale_until_the_ttl(clocked_shop):
    clock = clocked_shop.clock
    strategy = DeleteOnWrite(clocked_shop, MemoryCache(clock=clock), ttl=TTL)
    result = race(strategy)
    assert result.stale
    assert [s.did.split()[0] for s in result.steps] == [
        "miss",
        "loads",
        "writes",
        "deletes",
        "stores",
    ]
    clock.advance(TTL - 1)
    assert strategy.read(PRODUCT) != clocked_shop.product(PRODUCT)
    clock.advance(1)
    assert strategy.read(PRODUCT) == clocked_shop.product(PRODUCT)


def test_the_scripted_race_leaves_leases_fresh(clocked_shop):
    clock = clocked_shop.clock
    result = race(LeasedDeleteOnWrite(clocked_shop, MemoryCache(clock=clock), ttl=TTL))
    assert not result.stale
    assert "refused" in result.steps[-1].did


def test_the_scripted_race_leaves_leases_fresh_on_redis(clocked_shop, redis_cache):
    assert race(DeleteOnWrite(clocked_shop, redis_cache, ttl=TTL), new_price=2).stale
    redis_cache.clear()
    assert not race(LeasedDeleteOnWrite(clocked_shop, redis_cache, ttl=TTL), new_price=3).stale


@pytest.mark.parametrize(
    "strategy_class", [DeleteOnWrite, WriteThrough, VersionedKeys, LeasedDeleteOnWrite]
)
def test_every_invalidating_strategy_serves_the_new_row_after_a_write_on_redis(
    clocked_shop, redis_cache, strategy_class
):
    pages = strategy_class(clocked_shop, redis_cache, ttl=TTL)
    pages.read(PRODUCT)
    row = pages.set_price(PRODUCT, 777)
    assert pages.read(PRODUCT) == row == clocked_shop.product(PRODUCT)


def test_ttl_only_serves_the_old_row_after_a_write_on_redis(clocked_shop, redis_cache):
    pages = TTLOnly(clocked_shop, redis_cache, ttl=TTL)
    old = pages.read(PRODUCT)
    pages.set_price(PRODUCT, old["price_cents"] + 1)
    assert pages.read(PRODUCT) == old


def test_leases_leave_no_stale_value_over_many_random_interleavings_while_delete_on_write_does(
    clocked_shop,
):
    clock = clocked_shop.clock
    unfixed = count_stale_races(
        lambda: DeleteOnWrite(clocked_shop, MemoryCache(clock=clock), TTL), PRODUCT, RACES, seed=1
    )
    fixed = count_stale_races(
        lambda: LeasedDeleteOnWrite(clocked_shop, MemoryCache(clock=clock), TTL),
        PRODUCT,
        RACES,
        seed=1,
    )
    assert unfixed > 0
    assert fixed == 0


def test_versioned_keys_leave_no_stale_value_over_many_random_interleavings(clocked_shop):
    clock = clocked_shop.clock
    assert (
        count_stale_races(
            lambda: VersionedKeys(clocked_shop, MemoryCache(clock=clock), TTL),
            PRODUCT,
            RACES,
            seed=2,
        )
        == 0
    )


def test_write_through_races_can_leave_the_older_value(clocked_shop):
    clock = clocked_shop.clock
    assert (
        count_stale_races(
            lambda: WriteThrough(clocked_shop, MemoryCache(clock=clock), TTL),
            PRODUCT,
            RACES,
            seed=3,
        )
        > 0
    )


def test_racing_writers_leave_write_through_stale_but_not_delete_on_write(clocked_shop):
    clock = clocked_shop.clock
    for strategy_class, stale in ((WriteThrough, True), (DeleteOnWrite, False)):
        strategy = strategy_class(clocked_shop, MemoryCache(clock=clock), ttl=TTL)
        actors = {
            "writer 1": strategy.write_steps(PRODUCT, lambda shop: shop.set_price(PRODUCT, 100)),
            "writer 2": strategy.write_steps(PRODUCT, lambda shop: shop.set_price(PRODUCT, 200)),
        }
        result = interleave(
            strategy, PRODUCT, actors, ["writer 1", "writer 2", "writer 2", "writer 1"]
        )
        assert result.truth["price_cents"] == 200
        assert result.stale is stale


def test_versioned_keys_never_serve_an_older_version(clocked_shop):
    clock = clocked_shop.clock
    """No read returns a generation older than one whose write (database + bump) had finished when
    it
    began.
    """
    rng = random.Random(4)
    finished = {"price": clocked_shop.product(PRODUCT)["price_cents"]}
    seen = []

    def reader(strategy):
        started_after = finished["price"]  # runs together with the reader's first step
        row = yield from strategy.read_steps(PRODUCT)
        seen.append((started_after, row["price_cents"]))
        return row

    def writer(strategy):
        for _ in range(2):  # prices only go up, so an older version has a lower price
            price = strategy.shop.product(PRODUCT)["price_cents"] + 100
            yield from strategy.write_steps(
                PRODUCT, lambda shop, p=price: shop.set_price(PRODUCT, p)
            )
            finished["price"] = price

    cache = MemoryCache(clock=clock)  # shared by every run: old generations stay in it
    for _ in range(300):
        strategy = VersionedKeys(clocked_shop, cache, TTL)
        actors = {f"reader {i}": reader(strategy) for i in range(3)}
        actors["writer"] = writer(strategy)
        assert not interleave(strategy, PRODUCT, actors, rng, record=False).stale
    assert len(seen) == 900
    assert all(served >= started_after for started_after, served in seen)


def test_strategies_rank_as_expected_on_the_same_workload(clocked_shop):
    clock = clocked_shop.clock
    events = make_schedule([1, 2, 3], duration_s=600, read_rate=2, write_rate=1 / 15, seed=5)
    runs = {}
    for strategy_class in (TTLOnly, DeleteOnWrite, WriteThrough, VersionedKeys):
        clock.advance(3600)  # a fresh start: every entry of the previous run has expired
        strategy = strategy_class(clocked_shop, MemoryCache(clock=clock), ttl=TTL)
        runs[strategy_class] = run_workload(clocked_shop, strategy, clock, events)
    assert runs[TTLOnly].stale_fraction > 0.05
    assert runs[DeleteOnWrite].stale_fraction < runs[TTLOnly].stale_fraction
    assert runs[WriteThrough].stale_fraction < runs[TTLOnly].stale_fraction
    assert runs[VersionedKeys].stale_fraction == runs[DeleteOnWrite].stale_fraction == 0.0
    assert runs[WriteThrough].db_loads < runs[DeleteOnWrite].db_loads
    assert runs[TTLOnly].db_loads < runs[DeleteOnWrite].db_loads


def test_a_delete_voids_the_lease(clock):
    leases = LeaseCache(MemoryCache(clock=clock))
    value, token = leases.lease_get("product:1")
    assert value is None and token
    leases.delete("product:1")
    assert not leases.lease_set("product:1", {"old": True}, token, TTL)
    assert leases.get("product:1") is None


def test_a_valid_lease_fills_once(clock):
    leases = LeaseCache(MemoryCache(clock=clock))
    _, token = leases.lease_get("product:1")
    assert leases.lease_set("product:1", {"fresh": True}, token, TTL)
    assert leases.get("product:1") == {"fresh": True}
    assert not leases.lease_set("product:1", {"again": True}, token, TTL)


def test_a_second_reader_gets_no_lease_while_one_is_out(clock):
    leases = LeaseCache(MemoryCache(clock=clock))
    _, first = leases.lease_get("product:1")
    assert leases.lease_get("product:1") == (None, None)
    clock.advance(10)  # leases expire, so a reader that died does not block fills for ever
    _, later = leases.lease_get("product:1")
    assert later and later != first


def test_a_finished_actor_cannot_be_stepped(clocked_shop):
    clock = clocked_shop.clock
    strategy = TTLOnly(clocked_shop, MemoryCache(clock=clock), ttl=TTL)
    with pytest.raises(ValueError, match="already finished"):
        interleave(strategy, PRODUCT, {"reader": strategy.read_steps(PRODUCT)}, ["reader"] * 5)


def test_run_steps_returns_what_the_request_returns(clocked_shop):
    clock = clocked_shop.clock
    strategy = WriteThrough(clocked_shop, MemoryCache(clock=clock), ttl=TTL)
    row = _run_steps(strategy.write_steps(PRODUCT, lambda shop: shop.set_price(PRODUCT, 4321)))
    assert row["price_cents"] == 4321 == strategy.read(PRODUCT)["price_cents"]


def test_every_strategy_needs_a_ttl_backstop(clocked_shop):
    clock = clocked_shop.clock
    with pytest.raises(ValueError, match="ttl"):
        DeleteOnWrite(clocked_shop, MemoryCache(clock=clock), ttl=None)


def test_the_version_counter_must_outlive_the_entries(clocked_shop):
    clock = clocked_shop.clock
    with pytest.raises(ValueError, match="version_ttl"):
        VersionedKeys(clocked_shop, MemoryCache(clock=clock), ttl=TTL, version_ttl=TTL)


# --- versioned keys: a lost version key, a bad one -----------------------------------------------


def test_a_lost_version_key_starts_a_generation_no_old_row_was_stored_under(clocked_shop):
    """Evicted or lost in a restart, the version key must not bring back an old generation."""
    cache = MemoryCache(clock=clocked_shop.clock)
    pages = VersionedKeys(clocked_shop, cache, TTL)
    counter = keys._version_counter(keys.product(PRODUCT))
    used = []
    for price in (1_000, 2_000, 3_000):
        pages.read(PRODUCT)
        used.append(pages.version(PRODUCT))
        pages.set_price(PRODUCT, price)
    old = clocked_shop.product(PRODUCT) | {"price_cents": 1}
    for version in [*used, *range(10)]:  # an old row under every generation used, and 0..9
        cache.set(keys.versioned(keys.product(PRODUCT), version), old, TTL)
    cache.delete(counter)  # evicted
    pages.set_price(PRODUCT, 4_000)
    assert [pages.read(PRODUCT)["price_cents"] for _ in range(3)] == [4_000] * 3
    assert pages.version(PRODUCT) not in [*used, *range(10)]


def test_readers_that_find_no_generation_agree_on_one(clocked_shop, redis_cache):
    first = VersionedKeys(clocked_shop, redis_cache, TTL)
    second = VersionedKeys(clocked_shop, redis_cache, TTL)
    assert first.version(PRODUCT) == second.version(PRODUCT) == first.version(PRODUCT)
    first.read(PRODUCT)
    assert second.cached(PRODUCT) == clocked_shop.product(PRODUCT), "one generation, one fill"


@pytest.mark.parametrize("kind", ["MemoryCache", "RedisCache"])
@pytest.mark.parametrize("foreign", ["not a number", -3, 2.5, [1]])
def test_a_bad_version_key_never_fails_a_write_that_committed(
    clocked_shop, redis_cache, kind, foreign
):
    """A caller that retries a failed sell must not sell twice: the write returns once committed."""
    cache = MemoryCache(clock=clocked_shop.clock) if kind == "MemoryCache" else redis_cache
    pages = VersionedKeys(clocked_shop, cache, TTL)
    counter = keys._version_counter(keys.product(PRODUCT))
    cache.set(counter, foreign)
    stock = clocked_shop.product(PRODUCT)["stock"]
    for _attempt in range(2):  # a caller that retries a sale that raised
        try:
            pages.sell(PRODUCT, 1)
            break
        except Exception:
            continue
    assert clocked_shop.product(PRODUCT)["stock"] == stock - 1, "sold once"
    assert pages.read(PRODUCT) == clocked_shop.product(PRODUCT), "the write removed the bad key"
    cache.set(counter, foreign)
    with pytest.raises(CacheKeyError, match="holds .* not a generation"):
        pages.read(PRODUCT)  # a read names the bad key (and has written nothing)


def test_a_write_whose_cache_is_down_returns_its_row_and_owes_the_delete(
    clocked_shop, stoppable_redis, test_prefix
):
    """Even without fail-open: the database committed, so the write succeeded."""
    cache = RedisCache(stoppable_redis.client(), prefix=test_prefix, fail_open=False)
    pages = DeleteOnWrite(clocked_shop, cache, TTL)
    pages.read(PRODUCT)
    stoppable_redis.stop()
    row = pages.set_price(PRODUCT, 4_321)
    assert row == clocked_shop.product(PRODUCT) and row["price_cents"] == 4_321
    assert cache.pending_deletes() == 1
