"""The slider dashboard of lesson 07 (and the capstone, lesson 09): feel the TTL trade-off.

Three sliders -- TTL, read rate, write rate -- and a strategy (TTL only, or
delete-on-write). Every move re-runs ``cachelab.sim.simulate`` (the real
``MemoryCache`` on a virtual clock) at a handful of TTLs and redraws three
panels against the TTL: hit ratio, stale-read fraction and database loads per
second. Dots are the simulation, lines the closed-form ``cachelab.sim.model``;
the current TTL is marked, and a one-line summary gives its numbers.

The work of one move is split from the widgets, so it can be timed and tested
without a browser::

    >>> frame = compute(Settings(ttl=5, read_rate=1, write_rate=0.1))
    >>> plot = DashboardPlot()
    >>> png = plot.render(frame)        # PNG bytes, drawn by matplotlib's Agg
    >>> summary(frame)                  # doctest: +ELLIPSIS
    'TTL 5 s, TTL only: hit ratio ...'

In a notebook, ``ttl_dashboard()`` builds the sliders and shows the plot in an
``ipywidgets.Output``. The TTL slider carries the CSS class ``cachelab-ttl-slider``
and the summary ``cachelab-summary`` (the browser test moves one and reads the other).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

from cachelab.sim import STRATEGY_LABELS, CacheOutcome, model, simulate
from cachelab.validation import validate_choice, validate_number, validate_ttl
from cachelab.workload import MAX_RATE

__all__ = [
    "TTL_CHOICES_S",
    "READ_RATE_CHOICES",
    "WRITE_RATE_CHOICES",
    "EVENTS_PER_MOVE",
    "Settings",
    "Frame",
    "compute",
    "summary",
    "DashboardPlot",
    "slider_move",
    "plot_curves",
    "TTLDashboard",
    "ttl_dashboard",
]

TTL_CHOICES_S = (0.1, 0.2, 0.5, 1, 2, 3, 5, 10, 20, 30)
"""The TTLs the slider offers, in seconds (log-spaced: the trade-off lives on a log scale)."""
TTL_TICKS_S = (0.1, 0.3, 1, 3, 10, 30)
READ_RATE_CHOICES = (0.2, 0.5, 1, 2, 5, 10)
"""Reads per second of the cached item."""
WRITE_RATE_CHOICES = (0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1)
"""Writes (changes in the database) per second of the cached item."""

CURVE_TTLS_S = (0.1, 0.25, 0.6, 1.5, 4, 10, 30)
"""The TTLs at which every move re-simulates (the dots); the model's lines are drawn everywhere."""
EVENTS_PER_MOVE = 50_000
"""How many reads and writes one slider move simulates, in all. Fixed, so a move costs
the same at every setting; at long TTLs or high read rates this buys fewer expiry cycles,
so the dots scatter more there."""

DB_LOADS_RANGE = (0.02, 15.0)
"""The database-load axis (loads/s, log scale) covers every slider setting, so it never has to move.
"""

COLORS = {"ttl": "#1f77b4", "delete_on_write": "#2ca02c"}


@dataclass(frozen=True)
class Settings:
    """What the sliders say: a TTL in seconds, rates per second, a strategy (checked when made)."""

    ttl: float = 5.0
    read_rate: float = 1.0
    write_rate: float = 0.1
    strategy: str = "ttl"

    def __post_init__(self) -> None:
        if self.ttl is None:
            raise TypeError(
                "ttl must be a number of seconds: the dashboard explores caching with a TTL"
            )
        validate_ttl(self.ttl)
        validate_number(
            self.read_rate, "read_rate", above=0, maximum=MAX_RATE, unit="reads per second"
        )
        validate_number(
            self.write_rate, "write_rate", minimum=0, maximum=MAX_RATE, unit="writes per second"
        )
        validate_choice(self.strategy, "strategy", STRATEGY_LABELS)


@dataclass
class Frame:
    """Everything one redraw needs: simulated dots, model lines, and the current point."""

    settings: Settings
    sim_ttls: list[float]
    sim: list[CacheOutcome]
    model_ttls: np.ndarray
    model: dict[str, dict[str, np.ndarray]]  # strategy -> metric -> values over model_ttls
    current_sim: CacheOutcome
    current_model: CacheOutcome
    stale_budget: Optional[float] = None
    db_load_budget: Optional[float] = None
    cycles_per_point: float = field(default=0.0)


METRICS = (
    ("hit_ratio", "hit ratio", "higher is better: fewer database loads"),
    ("stale_fraction", "stale-read fraction", "lower is better: fewer old prices"),
    ("db_loads_per_s", "database loads per second", "lower is better"),
)


def _durations(settings: Settings, ttls: Sequence[float], events: int) -> tuple[list[float], float]:
    """A duration per TTL, long enough for the same number of cache cycles at each, within
    ``events``.

    One cycle (a miss, then hits until expiry) lasts about ``ttl + 1/read_rate``
    seconds, so equal cycles means durations proportional to that.
    """
    read_rate = max(settings.read_rate, 1e-9)
    cycle_s = [t + 1 / read_rate for t in ttls]
    events_per_cycle = [(settings.read_rate + settings.write_rate) * c for c in cycle_s]
    cycles = events / max(sum(events_per_cycle), 1e-9)
    return [cycles * c for c in cycle_s], cycles


def compute(
    settings: Settings,
    *,
    curve_ttls: Sequence[float] = CURVE_TTLS_S,
    events: int = EVENTS_PER_MOVE,
    stale_budget: Optional[float] = None,
    db_load_budget: Optional[float] = None,
    seed: int = 0,
    model_only: bool = False,
) -> Frame:
    """One slider move's numbers: simulate at ``curve_ttls`` and at the current TTL, plus the model.

    The simulations share ``events`` reads and writes between them; the current
    TTL gets as many cycles as each curve point. ``model_only=True`` skips the
    simulation (the dots then sit on the model): the benchmark's baseline.
    """
    current_model = model(settings.ttl, settings.read_rate, settings.write_rate, settings.strategy)
    durations, cycles = _durations(settings, curve_ttls, events)
    if model_only:
        sim = [
            model(t, settings.read_rate, settings.write_rate, settings.strategy) for t in curve_ttls
        ]
        current_sim = current_model
    else:
        sim = [
            simulate(t, settings.read_rate, settings.write_rate, d, settings.strategy, seed)
            for t, d in zip(curve_ttls, durations)
        ]
        current_duration = cycles * (settings.ttl + 1 / max(settings.read_rate, 1e-9))
        current_sim = simulate(
            settings.ttl,
            settings.read_rate,
            settings.write_rate,
            current_duration,
            settings.strategy,
            seed,
        )
    low, high = min(min(curve_ttls), settings.ttl), max(max(curve_ttls), settings.ttl)
    model_ttls = np.geomspace(low, high, 120)
    lines: dict[str, dict[str, np.ndarray]] = {}
    for strategy in STRATEGY_LABELS:
        outcomes = [
            model(t, settings.read_rate, settings.write_rate, strategy) for t in model_ttls.tolist()
        ]
        lines[strategy] = {
            name: np.array([getattr(o, name) for o in outcomes]) for name, _, _ in METRICS
        }
    return Frame(
        settings=settings,
        sim_ttls=list(curve_ttls),
        sim=sim,
        model_ttls=model_ttls,
        model=lines,
        current_sim=current_sim,
        current_model=current_model,
        stale_budget=stale_budget,
        db_load_budget=db_load_budget,
        cycles_per_point=cycles,
    )


def summary(frame: Frame) -> str:
    """The one-line summary of the current setting: simulated figures, the model's in brackets."""
    s, sim, mod = frame.settings, frame.current_sim, frame.current_model
    line = (
        f"TTL {s.ttl:g} s, {STRATEGY_LABELS[s.strategy]}: "
        f"hit ratio {sim.hit_ratio:.1%} (model {mod.hit_ratio:.1%}) · "
        f"stale reads {sim.stale_fraction:.1%} (model {mod.stale_fraction:.1%}) · "
        f"database loads {sim.db_loads_per_s:.3g}/s (model {mod.db_loads_per_s:.3g}/s)"
    )
    verdicts = []
    if frame.stale_budget is not None:
        ok = mod.stale_fraction <= frame.stale_budget
        verdicts.append(f"{'✅' if ok else '❌'} stale ≤ {frame.stale_budget:.1%}")
    if frame.db_load_budget is not None:
        ok = mod.db_loads_per_s <= frame.db_load_budget
        verdicts.append(f"{'✅' if ok else '❌'} loads ≤ {frame.db_load_budget:g}/s")
    return line + (" · " + ", ".join(verdicts) if verdicts else "")


class DashboardPlot:
    """The dashboard's figure: three panels over the TTL, made once and updated on every move.

    Drawing a matplotlib figure from scratch takes 100--200 ms on a busy laptop,
    most of it spent on text (tick labels, titles). The axes, ticks and labels do
    not change when a slider moves, so they are drawn once and kept as a bitmap
    (the *background*); a move only repaints the lines and markers on top of it
    ("blitting", as matplotlib's animations do) -- a few milliseconds. The
    background is redrawn only when the axes' limits have to change.

    Pass ``blit=False`` for an ordinary figure (``plot_curves`` does, for static use).
    """

    def __init__(
        self, figsize: tuple[float, float] = (10.5, 3.0), dpi: int = 90, blit: bool = True
    ) -> None:
        # A fixed layout: "constrained" or "tight" layouts would re-measure every label on every
        # redraw.
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.axes = self.figure.subplots(
            1,
            3,
            gridspec_kw=dict(
                left=0.065, right=0.99, top=0.9 if blit else 0.8, bottom=0.25, wspace=0.3
            ),
        )
        self.blit = blit
        self._background = None
        self._limits: tuple = ()
        self.lines: dict[tuple[str, str], Any] = {}
        for ax, (name, title, _) in zip(self.axes, METRICS):
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(FixedLocator(TTL_TICKS_S))
            ax.xaxis.set_major_formatter(FixedFormatter([f"{t:g}" for t in TTL_TICKS_S]))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel("TTL (s, log scale)")
            ax.set_title(title, fontsize=11)
            ax.grid(True, which="major", alpha=0.3)
            for strategy in STRATEGY_LABELS:
                (self.lines[name, strategy],) = ax.plot([], [], color=COLORS[strategy], lw=1.6)
            (self.lines[name, "sim"],) = ax.plot([], [], "o", color="black", ms=4.5)
            self.lines[name, "vline"] = ax.axvline(1.0, color="#d62728", lw=1, ls=":")
            (self.lines[name, "current"],) = ax.plot([], [], "*", color="#d62728", ms=13, zorder=5)
            self.lines[name, "budget"] = ax.axhline(
                0.0, color="#ff7f0e", lw=1.2, ls="--", visible=False
            )
        self.axes[0].set_ylim(0, 1.02)
        self.axes[1].set_ylim(0, 1.02)
        self.axes[2].set_ylim(*DB_LOADS_RANGE)
        self.axes[2].set_yscale("log")
        self.axes[2].yaxis.set_minor_formatter(NullFormatter())
        self.title = self.figure.text(0.5, 0.97, "", ha="center", va="top", fontsize=11)
        for artist in [*self.lines.values(), self.title]:
            artist.set_animated(blit)
        self.legend = None
        self._show_legend(budget=False)

    def _show_legend(self, budget: bool) -> None:
        """One legend below the panels; the budget appears in it only when a budget is drawn."""
        if self.legend is not None:
            self.legend.remove()
        handles = [
            Line2D([], [], color=COLORS["ttl"], lw=2, label="model, TTL only"),
            Line2D([], [], color=COLORS["delete_on_write"], lw=2, label="model, delete-on-write"),
            Line2D([], [], ls="", marker="o", color="black", ms=4.5, label="simulation"),
            Line2D(
                [], [], ls="", marker="*", color="#d62728", ms=11, label="current TTL (simulated)"
            ),
        ]
        if budget:
            handles.append(Line2D([], [], color="#ff7f0e", lw=1.2, ls="--", label="budget"))
        self.legend = self.figure.legend(
            handles=handles,
            loc="lower center",
            ncol=len(handles),
            fontsize=9,
            frameon=False,
            borderaxespad=0.2,
        )

    def update(self, frame: Frame) -> Figure:
        """Put ``frame``'s numbers into the figure (without rendering it)."""
        s = frame.settings
        for name, _, _ in METRICS:
            for strategy in STRATEGY_LABELS:
                line = self.lines[name, strategy]
                line.set_data(frame.model_ttls, frame.model[strategy][name])
                chosen = strategy == s.strategy
                line.set_linewidth(2.4 if chosen else 1.1)
                line.set_alpha(1.0 if chosen else 0.5)
                line.set_linestyle("-" if chosen else "--")
            self.lines[name, "sim"].set_data(frame.sim_ttls, [getattr(o, name) for o in frame.sim])
            self.lines[name, "vline"].set_xdata([s.ttl, s.ttl])
            self.lines[name, "current"].set_data([s.ttl], [getattr(frame.current_sim, name)])
            budget = {
                "stale_fraction": frame.stale_budget,
                "db_loads_per_s": frame.db_load_budget,
            }.get(name)
            self.lines[name, "budget"].set_visible(budget is not None)
            if budget is not None:
                self.lines[name, "budget"].set_ydata([budget, budget])
        # Limits change only when the data leave the usual range, so the background stays valid.
        ttls = [*frame.sim_ttls, s.ttl, *TTL_CHOICES_S]
        xlim = (min(ttls) / 1.3, max(ttls) * 1.3)
        loads = np.concatenate(
            [
                frame.model["ttl"]["db_loads_per_s"],
                frame.model["delete_on_write"]["db_loads_per_s"],
                [o.db_loads_per_s for o in frame.sim],
                [frame.current_sim.db_loads_per_s],
                [frame.db_load_budget or DB_LOADS_RANGE[0]],
            ]
        )
        loads = loads[loads > 0]
        if (
            self.blit
        ):  # a live dashboard keeps one axis for every setting, so the picture never jumps
            ylim = (
                min(DB_LOADS_RANGE[0], loads.min() / 1.5),
                max(DB_LOADS_RANGE[1], loads.max() * 1.5),
            )
        else:
            ylim = (loads.min() / 1.5, loads.max() * 1.5)
        budget = frame.stale_budget is not None or frame.db_load_budget is not None
        if (xlim, ylim, budget) != self._limits:
            for ax in self.axes:
                ax.set_xlim(*xlim)
            self.axes[2].set_ylim(*ylim)
            self._show_legend(budget)
            self._limits = (xlim, ylim, budget)
            self._background = None
        # Text is the slowest thing to paint; the live dashboard has its summary line instead.
        self.title.set_visible(not self.blit)
        self.title.set_text(
            f"{s.read_rate:g} reads/s, {s.write_rate:g} writes/s, {STRATEGY_LABELS[s.strategy]}, "
            f"TTL {s.ttl:g} s"
        )
        return self.figure

    def draw(self) -> None:
        """Render the figure into the canvas: the background once, then only what moves."""
        if not self.blit:
            self.canvas.draw()
            return
        if self._background is None:
            self.canvas.draw()  # everything except the animated artists
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.canvas.restore_region(self._background)
        for ax in self.axes:
            for line in ax.lines:
                if line.get_visible():
                    ax.draw_artist(line)

    def render(self, frame: Frame) -> bytes:
        """Update the figure for ``frame`` and draw it as PNG bytes (what the notebook shows)."""
        self.update(frame)
        self.draw()
        buffer = io.BytesIO()
        # Light compression: the PNG travels from the kernel to the browser, not over the internet.
        PIL.Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(
            buffer, format="png", compress_level=1
        )
        return buffer.getvalue()


def slider_move(plot: DashboardPlot, settings: Settings, **compute_options) -> tuple[Frame, bytes]:
    """All one slider move does except talking to the browser: simulate, model, draw a PNG."""
    frame = compute(settings, **compute_options)
    return frame, plot.render(frame)


def plot_curves(settings: Settings = Settings(), **compute_options) -> Figure:
    """A static dashboard figure for ``settings``: for reading, printing, or a notebook without
    widgets.
    """
    plot = DashboardPlot(blit=False)
    return plot.update(compute(settings, **compute_options))


_CONTROL_STYLE = {"description_width": "90px"}
_CONTROL_WIDTH = "420px"


def _choice_slider(description: str, choices: Sequence[float], value: float, label: str) -> Any:
    """A slider over ``choices``, shown with ``label`` (e.g. "{:g} s"), set nearest ``value``."""
    import ipywidgets as widgets

    return widgets.SelectionSlider(
        options=[(label.format(choice), float(choice)) for choice in choices],
        value=float(_nearest(choices, value)),
        description=description,
        continuous_update=False,
        style=_CONTROL_STYLE,
        layout=widgets.Layout(width=_CONTROL_WIDTH),
    )


def _nearest(choices: Sequence[float], value: float) -> float:
    return min(choices, key=lambda c: abs(math.log((c or 1e-3) / (value or 1e-3))))


class TTLDashboard:
    """Sliders for TTL, read rate and write rate, a strategy dropdown, the plot and a summary.

    Build it with ``ttl_dashboard()`` and show it by ending a cell with it. Lesson
    09 passes ``stale_budget`` and ``db_load_budget`` to draw budgets as dashed
    lines and mark the summary ✅/❌ against the model.

    ``frame`` holds the numbers of the last redraw, so a cell can assert on them.
    """

    def __init__(
        self,
        ttl: float = 5.0,
        read_rate: float = 1.0,
        write_rate: float = 0.1,
        strategy: str = "ttl",
        *,
        stale_budget: Optional[float] = None,
        db_load_budget: Optional[float] = None,
        events: int = EVENTS_PER_MOVE,
        seed: int = 0,
    ) -> None:
        import ipywidgets as widgets

        Settings(ttl, read_rate, write_rate, strategy)  # refuse bad values before building anything
        self.options = dict(
            stale_budget=stale_budget, db_load_budget=db_load_budget, events=events, seed=seed
        )
        self.ttl_slider = _choice_slider("TTL", TTL_CHOICES_S, ttl, "{:g} s")
        self.ttl_slider.add_class("cachelab-ttl-slider")
        self.read_rate_slider = _choice_slider("read rate", READ_RATE_CHOICES, read_rate, "{:g}/s")
        self.write_rate_slider = _choice_slider(
            "write rate", WRITE_RATE_CHOICES, write_rate, "{:g}/s"
        )
        self.strategy_dropdown = widgets.Dropdown(
            options=[(label, key) for key, label in STRATEGY_LABELS.items()],
            value=strategy,
            description="strategy",
            style=_CONTROL_STYLE,
            layout=widgets.Layout(width=_CONTROL_WIDTH),
        )
        self.summary = widgets.Label(value="")
        self.summary.add_class("cachelab-summary")
        self.output = widgets.Output()
        self.plot = DashboardPlot()
        self.frame: Optional[Frame] = None
        for control in (
            self.ttl_slider,
            self.read_rate_slider,
            self.write_rate_slider,
            self.strategy_dropdown,
        ):
            control.observe(self.update, names="value")
        self.widget = widgets.VBox(
            [
                widgets.HBox(
                    [
                        widgets.VBox([self.ttl_slider, self.strategy_dropdown]),
                        widgets.VBox([self.read_rate_slider, self.write_rate_slider]),
                    ]
                ),
                self.summary,
                self.output,
            ]
        )
        self.update()

    @property
    def settings(self) -> Settings:
        """The settings the controls show now."""
        return Settings(
            ttl=self.ttl_slider.value,
            read_rate=self.read_rate_slider.value,
            write_rate=self.write_rate_slider.value,
            strategy=self.strategy_dropdown.value,
        )

    def update(self, change: object = None) -> Frame:
        """Re-simulate and redraw for the controls' current settings (called on every move)."""
        from IPython import get_ipython
        from IPython.display import Image, display

        self.frame, png = slider_move(self.plot, self.settings, **self.options)
        self.summary.value = summary(self.frame)
        if get_ipython() is not None:  # outside a notebook there is nowhere to show the picture
            with self.output:
                self.output.clear_output(wait=True)
                display(Image(data=png, format="png"))
        return self.frame

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def ttl_dashboard(
    ttl: float = 5.0,
    read_rate: float = 1.0,
    write_rate: float = 0.1,
    strategy: str = "ttl",
    **options,
) -> TTLDashboard:
    """The lesson-07 dashboard, set to the nearest slider positions to the given values."""
    return TTLDashboard(ttl, read_rate, write_rate, strategy, **options)
