"""cachelab.lab.staleness: stale reads are counted exactly, aged correctly, and replayed
deterministically.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest

from cachelab import keys
from cachelab.cache import MemoryCache
from cachelab.lab.staleness import (
    Read,
    _Event,
    _stale_fraction,
    make_schedule,
    plot_served_prices,
    plot_timeline,
    run_workload,
    stale_age,
)
from cachelab.shop.app import Shop

TTL = 30.0


class CacheAsidePages:
    """Product pages read through a cache with a TTL; writes go to the database only."""

    def __init__(self, shop, cache):
        self.shop, self.cache = shop, cache

    def read(self, product_id):
        return self.cache.get_or_load(
            keys.product(product_id), lambda: self.shop.product(product_id), TTL
        )

    def set_price(self, product_id, price_cents):
        return self.shop.set_price(product_id, price_cents)

    def sell(self, product_id, quantity):
        return self.shop.sell(product_id, quantity)


def replay(shop, seed=3):
    """Replay a seeded schedule on ``shop``, whose clock (a FakeClock) the pages' cache shares."""
    events = make_schedule([1, 2, 3], duration_s=300, read_rate=2, write_rate=1 / 15, seed=seed)
    return run_workload(
        shop, CacheAsidePages(shop, MemoryCache(clock=shop.clock)), shop.clock, events
    )


def test_stale_fraction_of_no_reads_is_zero():
    assert _stale_fraction([]) == 0.0


def test_stale_fraction_counts_reads_whose_served_value_differs():
    reads = [
        {"served": 1, "truth": 1},
        {"served": 1, "truth": 2},
        {"served": 2, "truth": 2},
        {"served": 3, "truth": 2},
    ]
    assert _stale_fraction(reads) == 0.5


def test_stale_age_runs_from_the_write_that_replaced_the_served_value():
    history = [(0.0, "a"), (10.0, "b"), (14.0, "c")]
    assert stale_age(20.0, "a", history) == 10.0
    assert stale_age(20.0, "b", history) == 6.0
    assert stale_age(20.0, "c", history) == 0.0


def test_stale_age_ignores_writes_after_the_read():
    assert stale_age(12.0, "b", [(0.0, "a"), (10.0, "b"), (14.0, "c")]) == 0.0


def test_stale_age_rejects_a_value_the_database_never_held():
    with pytest.raises(ValueError, match="never held"):
        stale_age(5.0, "zzz", [(0.0, "a")])


def test_schedule_is_seeded_and_in_time_order():
    one = make_schedule([1, 2], 100, 3, 0.1, seed=7)
    assert one == make_schedule([1, 2], 100, 3, 0.1, seed=7)
    assert one != make_schedule([1, 2], 100, 3, 0.1, seed=8)
    assert [e.t for e in one] == sorted(e.t for e in one)
    assert 200 < sum(e.kind == "read" for e in one) < 400


def test_schedule_rejects_negative_rates():
    with pytest.raises(ValueError, match="write_rate"):
        make_schedule([1], 10, 1, -1)


def test_schedule_draws_its_arrivals_from_the_one_workload_generator():
    from cachelab.lab.workload import is_read, poisson_arrivals

    events = make_schedule([7, 8, 9], duration_s=200, read_rate=3, write_rate=0.2, seed=4)
    times, codes = poisson_arrivals(3, 0.2, 200, key_count=3, zipf_exponent=0.0, seed=4)
    assert [e.t for e in events] == times
    assert [e.kind == "read" for e in events] == [is_read(code) for code in codes]


def test_ttl_only_pages_serve_stale_reads_that_are_never_older_than_the_ttl(clocked_shop):
    run = replay(clocked_shop)
    assert run.stale_reads > 0
    assert 0 < run.max_stale_age_s < TTL
    assert all((r.stale_age_s > 0) == r.stale for r in run.reads)


def test_a_replay_gives_exactly_the_same_figures(shop, tiny_shop_path, tmp_path):
    import shutil

    from cachelab.clock import FakeClock

    figures = []
    for name in ("a.db", "b.db"):
        shutil.copyfile(tiny_shop_path, tmp_path / name)
        figures.append(replay(Shop(tmp_path / name, clock=FakeClock())).summary())
    assert figures[0] == figures[1]


def test_the_first_read_of_each_product_loads_from_the_database(clocked_shop):
    run = replay(clocked_shop)
    first = {}
    for read in run.reads:
        first.setdefault(read.product_id, read)
    assert all(read.loaded for read in first.values())
    assert run.db_loads == sum(r.loaded for r in run.reads)
    assert run.hit_ratio == 1 - run.db_loads / len(run.reads)


def test_a_sale_never_sells_more_than_the_stock(clocked_shop):
    stock = clocked_shop.product(1)["stock"]
    events = [_Event(1.0, "sell", 1, stock + 5), _Event(2.0, "sell", 1, 1), _Event(3.0, "read", 1)]
    clock = clocked_shop.clock
    run = run_workload(
        clocked_shop, CacheAsidePages(clocked_shop, MemoryCache(clock=clock)), clock, events
    )
    assert [w.change for w in run.writes] == [f"sold {stock}"]
    assert run.reads[0].truth["stock"] == 0


def test_the_timeline_draws_every_read_and_write_where_it_happened(clocked_shop):
    run = replay(clocked_shop)
    figure = plot_timeline(run, ttl=TTL)
    top, bottom = figure.axes
    drawn = {points.get_label(): len(points.get_offsets()) for points in top.collections}
    stale = sum(r.stale for r in run.reads)
    assert drawn == {
        "fresh read": len(run.reads) - stale,
        "stale read": stale,
        "miss → database": run.db_loads,
        "write": len(run.writes),
    }
    ages = bottom.collections[0].get_offsets()[:, 1]
    assert sorted(ages.tolist()) == sorted(r.stale_age_s for r in run.reads if r.stale)
    assert bottom.get_ylim() == (0, TTL * 1.25) and bottom.get_ylabel() == "staleness age (s)"


def test_served_prices_step_through_every_read_with_the_expiry_marked():
    served = [(0.1, 1000), (0.5, 1000), (0.9, 1500)]
    figure = plot_served_prices(served, expires_s=0.8)
    (ax,) = figure.axes
    steps = ax.lines[0]
    assert steps.get_drawstyle() == "steps-post" and list(steps.get_ydata()) == [10.0, 10.0, 15.0]
    assert ax.collections[0].get_offsets().tolist() == [[0.1, 10.0], [0.5, 10.0], [0.9, 15.0]]
    expiry = ax.lines[1]
    assert list(expiry.get_xdata()) == [0.8, 0.8] and expiry.get_linestyle() == "--"


def test_read_is_stale_when_any_field_differs():
    read = Read(0.0, 1, {"price_cents": 1, "stock": 1}, {"price_cents": 1, "stock": 0}, False, 1.0)
    assert read.stale
