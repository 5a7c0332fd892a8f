"""cachelab.lab.sim: the simulation of the real MemoryCache agrees with the closed-form model.

The agreement tests run each point for 40,000 cache cycles (a miss, then hits
until the entry ends), which puts the simulation within about 2 % of the model;
the assertion allows 3 %. They are seeded, so they are deterministic, not flaky.
"""

from __future__ import annotations

import itertools
import math

import pytest

from cachelab.lab.sim import CacheOutcome, Invalidation, _VersionedDatabase, model, simulate
from cachelab.lab.workload import popularity

CYCLES = 40_000
METRICS = ("hit_ratio", "stale_fraction", "db_loads_per_s")
GRID = list(
    itertools.product((0.5, 4.0), (0.2, 1.0), (1.0, 4.0))
)  # read rate λ, write rate μ, TTL T


def _duration_for(
    ttl: float, read_rate: float, write_rate: float, strategy: Invalidation, cycles: int = CYCLES
) -> float:
    """Long enough for ``cycles`` cache cycles: an entry lives T (or min(T, next write)), then waits
    ~1/λ.
    """
    lifetime = (
        ttl if strategy == Invalidation.TTL_ONLY else -math.expm1(-write_rate * ttl) / write_rate
    )
    return cycles * (lifetime + 1 / read_rate)


def _relative_error(simulated: float, modelled: float) -> float:
    return abs(simulated / modelled - 1) if modelled else abs(simulated)


@pytest.mark.parametrize("strategy", list(Invalidation))
@pytest.mark.parametrize("read_rate,write_rate,ttl", GRID)
def test_simulation_agrees_with_the_closed_form_within_3_percent(
    read_rate, write_rate, ttl, strategy
):
    duration = _duration_for(ttl, read_rate, write_rate, strategy)
    simulated = simulate(ttl, read_rate, write_rate, duration, strategy, seed=1)
    modelled = model(ttl, read_rate, write_rate, strategy=strategy)
    for metric in METRICS:
        error = _relative_error(getattr(simulated, metric), getattr(modelled, metric))
        assert error < 0.03, (
            f"{metric}: simulated {getattr(simulated, metric):.4f}, model "
            f"{getattr(modelled, metric):.4f}"
        )


def test_many_zipf_keys_agree_with_the_summed_single_key_models():
    args = dict(ttl=2.0, read_rate=20.0, write_rate=2.0, key_count=50, zipf_exponent=1.0)
    simulated = simulate(duration_s=20_000, seed=3, **args)
    modelled = model(**args)
    for metric in METRICS:
        assert _relative_error(getattr(simulated, metric), getattr(modelled, metric)) < 0.03, metric


def test_many_keys_hit_less_than_one_key_with_the_same_total_reads():
    one = model(2.0, 20.0, 2.0)
    many = model(2.0, 20.0, 2.0, key_count=50)
    assert many.hit_ratio < one.hit_ratio
    assert many.db_loads_per_s > one.db_loads_per_s


def test_model_formulas_for_one_key():
    lam, mu, T = 2.0, 0.1, 10.0
    m = model(T, lam, mu)
    assert m.hit_ratio == pytest.approx(lam * T / (1 + lam * T))
    assert m.stale_fraction == pytest.approx(
        lam * (T - (1 - math.exp(-mu * T)) / mu) / (1 + lam * T)
    )
    assert m.db_loads_per_s == pytest.approx(lam / (1 + lam * T))


def test_model_without_writes_is_never_stale():
    assert model(10, 2, 0).stale_fraction == 0
    assert model(10, 2, 0, strategy=Invalidation.DELETE_ON_WRITE).hit_ratio == pytest.approx(
        model(10, 2, 0).hit_ratio
    )


def test_simulation_without_writes_is_never_stale():
    outcome = simulate(5, 2, 0, duration_s=1_000)
    assert outcome.stale_reads == 0 and outcome.writes == 0 and outcome.hit_ratio > 0.8


@pytest.mark.parametrize("ttl", [1.0, 5.0, 20.0])
def test_delete_on_write_is_less_stale_than_ttl_only_at_the_same_ttl(ttl):
    ttl_only = simulate(ttl, 2, 0.2, duration_s=5_000, strategy=Invalidation.TTL_ONLY)
    deleting = simulate(ttl, 2, 0.2, duration_s=5_000, strategy=Invalidation.DELETE_ON_WRITE)
    assert deleting.stale_fraction < ttl_only.stale_fraction
    assert deleting.stale_fraction == 0  # one process: a delete cannot race a fill
    assert deleting.hit_ratio <= ttl_only.hit_ratio  # the price: every write costs a miss
    assert deleting.db_loads_per_s >= ttl_only.db_loads_per_s


def test_longer_ttls_trade_staleness_for_fewer_database_loads():
    outcomes = [model(t, 1, 0.1) for t in (0.5, 2, 8, 30)]
    for shorter, longer in zip(outcomes, outcomes[1:]):
        assert longer.hit_ratio > shorter.hit_ratio
        assert longer.stale_fraction > shorter.stale_fraction
        assert longer.db_loads_per_s < shorter.db_loads_per_s


def test_same_seed_gives_the_same_outcome_and_another_seed_does_not():
    first = simulate(3, 2, 0.3, duration_s=2_000, seed=7)
    assert simulate(3, 2, 0.3, duration_s=2_000, seed=7) == first
    assert simulate(3, 2, 0.3, duration_s=2_000, seed=8) != first


def test_counts_add_up():
    outcome = simulate(3, 2, 0.3, duration_s=2_000, seed=7)
    assert isinstance(outcome, CacheOutcome)
    assert outcome.hit_ratio == pytest.approx(1 - outcome.db_loads / outcome.reads)
    assert outcome.db_loads_per_s == pytest.approx(outcome.db_loads / 2_000)
    assert outcome.stale_fraction == pytest.approx(outcome.stale_reads / outcome.reads)


def test_outcome_is_frozen():
    with pytest.raises(AttributeError):
        model(1, 1, 1).hit_ratio = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        (dict(ttl=0), "ttl"),
        (dict(ttl=-5), "ttl"),
        (dict(ttl=float("nan")), "ttl"),
        (dict(read_rate=-1), "read_rate"),
        (dict(write_rate=-0.1), "write_rate"),
        (dict(strategy="write_through"), "strategy"),
        (dict(duration_s=0), "duration_s"),
        (dict(duration_s=-10), "duration_s"),
        (dict(key_count=0), "key_count"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(kwargs, argument):
    args = dict(ttl=1.0, read_rate=1.0, write_rate=0.1, duration_s=100.0) | kwargs
    with pytest.raises(ValueError, match=argument):
        simulate(**args)
    if argument != "duration_s":
        args.pop("duration_s")
        with pytest.raises(ValueError, match=argument):
            model(**args)


def test_a_huge_simulation_is_refused_with_advice():
    with pytest.raises(ValueError, match="shorter duration"):
        simulate(1, 1_000, 0, duration_s=1e6)


def test_a_ttl_that_is_not_a_number_is_a_type_error():
    with pytest.raises(TypeError, match="ttl"):
        simulate("10", 1, 0.1, duration_s=100)  # type: ignore[arg-type]


def test_the_versioned_database_counts_loads_not_version_checks():
    database = _VersionedDatabase(key_count=2)
    database.write(1)
    assert database.version(1) == 1 and database.loads == 0
    assert database.load(1) == 1 and database.loads == 1


def test_zipf_popularity_sums_to_one_and_falls_with_rank():
    shares = popularity(100, zipf_exponent=1.0)
    assert shares.sum() == pytest.approx(1.0)
    assert shares[0] == pytest.approx(2 * shares[1])
    assert popularity(4, zipf_exponent=0).tolist() == [0.25] * 4


def test_a_strategy_may_be_given_as_its_string_and_means_the_same():
    named = simulate(2, 2, 0.2, duration_s=500, strategy=Invalidation.DELETE_ON_WRITE)
    assert simulate(2, 2, 0.2, duration_s=500, strategy="delete_on_write") == named
    assert model(2, 2, 0.2, strategy="delete_on_write") == model(
        2, 2, 0.2, strategy=Invalidation.DELETE_ON_WRITE
    )
