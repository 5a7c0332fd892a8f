"""The slider dashboards compute, draw and react without a browser: lesson 07's
(``cachelab.show.ttl_dashboard``) and lesson 08's (``cachelab.show.xfetch_dashboard``).

(The browser tests, tests/test_browser_widgets.py and tests/test_browser_dashboard.py, move the
real sliders in JupyterLab and in Voila.)
"""

from __future__ import annotations

import io

import numpy as np
import PIL.Image
import pytest

from cachelab.lab.sim import Invalidation, model, simulate
from cachelab.show import ttl_dashboard as dashboard_module
from cachelab.show.ttl_dashboard import (
    CURVE_TTLS_S,
    Settings,
    _compute,
    _DashboardPlot,
    _slider_move,
    _summary,
    plot_curves,
    ttl_dashboard,
)
from cachelab.show.xfetch_dashboard import (
    _plot_xfetch,
    _simulate_xfetch,
    _xfetch_summary,
    xfetch_dashboard,
)


@pytest.fixture(scope="module")
def default_frame():
    return _compute(Settings())


def test_a_frame_simulates_every_curve_ttl_and_the_current_one(default_frame):
    assert default_frame.sim_ttls == list(CURVE_TTLS_S)
    assert len(default_frame.sim) == len(CURVE_TTLS_S)
    assert default_frame.current_sim.reads > 0
    assert default_frame.current_model == model(5.0, 1.0, 0.1)


def test_the_dashboard_dots_sit_near_the_model_lines(default_frame):
    s = default_frame.settings
    for ttl, outcome in zip(default_frame.sim_ttls, default_frame.sim):
        expected = model(ttl, s.read_rate, s.write_rate, strategy=s.strategy)
        assert outcome.hit_ratio == pytest.approx(expected.hit_ratio, abs=0.03)
        assert outcome.stale_fraction == pytest.approx(expected.stale_fraction, abs=0.03)
        assert outcome.db_loads_per_s == pytest.approx(expected.db_loads_per_s, rel=0.1)


def test_model_lines_show_the_trade_off(default_frame):
    ttl_only = default_frame.model[Invalidation.TTL_ONLY]
    assert (ttl_only["hit_ratio"][1:] > ttl_only["hit_ratio"][:-1]).all()
    assert (ttl_only["stale_fraction"][1:] >= ttl_only["stale_fraction"][:-1]).all()
    assert (ttl_only["db_loads_per_s"][1:] < ttl_only["db_loads_per_s"][:-1]).all()
    assert (default_frame.model[Invalidation.DELETE_ON_WRITE]["stale_fraction"] == 0).all()


def test_the_summary_names_the_ttl_and_changes_with_it(default_frame):
    text = _summary(default_frame)
    assert text.startswith("TTL 5 s, TTL only: hit ratio")
    assert _summary(_compute(Settings(ttl=10))) != text


def test_budgets_mark_the_summary():
    frame = _compute(Settings(ttl=30), stale_budget=0.05, db_load_budget=1.0)
    assert "❌ stale ≤ 5.0%" in _summary(frame) and "✅ loads ≤ 1/s" in _summary(frame)


def test_model_only_frames_put_the_dots_on_the_model():
    frame = _compute(Settings(ttl=2), model_only=True)
    assert frame.current_sim == frame.current_model
    assert frame.sim[0] == model(CURVE_TTLS_S[0], 1.0, 0.1)


def test_a_slider_move_renders_a_png():
    plot = _DashboardPlot()
    frame, png = _slider_move(plot, Settings(ttl=2, strategy=Invalidation.DELETE_ON_WRITE))
    assert png.startswith(b"\x89PNG")
    width, height = PIL.Image.open(io.BytesIO(png)).size
    assert (width, height) == tuple(int(v) for v in plot.figure.bbox.size)
    assert frame.current_sim.stale_fraction == 0


def test_blitting_leaves_no_trace_of_the_previous_move():
    plot = _DashboardPlot()
    first, other = (
        _compute(Settings(ttl=1)),
        _compute(Settings(ttl=20, read_rate=5, strategy=Invalidation.DELETE_ON_WRITE)),
    )
    before = plot.render(first)
    plot.render(other)
    assert plot.render(first) == before


def test_a_budget_appears_in_the_picture_and_goes_again():
    plot = _DashboardPlot()
    plain = plot.render(_compute(Settings(), model_only=True))
    with_budget = plot.render(_compute(Settings(), model_only=True, stale_budget=0.1))
    assert with_budget != plain
    assert plot.render(_compute(Settings(), model_only=True)) == plain


def test_the_static_figure_has_three_panels_and_a_title():
    figure = plot_curves(ttl=10, read_rate=2)
    assert [ax.get_title() for ax in figure.axes] == [
        "hit ratio",
        "stale-read fraction",
        "database loads per second",
    ]
    assert "2 reads/s" in figure.texts[0].get_text()


def test_the_dashboard_carries_the_browser_tests_css_classes():
    dashboard = ttl_dashboard()
    assert "cachelab-ttl-slider" in dashboard.ttl_slider._dom_classes
    assert "cachelab-summary" in dashboard.summary._dom_classes
    assert "cachelab-read-rate-slider" in dashboard.read_rate_slider._dom_classes
    assert "cachelab-write-rate-slider" in dashboard.write_rate_slider._dom_classes
    assert "cachelab-dashboard-plot" in dashboard.image._dom_classes


def _legend_styles(plot: _DashboardPlot) -> dict[str, tuple]:
    return {
        handle.get_label(): (handle.get_linestyle(), handle.get_linewidth(), handle.get_alpha())
        for handle in plot.legend.legend_handles
    }


@pytest.mark.parametrize("chosen", list(Invalidation))
def test_the_legend_draws_each_strategy_as_its_lines_are_drawn(chosen):
    plot = _DashboardPlot()
    plot.update(_compute(Settings(strategy=chosen), model_only=True))
    legend = _legend_styles(plot)
    for strategy in Invalidation:
        for metric in ("hit_ratio", "stale_fraction", "db_loads_per_s"):
            line = plot.lines[metric, strategy]
            drawn = (line.get_linestyle(), line.get_linewidth(), line.get_alpha())
            assert legend[f"model, {strategy.label}"] == drawn, (strategy, metric)
    assert legend[f"model, {chosen.label}"][0] == "-"  # the chosen one is solid


def test_switching_the_strategy_redraws_the_legend_in_the_picture():
    """A plot switched to delete-on-write looks exactly like one that started there: the legend,
    which is part of the kept background, is redrawn with the strategy."""
    switched, fresh = _DashboardPlot(), _DashboardPlot()
    switched.render(_compute(Settings(strategy=Invalidation.TTL_ONLY), model_only=True))
    after = _compute(Settings(strategy=Invalidation.DELETE_ON_WRITE), model_only=True)
    assert switched.render(after) == fresh.render(after)


def test_moving_only_the_ttl_simulates_only_the_current_ttl(monkeypatch):
    """The curve's dots depend on the rates and the strategy, not on the TTL slider: a TTL move
    runs one simulation (the current TTL), and its dots are those a fresh simulation gives."""
    dashboard_module._forget_simulations()
    calls = []
    monkeypatch.setattr(
        dashboard_module, "simulate", lambda *a, **k: calls.append(a) or simulate(*a, **k)
    )
    first = _compute(Settings(ttl=2, read_rate=2, write_rate=0.05))
    assert len(calls) == len(CURVE_TTLS_S) + 1 and first.curve_simulated
    calls.clear()
    second = _compute(Settings(ttl=20, read_rate=2, write_rate=0.05))
    assert [a[0] for a in calls] == [20] and not second.curve_simulated
    assert second.sim == first.sim
    calls.clear()
    _compute(Settings(ttl=20, read_rate=5, write_rate=0.05))
    assert len(calls) == len(CURVE_TTLS_S) + 1  # new rates: a new curve


def test_the_kept_curve_is_the_curve_a_fresh_simulation_gives():
    dashboard_module._forget_simulations()
    frame = _compute(
        Settings(ttl=3, read_rate=5, write_rate=0.2, strategy=Invalidation.DELETE_ON_WRITE)
    )
    again = _compute(
        Settings(ttl=3, read_rate=5, write_rate=0.2, strategy=Invalidation.DELETE_ON_WRITE)
    )
    assert frame.curve_simulated and not again.curve_simulated
    assert again.sim == frame.sim
    durations, _ = dashboard_module._durations(
        frame.settings, CURVE_TTLS_S, dashboard_module._EVENTS_PER_MOVE
    )
    assert frame.sim[2] == simulate(
        CURVE_TTLS_S[2], 5, 0.2, durations[2], Invalidation.DELETE_ON_WRITE, 0
    )


def test_neighbours_are_one_slider_step_either_way_or_the_other_strategy():
    assert dashboard_module.neighbours(Settings(ttl=5, read_rate=1, write_rate=0.1)) == [
        Settings(10, 1, 0.1),
        Settings(3, 1, 0.1),
        Settings(5, 2, 0.1),
        Settings(5, 0.5, 0.1),
        Settings(5, 1, 0.2),
        Settings(5, 1, 0.05),
        Settings(5, 1, 0.1, Invalidation.DELETE_ON_WRITE),
    ]
    ends = dashboard_module.neighbours(Settings(ttl=30, read_rate=10, write_rate=0))
    assert [(n.ttl, n.read_rate, n.write_rate) for n in ends] == [
        (20, 10, 0),
        (30, 5, 0),
        (30, 10, 0.01),
        (30, 10, 0),  # the other strategy
    ]


def test_the_slider_that_just_moved_comes_first_one_more_step_the_same_way():
    here = Settings(ttl=5, read_rate=1, write_rate=0.1)
    down = dashboard_module.neighbours(here, previous=Settings(ttl=5, read_rate=2, write_rate=0.1))
    assert down[:2] == [Settings(5, 0.5, 0.1), Settings(5, 2, 0.1)]
    up = dashboard_module.neighbours(here, previous=Settings(ttl=5, read_rate=1, write_rate=0.05))
    assert up[:2] == [Settings(5, 1, 0.2), Settings(5, 1, 0.05)]
    assert sorted(map(repr, down)) == sorted(
        map(repr, dashboard_module.neighbours(here))
    )  # same set


def test_the_prefetcher_has_the_next_rate_steps_curve_ready_and_it_is_the_same_curve():
    dashboard_module._forget_simulations()
    dashboard = ttl_dashboard(ttl=5, read_rate=1, write_rate=0.1, prefetch=True)
    assert dashboard.prefetcher.wait(timeout_s=120)
    # Every neighbour's curve points and current point are kept (a TTL step shares this curve).
    for near in dashboard_module.neighbours(dashboard.settings):
        points = dashboard_module._curve_points(
            near, CURVE_TTLS_S, dashboard_module._EVENTS_PER_MOVE
        )
        points.append(
            dashboard_module._current_point(near, CURVE_TTLS_S, dashboard_module._EVENTS_PER_MOVE)
        )
        for ttl, duration in points:
            key = (ttl, near.read_rate, near.write_rate, duration, near.strategy, 0)
            assert key in dashboard_module._kept, near
    assert dashboard.prefetcher.simulated_points > 4 * len(CURVE_TTLS_S)
    step = Settings(5, 2, 0.1)
    ttl, duration = dashboard_module._current_point(
        step, CURVE_TTLS_S, dashboard_module._EVENTS_PER_MOVE
    )
    assert (
        ttl,
        2,
        0.1,
        duration,
        Invalidation.TTL_ONLY,
        0,
    ) in dashboard_module._kept  # its current point too
    dashboard.read_rate_slider.value = 2.0
    assert dashboard.settings == step and not dashboard.frame.curve_simulated
    assert dashboard.prefetcher.wait(timeout_s=120)
    dashboard_module._forget_simulations()
    assert _compute(dashboard.settings).sim == dashboard.frame.sim  # what a fresh move computes


def test_outside_a_notebook_kernel_the_dashboard_does_not_prefetch():
    assert ttl_dashboard().prefetcher is None


def test_a_move_shows_a_new_png_and_records_what_it_cost():
    dashboard_module._forget_simulations()
    dashboard = ttl_dashboard(ttl=5)
    before = bytes(dashboard.image.value)
    assert before.startswith(b"\x89PNG")
    dashboard.read_rate_slider.value = 5.0
    after = bytes(dashboard.image.value)
    assert after.startswith(b"\x89PNG") and after != before
    last = dashboard.move_timings[-1]
    assert last["png_bytes"] == len(after)
    assert last["total_s"] >= last["compute_s"] + last["draw_s"] + last["encode_s"] > 0
    assert last["curve_simulated"] == 1.0


def test_moving_the_ttl_slider_updates_the_frame_and_the_summary():
    dashboard = ttl_dashboard(ttl=5)
    before = dashboard.summary.value
    dashboard.ttl_slider.value = 20.0
    assert dashboard.frame.settings.ttl == 20.0
    assert dashboard.summary.value != before and dashboard.summary.value.startswith("TTL 20 s")


def test_the_strategy_dropdown_switches_the_simulation():
    dashboard = ttl_dashboard(ttl=10)
    dashboard.strategy_dropdown.value = Invalidation.DELETE_ON_WRITE
    assert dashboard.frame.current_sim.stale_fraction == 0
    assert "delete-on-write" in dashboard.summary.value


def test_rates_snap_to_the_nearest_slider_position():
    dashboard = ttl_dashboard(ttl=7, read_rate=1.8, write_rate=0.09)
    assert dashboard.settings == Settings(
        ttl=5.0, read_rate=2.0, write_rate=0.1, strategy=Invalidation.TTL_ONLY
    )


def test_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="strategy"):
        ttl_dashboard(strategy="write_through")


def test_the_dashboards_png_decodes_to_exactly_the_pixels_drawn():
    plot = _DashboardPlot()
    png = plot.render(_compute(Settings(ttl=2), model_only=True))
    drawn = np.asarray(plot.canvas.buffer_rgba())[..., :3]
    assert (np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB")) == drawn).all()
    assert len(png) < drawn.nbytes / 5  # compressed: it travels to the browser on every move


def test_a_ttl_move_draws_only_the_ttl_layer_and_looks_like_a_fresh_drawing(monkeypatch):
    plot = _DashboardPlot()
    plot.render(_compute(Settings(ttl=1, read_rate=2)))
    drawn = []
    for ax in plot.axes:
        monkeypatch.setattr(
            ax,
            "draw_artist",
            lambda artist, draw=ax.draw_artist: drawn.append(artist) or draw(artist),
        )
    frame = _compute(Settings(ttl=10, read_rate=2))
    png = plot.render(frame)
    ttl_layer = {
        plot.lines[name, part]
        for name, _, _ in dashboard_module.METRICS
        for part in ("vline", "current")
    }
    assert set(drawn) == ttl_layer  # the model lines and dots came from the kept layer
    assert png == _DashboardPlot().render(frame)  # ... and the picture is the same as drawn afresh
    drawn.clear()
    plot.render(_compute(Settings(ttl=10, read_rate=5)))  # new rates: the rate layer is redrawn
    assert plot.lines["hit_ratio", "sim"] in drawn


# Lesson 08's dashboard: XFetch with beta on a slider. A small delta and few lives keep them quick.
XFETCH = dict(delta_s=0.01, lives=100)


def test_the_xfetch_dashboard_carries_the_browser_tests_css_classes():
    dashboard = xfetch_dashboard(**XFETCH)
    assert "cachelab-beta-slider" in dashboard.slider._dom_classes
    assert "cachelab-beta-summary" in dashboard.summary._dom_classes
    assert "cachelab-beta-plot" in dashboard.image._dom_classes


def test_moving_beta_reruns_early_refresh_and_redraws_the_summary_and_the_picture():
    dashboard = xfetch_dashboard(**XFETCH)
    before_run, before_summary = dashboard.run, dashboard.summary.value
    before_png = bytes(dashboard.image.value)
    assert before_run.beta == 1.0 and before_summary.startswith("β = 1.00:")
    assert before_png.startswith(b"\x89PNG")
    dashboard.slider.value = 2.0
    assert dashboard.run.beta == 2.0 and dashboard.summary.value.startswith("β = 2.00:")
    assert bytes(dashboard.image.value) != before_png
    # a larger beta looks further ahead: refreshes come earlier
    assert dashboard.run.median_refresh_gap_s > before_run.median_refresh_gap_s


def test_the_dashboard_runs_the_lessons_ratios_to_delta():
    run = xfetch_dashboard(delta_s=0.02, reads_per_delta=3, ttl_in_deltas=10, lives=50).run
    assert (run.delta_s, run.reads.read_rate, run.reads.ttl, run.cycles) == pytest.approx(
        (0.02, 150, 0.2, 50)
    )


def test_the_xfetch_figure_draws_each_measure_beside_its_formula():
    run = _simulate_xfetch(1.0, **XFETCH)
    left, right = _plot_xfetch(run).axes
    assert [line.get_label() for line in left.get_lines()] == [
        "formula e^(−g/Δβ)",
        "measured (bins of ≥ 20 reads)",
    ]
    assert [line.get_label() for line in right.get_lines()] == ["formula", "measured (100 lives)"]
    assert _xfetch_summary(run).startswith("β = 1.00: the median refresh comes ")


def test_a_bad_delta_is_refused_before_anything_is_built():
    with pytest.raises(ValueError, match="delta_s"):
        xfetch_dashboard(delta_s=0)
