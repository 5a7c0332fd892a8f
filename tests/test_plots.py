"""cachelab.show.plots: each figure labels its axes and tells its series apart without colour.

The figures are drawn from real runs where a run is cheap (the warm-up simulation, a sweep of a
trivial request) and from plain records otherwise; matplotlib draws them with its Agg backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from cachelab.lab.burst import SimulatedReads  # noqa: E402
from cachelab.lab.loadtest import sweep_users  # noqa: E402
from cachelab.show.plots import (  # noqa: E402
    plot_latencies,
    plot_latency_histograms,
    plot_load_by_users,
    plot_protection_runs,
    plot_rate_sweeps,
    plot_strategy_runs,
    plot_warm_up,
)


@dataclass
class _StrategyRun:
    stale_fraction: float
    hit_ratio: float
    db_loads: int


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _every_axes_is_labelled(figure) -> None:
    for axes in figure.axes:
        assert axes.get_xlabel(), f"{axes.get_title()!r} has no x label"
        assert axes.get_title(), "every panel has a title"


def test_latencies_mark_the_median_and_the_p95_in_two_line_styles():
    figure = plot_latencies([0.010, 0.011, 0.012, 0.013, 0.050], title="five requests")
    _every_axes_is_labelled(figure)
    marks = [
        line for line in figure.axes[0].lines if line.get_label().startswith(("median", "p95"))
    ]
    assert [line.get_label() for line in marks] == ["median 12.0 ms", "p95 42.6 ms"]
    assert len({line.get_linestyle() for line in marks}) == 2
    assert figure.axes[0].get_ylabel() == "latency (ms)"


def test_load_by_users_draws_a_run_per_user_count_and_the_cpu_ceiling():
    runs = sweep_users(lambda: lambda: sum(range(100)), [1, 2], 20, progress=False)
    figure = plot_load_by_users(runs, cores=2, cpu_per_request_s=1e-5, title="a trivial request")
    _every_axes_is_labelled(figure)
    throughput, latency = figure.axes
    assert [list(line.get_xdata()) for line in throughput.lines] == [[1, 2], [1, 2]]
    assert list(throughput.lines[1].get_ydata()) == pytest.approx([1e5, 2e5])  # min(u, 2) / 1e-5
    assert len({line.get_linestyle() for line in latency.lines}) == 2, "median and p95 differ"


def test_strategy_runs_give_each_strategy_its_own_hatching_in_every_panel():
    runs = {
        "TTL only": _StrategyRun(0.3, 0.97, 12),
        "delete-on-write": _StrategyRun(0.01, 0.95, 20),
        "write-through": _StrategyRun(0.02, 0.96, 15),
    }
    figure = plot_strategy_runs(runs, title="three strategies")
    _every_axes_is_labelled(figure)
    for axes in figure.axes:
        hatches = [bar.get_hatch() for bar in axes.patches]
        assert len(set(hatches)) == len(runs), axes.get_title()
    loads = figure.axes[2]
    assert [bar.get_width() for bar in loads.patches] == [12, 20, 15]


def test_warm_up_draws_each_run_in_its_own_line_style():
    reads = SimulatedReads(read_rate=50, ttl=20)
    runs = {
        "one TTL": reads.warm_up(key_count=50, duration_s=60),
        "TTL ± 10 %": reads.warm_up(key_count=50, spread=0.1, duration_s=60),
    }
    figure = plot_warm_up(runs)
    _every_axes_is_labelled(figure)
    expiries, loads = figure.axes
    assert [line.get_label() for line in loads.lines] == list(runs)
    assert len({line.get_linestyle() for line in loads.lines}) == 2
    assert sum(patch.get_height() for patch in expiries.patches) == 2 * 50, "every key, both runs"


def test_latency_histograms_share_their_bins_and_differ_in_hatching():
    samples_s = {"alone": [0.010, 0.011, 0.012], "busy": [0.020, 0.035, 0.050]}
    figure = plot_latency_histograms(samples_s, title="alone and busy")
    _every_axes_is_labelled(figure)
    axes = figure.axes[0]
    assert sum(patch.get_height() for patch in axes.patches) == 6
    alone, busy = axes.patches[:40], axes.patches[40:]
    assert [p.get_x() for p in alone] == [p.get_x() for p in busy], "the same bins"
    assert {p.get_hatch() for p in alone} != {p.get_hatch() for p in busy}


@dataclass
class _BurstRun:
    label: str
    loads_per_expiry: float
    p95_s: float
    max_stale_s: float


def test_protection_runs_give_each_protection_its_own_hatching_in_every_panel():
    runs = {
        "none": _BurstRun("no protection", 6, 0.040, 0.0),
        "single_flight": _BurstRun("single flight", 1, 0.030, 0.0),
        "stale_while_revalidate": _BurstRun("stale-while-revalidate", 1, 0.002, 0.012),
    }
    figure = plot_protection_runs(runs, title="one burst")
    _every_axes_is_labelled(figure)
    for axes in figure.axes:
        assert len({bar.get_hatch() for bar in axes.patches}) == len(runs), axes.get_title()
    assert [bar.get_width() for bar in figure.axes[1].patches] == pytest.approx([40, 30, 2])


@dataclass
class _LoadRun:
    rate_per_s: float
    ok: int
    median_s: float
    p95_s: float
    p99_s: float
    throughput_per_s: float
    error_fraction: float
    db_queries_per_s: float


def _sweep(slowdown: float, queries: float) -> list[_LoadRun]:
    return [
        _LoadRun(rate, 20, 0.01 * slowdown, 0.02 * slowdown, 0.03 * slowdown, rate, 0.0, queries)
        for rate in (10, 20, 40)
    ]


def test_rate_sweeps_draw_each_sweep_in_its_own_style_in_all_four_panels():
    sweeps = {"none": _sweep(3, 40.0), "redis": _sweep(1, 0.1)}
    figure = plot_rate_sweeps(sweeps, ceiling_per_s=25, p95_budget_s=0.05, title="two modes")
    _every_axes_is_labelled(figure)
    for axes in figure.axes:
        mode_lines = [line for line in axes.lines if line.get_label() in sweeps]
        assert [line.get_label() for line in mode_lines] == list(sweeps), axes.get_title()
        assert len({(line.get_linestyle(), line.get_marker()) for line in mode_lines}) == 2
    latency = figure.axes[0]
    assert list(latency.lines[0].get_ydata()) == pytest.approx([60, 60, 60])  # p95 in ms
    colours = {"none": "#000000", "redis": "#D55E00"}
    again = plot_rate_sweeps(sweeps, ceiling_per_s=25, p95_budget_s=0.05, colours=colours)
    assert [line.get_color() for line in again.axes[1].lines[:2]] == ["#000000", "#D55E00"]
