"""cachelab.widgets: the TTL dashboard computes, draws and reacts without a browser.

(The browser test, tests/test_browser_widgets.py, moves the real slider in JupyterLab.)
"""

from __future__ import annotations

import io

import PIL.Image
import pytest

from cachelab.sim import model
from cachelab.widgets import (
    CURVE_TTLS_S,
    DashboardPlot,
    Settings,
    compute,
    plot_curves,
    slider_move,
    summary,
    ttl_dashboard,
)


@pytest.fixture(scope="module")
def default_frame():
    return compute(Settings())


def test_a_frame_simulates_every_curve_ttl_and_the_current_one(default_frame):
    assert default_frame.sim_ttls == list(CURVE_TTLS_S)
    assert len(default_frame.sim) == len(CURVE_TTLS_S)
    assert default_frame.current_sim.reads > 0
    assert default_frame.current_model == model(5.0, 1.0, 0.1)


def test_the_dashboard_dots_sit_near_the_model_lines(default_frame):
    s = default_frame.settings
    for ttl, outcome in zip(default_frame.sim_ttls, default_frame.sim):
        expected = model(ttl, s.read_rate, s.write_rate, s.strategy)
        assert outcome.hit_ratio == pytest.approx(expected.hit_ratio, abs=0.03)
        assert outcome.stale_fraction == pytest.approx(expected.stale_fraction, abs=0.03)
        assert outcome.db_loads_per_s == pytest.approx(expected.db_loads_per_s, rel=0.1)


def test_model_lines_show_the_trade_off(default_frame):
    ttl_only = default_frame.model["ttl"]
    assert (ttl_only["hit_ratio"][1:] > ttl_only["hit_ratio"][:-1]).all()
    assert (ttl_only["stale_fraction"][1:] >= ttl_only["stale_fraction"][:-1]).all()
    assert (ttl_only["db_loads_per_s"][1:] < ttl_only["db_loads_per_s"][:-1]).all()
    assert (default_frame.model["delete_on_write"]["stale_fraction"] == 0).all()


def test_the_summary_names_the_ttl_and_changes_with_it(default_frame):
    text = summary(default_frame)
    assert text.startswith("TTL 5 s, TTL only: hit ratio")
    assert summary(compute(Settings(ttl=10))) != text


def test_budgets_mark_the_summary():
    frame = compute(Settings(ttl=30), stale_budget=0.05, db_load_budget=1.0)
    assert "❌ stale ≤ 5.0%" in summary(frame) and "✅ loads ≤ 1/s" in summary(frame)


def test_model_only_frames_put_the_dots_on_the_model():
    frame = compute(Settings(ttl=2), model_only=True)
    assert frame.current_sim == frame.current_model
    assert frame.sim[0] == model(CURVE_TTLS_S[0], 1.0, 0.1)


def test_a_slider_move_renders_a_png():
    plot = DashboardPlot()
    frame, png = slider_move(plot, Settings(ttl=2, strategy="delete_on_write"))
    assert png.startswith(b"\x89PNG")
    width, height = PIL.Image.open(io.BytesIO(png)).size
    assert (width, height) == tuple(int(v) for v in plot.figure.bbox.size)
    assert frame.current_sim.stale_fraction == 0


def test_blitting_leaves_no_trace_of_the_previous_move():
    plot = DashboardPlot()
    first, other = (
        compute(Settings(ttl=1)),
        compute(Settings(ttl=20, read_rate=5, strategy="delete_on_write")),
    )
    before = plot.render(first)
    plot.render(other)
    assert plot.render(first) == before


def test_a_budget_appears_in_the_picture_and_goes_again():
    plot = DashboardPlot()
    plain = plot.render(compute(Settings(), model_only=True))
    with_budget = plot.render(compute(Settings(), model_only=True, stale_budget=0.1))
    assert with_budget != plain
    assert plot.render(compute(Settings(), model_only=True)) == plain


def test_the_static_figure_has_three_panels_and_a_title():
    figure = plot_curves(Settings(ttl=10, read_rate=2))
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


def test_moving_the_ttl_slider_updates_the_frame_and_the_summary():
    dashboard = ttl_dashboard(ttl=5)
    before = dashboard.summary.value
    dashboard.ttl_slider.value = 20.0
    assert dashboard.frame.settings.ttl == 20.0
    assert dashboard.summary.value != before and dashboard.summary.value.startswith("TTL 20 s")


def test_the_strategy_dropdown_switches_the_simulation():
    dashboard = ttl_dashboard(ttl=10)
    dashboard.strategy_dropdown.value = "delete_on_write"
    assert dashboard.frame.current_sim.stale_fraction == 0
    assert "delete-on-write" in dashboard.summary.value


def test_rates_snap_to_the_nearest_slider_position():
    dashboard = ttl_dashboard(ttl=7, read_rate=1.8, write_rate=0.09)
    assert dashboard.settings == Settings(ttl=5.0, read_rate=2.0, write_rate=0.1, strategy="ttl")


def test_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="strategy"):
        ttl_dashboard(strategy="write_through")
