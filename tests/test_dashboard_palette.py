"""Lesson 07's dashboard draws in the course's colour-blind-safe palette.

Every plot in the course uses the Okabe-Ito colours (``cachelab.show.plots``), whose eight hues
readers with a colour-vision deficiency can tell apart, and tells its series apart by line style or
marker too. The dashboard's figure is drawn once here, with a budget, and every line in it is held
to that.
"""

from __future__ import annotations

from matplotlib.colors import to_hex

from cachelab.show.ttl_dashboard import Settings, _compute, _DashboardPlot

OKABE_ITO = {
    "#000000", "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
}  # fmt: skip
"""Okabe & Ito, *Color Universal Design* (2008): black, orange, sky blue, bluish green, yellow,
blue, vermillion, reddish purple."""


def test_every_line_of_the_dashboard_is_drawn_in_okabe_ito_colours():
    plot = _DashboardPlot(blit=False)
    frame = _compute(
        Settings(ttl=5, read_rate=1, write_rate=0.1), stale_budget=0.1, db_load_budget=1
    )
    figure = plot.update(frame)
    assert any(line.get_visible() and line.get_linestyle() == "--" for line in figure.axes[1].lines)
    colours = {to_hex(line.get_color()) for axes in figure.axes for line in axes.lines}
    legend = {to_hex(handle.get_color()) for handle in plot.legend.legend_handles}
    assert "budget" in [text.get_text() for text in plot.legend.get_texts()]
    assert colours | legend <= OKABE_ITO, f"not Okabe-Ito: {(colours | legend) - OKABE_ITO}"


def test_the_two_strategies_differ_in_line_style_as_well_as_colour():
    plot = _DashboardPlot(blit=False)
    figure = plot.update(_compute(Settings(ttl=5, read_rate=1, write_rate=0.1)))
    strategy_lines = figure.axes[0].lines[:2]
    assert len({line.get_linestyle() for line in strategy_lines}) == 2
    assert len({to_hex(line.get_color()) for line in strategy_lines}) == 2
