"""The slider dashboard of lesson 07 (and the capstone, lesson 09): feel the TTL trade-off.

Three sliders -- TTL, read rate, write rate -- and a strategy (TTL only, or
delete-on-write). Every move re-runs ``cachelab.lab.sim.simulate`` (the real
``MemoryCache`` on a virtual clock) at a handful of TTLs and redraws three
panels against the TTL: hit ratio, stale-read fraction and database loads per
second. Dots are the simulation, lines the closed-form ``cachelab.lab.sim.model``;
the current TTL is marked, and a one-line summary gives its numbers.

The work of one move is split from the widgets, so it can be timed and tested
without a browser::

    >>> frame = _compute(Settings(ttl=5, read_rate=1, write_rate=0.1))
    >>> plot = _DashboardPlot()
    >>> png = plot.render(frame)        # PNG bytes, drawn by matplotlib's Agg
    >>> _summary(frame)                 # doctest: +ELLIPSIS
    'TTL 5 s, TTL only: hit ratio ...'

In a notebook, ``ttl_dashboard()`` builds the sliders and shows the plot in an
``ipywidgets.Image``. The TTL slider carries the CSS class ``cachelab-ttl-slider``
and the summary ``cachelab-summary`` (the browser test moves one and reads the other);
the rate sliders ``cachelab-read-rate-slider`` and ``cachelab-write-rate-slider``, the
picture ``cachelab-dashboard-plot`` (``make bench`` times a key press to a new one).
A move keeps what it simulated; between moves, ``cachelab.show._prefetch`` simulates the settings
the learner is likely to move to next, and ``cachelab.show._png`` encodes each picture quickly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

from cachelab._internal.validation import validate_choice, validate_number, validate_ttl
from cachelab.lab.sim import CacheOutcome, Invalidation, model, simulate
from cachelab.lab.workload import MAX_RATE
from cachelab.show._png import encode_png
from cachelab.show._prefetch import Prefetcher
from cachelab.show.plots import _BLACK, _BLUE, _GREEN, _ORANGE, _VERMILLION

__all__ = ["Settings", "plot_curves", "TTLDashboard", "ttl_dashboard"]

_TTL_CHOICES_S = (0.1, 0.2, 0.5, 1, 2, 3, 5, 10, 20, 30)
"""The TTLs the slider offers, in seconds (log-spaced: the trade-off lives on a log scale)."""
TTL_TICKS_S = (0.1, 0.3, 1, 3, 10, 30)
_READ_RATE_CHOICES = (0.2, 0.5, 1, 2, 5, 10)
"""Reads per second of the cached item."""
_WRITE_RATE_CHOICES = (0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1)
"""Writes (changes in the database) per second of the cached item."""

CURVE_TTLS_S = (0.1, 0.25, 0.6, 1.5, 4, 10, 30)
"""The TTLs at which every move re-simulates (the dots); the model's lines are drawn everywhere."""
_EVENTS_PER_MOVE = 50_000
"""How many reads and writes one slider move simulates, in all. Fixed, so a move costs
the same at every setting; at long TTLs or high read rates this buys fewer expiry cycles,
so the dots scatter more there."""

DB_LOADS_RANGE = (0.02, 15.0)
"""The database-load axis (loads/s, log scale) covers every slider setting, so it never has to move.
"""

COLORS = {Invalidation.TTL_ONLY: _BLUE, Invalidation.DELETE_ON_WRITE: _GREEN}
"""Each strategy's model line, in the Okabe-Ito colours the course's plots use
(``cachelab.show.plots``); the chosen strategy is also solid and thick, the other dashed
(``_line_style``), so the two are told apart without colour too."""
MAX_MOVE_TIMINGS = 1_000
"""How many moves' timings a dashboard keeps (``TTLDashboard.move_timings``)."""
MODEL_POINTS = 120
"""How many TTLs the model's lines are drawn through."""


@dataclass(frozen=True)
class Settings:
    """What the sliders say: a TTL in seconds, rates per second, a strategy (checked when made;
    its string, ``"ttl"`` or ``"delete_on_write"``, becomes the ``Invalidation`` member)."""

    ttl: float = 5.0
    read_rate: float = 1.0
    write_rate: float = 0.1
    strategy: Invalidation = Invalidation.TTL_ONLY

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
        validate_choice(self.strategy, "strategy", [member.value for member in Invalidation])
        object.__setattr__(self, "strategy", Invalidation(self.strategy))  # frozen: set once, here


@dataclass
class _Frame:
    """Everything one redraw needs: simulated dots, model lines, and the current point."""

    settings: Settings
    sim_ttls: list[float]
    sim: list[CacheOutcome]
    model_ttls: np.ndarray
    model: dict[Invalidation, dict[str, np.ndarray]]  # strategy -> metric -> values
    current_sim: CacheOutcome
    current_model: CacheOutcome
    stale_budget: Optional[float] = None
    db_load_budget: Optional[float] = None
    cycles_per_point: float = field(default=0.0)
    curve_simulated: bool = False  # False: the curve's dots were kept from an earlier frame


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


def _compute(
    settings: Settings,
    *,
    curve_ttls: Sequence[float] = CURVE_TTLS_S,
    events: int = _EVENTS_PER_MOVE,
    stale_budget: Optional[float] = None,
    db_load_budget: Optional[float] = None,
    seed: int = 0,
    model_only: bool = False,
) -> _Frame:
    """One slider move's numbers: simulate at ``curve_ttls`` and at the current TTL, plus the model.

    The simulations share ``events`` reads and writes between them; the current
    TTL gets as many cycles as each curve point. ``model_only=True`` skips the
    simulation (the dots then sit on the model): the benchmark's baseline.
    """
    current_model = model(
        settings.ttl, settings.read_rate, settings.write_rate, strategy=settings.strategy
    )
    curve_ttls = tuple(float(t) for t in curve_ttls)
    curve_simulated = False
    durations, cycles = _durations(settings, curve_ttls, events)
    if model_only:
        sim = [
            model(t, settings.read_rate, settings.write_rate, strategy=settings.strategy)
            for t in curve_ttls
        ]
        current_sim = current_model
    else:
        sim, curve_simulated = _curve(settings, curve_ttls, events, seed)
        sim = list(sim)
        ttl, duration = _current_point(settings, curve_ttls, events)
        current_sim, _ = _simulated_point(
            ttl, settings.read_rate, settings.write_rate, duration, settings.strategy, seed
        )
    low, high = min(min(curve_ttls), settings.ttl), max(max(curve_ttls), settings.ttl)
    model_ttls, lines = _model_lines(settings.read_rate, settings.write_rate, low, high)
    # The seven fields every frame has, in _Frame's order; then what this move adds.
    return _Frame(
        settings,
        list(curve_ttls),
        sim,
        model_ttls,
        lines,
        current_sim,
        current_model,
        stale_budget=stale_budget,
        db_load_budget=db_load_budget,
        cycles_per_point=cycles,
        curve_simulated=curve_simulated,
    )


# The dots of the curve do not depend on the TTL slider: the curve's TTLs are fixed, and so are
# their durations for given rates. Moving the TTL slider therefore re-simulates only the current
# TTL; each curve point is simulated once per (rates, strategy) and kept (the same seed gives the
# same result to the last digit, so keeping it changes nothing but the time). Bounded, and shared
# by the kernel's thread and the dashboard's prefetcher (hence the lock).
MAX_KEPT_POINTS = 4_096
"""How many simulated curve points are kept (about 500 slider positions' worth)."""
_kept: OrderedDict[tuple, CacheOutcome] = OrderedDict()
_kept_lock = threading.Lock()


def _simulated_point(
    ttl: float, read_rate: float, write_rate: float, duration: float, strategy: str, seed: int
) -> tuple[CacheOutcome, bool]:
    """``simulate(...)``, kept: the outcome, and whether it had to be simulated now."""
    key = (ttl, read_rate, write_rate, duration, strategy, seed)
    with _kept_lock:
        if key in _kept:
            _kept.move_to_end(key)
            return _kept[key], False
    outcome = simulate(ttl, read_rate, write_rate, duration, strategy, seed)
    with _kept_lock:
        _kept[key] = outcome
        while len(_kept) > MAX_KEPT_POINTS:
            _kept.popitem(last=False)
    return outcome, True


def _forget_simulations() -> None:
    """Drop every kept simulation (tests start from nothing with it)."""
    with _kept_lock:
        _kept.clear()


def _curve_points(
    settings: Settings, curve_ttls: tuple[float, ...], events: int
) -> list[tuple[float, float]]:
    """(TTL, duration) of each point of the curve for ``settings``' rates."""
    durations, _ = _durations(settings, curve_ttls, events)
    return list(zip(curve_ttls, durations))


def _current_point(
    settings: Settings, curve_ttls: tuple[float, ...], events: int
) -> tuple[float, float]:
    """(TTL, duration) of the current TTL's simulation: as many cycles as each curve point."""
    _, cycles = _durations(settings, curve_ttls, events)
    return settings.ttl, cycles * (settings.ttl + 1 / max(settings.read_rate, 1e-9))


def _curve(
    settings: Settings, curve_ttls: tuple[float, ...], events: int, seed: int
) -> tuple[tuple[CacheOutcome, ...], bool]:
    """The curve's simulated dots for ``settings``' rates and strategy, and whether any of them
    had to be simulated now (rather than kept)."""
    results = [
        _simulated_point(t, settings.read_rate, settings.write_rate, d, settings.strategy, seed)
        for t, d in _curve_points(settings, curve_ttls, events)
    ]
    return tuple(outcome for outcome, _ in results), any(new for _, new in results)


@functools.lru_cache(maxsize=256)
def _model_lines(
    read_rate: float, write_rate: float, low: float, high: float
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """The model's lines for both strategies over ``MODEL_POINTS`` TTLs from ``low`` to ``high``
    (kept, read-only: every frame with the same rates shares them)."""
    model_ttls = np.geomspace(low, high, MODEL_POINTS)
    model_ttls.setflags(write=False)
    lines: dict[str, dict[str, np.ndarray]] = {}
    for strategy in Invalidation:
        outcomes = [model(t, read_rate, write_rate, strategy=strategy) for t in model_ttls.tolist()]
        lines[strategy] = {}
        for name, _, _ in METRICS:
            values = np.array([getattr(o, name) for o in outcomes])
            values.setflags(write=False)
            lines[strategy][name] = values
    return model_ttls, lines


def _summary(frame: _Frame) -> str:
    """The one-line summary of the current setting: simulated figures, the model's in brackets."""
    s, sim, mod = frame.settings, frame.current_sim, frame.current_model
    line = (
        f"TTL {s.ttl:g} s, {s.strategy.label}: "
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


_RATE_LAYER = ("model", "sim", "budget")  # changes with the rates, the strategy and the budgets
_TTL_LAYER = ("vline", "current")  # changes with every move


def _line_style(chosen: bool) -> dict:
    """How a strategy's model line is drawn, in the plot and in its legend alike: the chosen
    strategy solid and thick, the other dashed and faint."""
    return {"lw": 2.4, "alpha": 1.0, "ls": "-"} if chosen else {"lw": 1.1, "alpha": 0.5, "ls": "--"}


class _DashboardPlot:
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
        self._middle = None  # the background with the rate layer drawn on it (see ``draw``)
        self._middle_key: tuple = ()
        self._pending_middle_key: tuple = ()
        self.lines: dict[tuple[str, str], Any] = {}
        for ax, (name, title, _) in zip(self.axes, METRICS):
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(FixedLocator(TTL_TICKS_S))
            ax.xaxis.set_major_formatter(FixedFormatter([f"{t:g}" for t in TTL_TICKS_S]))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel("TTL (s, log scale)")
            ax.set_title(title, fontsize=11)
            ax.grid(True, which="major", alpha=0.3)
            for strategy in Invalidation:
                (self.lines[name, strategy],) = ax.plot([], [], color=COLORS[strategy], lw=1.6)
            (self.lines[name, "sim"],) = ax.plot([], [], "o", color=_BLACK, ms=4.5)
            self.lines[name, "vline"] = ax.axvline(1.0, color=_VERMILLION, lw=1, ls=":")
            (self.lines[name, "current"],) = ax.plot(
                [], [], "*", color=_VERMILLION, ms=13, zorder=5
            )
            self.lines[name, "budget"] = ax.axhline(
                0.0, color=_ORANGE, lw=1.2, ls="--", visible=False
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
        self._show_legend(budget=False, strategy=Invalidation.TTL_ONLY)

    def _show_legend(self, budget: bool, strategy: Invalidation) -> None:
        """One legend below the panels, drawn as the lines are: the chosen strategy's model line
        solid and thick, the other dashed and faint (``_line_style``); the budget appears in it
        only when a budget is drawn."""
        if self.legend is not None:
            self.legend.remove()
        handles = [
            Line2D(
                [],
                [],
                color=COLORS[key],
                label=f"model, {key.label}",
                **_line_style(key == strategy),
            )
            for key in Invalidation
        ]
        handles += [
            Line2D([], [], ls="", marker="o", color=_BLACK, ms=4.5, label="simulation"),
            Line2D(
                [], [], ls="", marker="*", color=_VERMILLION, ms=11, label="current TTL (simulated)"
            ),
        ]
        if budget:
            handles.append(Line2D([], [], color=_ORANGE, lw=1.2, ls="--", label="budget"))
        self.legend = self.figure.legend(
            handles=handles,
            loc="lower center",
            ncol=len(handles),
            fontsize=9,
            frameon=False,
            borderaxespad=0.2,
        )

    def update(self, frame: _Frame) -> Figure:
        """Put ``frame``'s numbers into the figure (without rendering it)."""
        s = frame.settings
        for name, _, _ in METRICS:
            for strategy in Invalidation:
                line = self.lines[name, strategy]
                line.set_data(frame.model_ttls, frame.model[strategy][name])
                style = _line_style(strategy == s.strategy)
                line.set_linewidth(style["lw"])
                line.set_alpha(style["alpha"])
                line.set_linestyle(style["ls"])
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
        ttls = [*frame.sim_ttls, s.ttl, *_TTL_CHOICES_S]
        xlim = (min(ttls) / 1.3, max(ttls) * 1.3)
        loads = np.concatenate(
            [
                *(frame.model[strategy]["db_loads_per_s"] for strategy in Invalidation),
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
        # The legend is part of the background: it is redrawn when the strategy (whose line it
        # draws solid) or the budget changes, like the axes when their limits do.
        if (xlim, ylim, budget, s.strategy) != self._limits:
            for ax in self.axes:
                ax.set_xlim(*xlim)
            self.axes[2].set_ylim(*ylim)
            self._show_legend(budget, s.strategy)
            self._limits = (xlim, ylim, budget, s.strategy)
            self._background = None
        # What the rate layer shows: when this stays the same, a move redraws only the TTL layer.
        self._pending_middle_key = (
            s.read_rate,
            s.write_rate,
            s.strategy,
            float(frame.model_ttls[0]),
            float(frame.model_ttls[-1]),
            tuple(frame.sim_ttls),
            tuple((o.hit_ratio, o.stale_fraction, o.db_loads_per_s) for o in frame.sim),
            frame.stale_budget,
            frame.db_load_budget,
        )
        # Text is the slowest thing to paint; the live dashboard has its summary line instead.
        self.title.set_visible(not self.blit)
        self.title.set_text(
            f"{s.read_rate:g} reads/s, {s.write_rate:g} writes/s, {s.strategy.label}, "
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
            self._middle = None
        # Two layers on the background: what changes with the rates and the strategy (the model's
        # lines, the simulated dots, the budgets), kept as a second bitmap while those stay the
        # same, and what every TTL move changes (the current TTL's line and star).
        if self._middle is None or self._middle_key != self._pending_middle_key:
            self.canvas.restore_region(self._background)
            self._draw_lines(_RATE_LAYER)
            self._middle = self.canvas.copy_from_bbox(self.figure.bbox)
            self._middle_key = self._pending_middle_key
        else:
            self.canvas.restore_region(self._middle)
        self._draw_lines(_TTL_LAYER)

    def _draw_lines(self, layer: tuple[str, ...]) -> None:
        for ax, (name, _, _) in zip(self.axes, METRICS):
            for part in layer:
                for line in self._layer_lines(name, part):
                    if line.get_visible():
                        ax.draw_artist(line)

    def _layer_lines(self, name: str, part: str) -> list:
        if part == "model":
            return [self.lines[name, strategy] for strategy in Invalidation]
        return [self.lines[name, part]]

    def png(self) -> bytes:
        """The canvas as it was last drawn, as PNG bytes.

        Opaque RGB (the figure has a white background, so the alpha channel would only add
        a quarter to what is compressed and sent), written by ``encode_png``: about 47 kB,
        a few milliseconds to encode. The picture travels to the browser on every move, perhaps
        over a room's Wi-Fi to a JupyterHub, so it is compressed rather than sent raw
        (a raw bitmap would be about 770 kB).
        """
        return encode_png(np.asarray(self.canvas.buffer_rgba())[..., :3])

    def render(self, frame: _Frame) -> bytes:
        """Update the figure for ``frame`` and draw it as PNG bytes (what the notebook shows)."""
        self.update(frame)
        self.draw()
        return self.png()


def _slider_move(
    plot: _DashboardPlot, settings: Settings, **compute_options
) -> tuple[_Frame, bytes]:
    """All one slider move does except talking to the browser: simulate, model, draw a PNG."""
    frame = _compute(settings, **compute_options)
    return frame, plot.render(frame)


def plot_curves(**settings: Any) -> Figure:
    """The dashboard's figure for one setting of its sliders, drawn once: for reading, printing, or
    a notebook without widgets. ``settings`` are ``Settings``' fields, which ``ttl_dashboard`` takes
    too: ``plot_curves(ttl=5, read_rate=1, write_rate=0.1)``."""
    return _DashboardPlot(blit=False).update(_compute(Settings(**settings)))


def neighbours(settings: Settings, previous: Optional[Settings] = None) -> list[Settings]:
    """The settings one slider step (or the other strategy) away from ``settings``: one TTL step
    either way, one read-rate step either way, one write-rate step either way, the other
    strategy -- the learner's likely next moves, most likely first.

    Given the ``previous`` settings, the slider that just moved comes first, one more step
    in the same direction first: a learner sweeping a slider keeps going.
    """
    out = []
    sliders = [
        (_TTL_CHOICES_S, "ttl"),
        (_READ_RATE_CHOICES, "read_rate"),
        (_WRITE_RATE_CHOICES, "write_rate"),
    ]
    moved = None
    if previous is not None:
        changed = [
            name for _, name in sliders if getattr(previous, name) != getattr(settings, name)
        ]
        if len(changed) == 1:
            moved = changed[0]
            sliders.sort(key=lambda slider: slider[1] != moved)  # stable: the others keep order
    for choices, field_name in sliders:
        values = [float(c) for c in choices]
        here = getattr(settings, field_name)
        if here in values:
            i = values.index(here)
            steps = (i + 1, i - 1)
            if field_name == moved and getattr(previous, field_name) > here:
                steps = (i - 1, i + 1)  # it was moving down: one more step down first
            for j in steps:
                if 0 <= j < len(values):
                    out.append(dataclasses.replace(settings, **{field_name: values[j]}))
    for strategy in Invalidation:
        if strategy != settings.strategy:
            out.append(dataclasses.replace(settings, strategy=strategy))
    return out


def _prefetch_jobs(
    settings: Settings, previous: Optional[Settings], events: int, seed: int
) -> list[Callable[[], bool]]:
    """What the prefetcher simulates after a move to ``settings``: for each of its neighbours
    (``neighbours``), most likely first, its curve's points and its current point, one job each.
    A job simulates its point unless it is kept already, and says whether it had to."""
    jobs = []
    for near in neighbours(settings, previous):
        points = _curve_points(near, CURVE_TTLS_S, events)
        points.append(_current_point(near, CURVE_TTLS_S, events))
        for ttl, duration in points:
            jobs.append(
                functools.partial(
                    _simulate_if_new,
                    ttl,
                    near.read_rate,
                    near.write_rate,
                    duration,
                    near.strategy,
                    seed,
                )
            )
    return jobs


def _simulate_if_new(
    ttl: float, read_rate: float, write_rate: float, duration: float, strategy: str, seed: int
) -> bool:
    """Simulate one point and keep it, unless it is kept already; True if it was simulated now."""
    _, new = _simulated_point(ttl, read_rate, write_rate, duration, strategy, seed)
    return new


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
        strategy: Invalidation = Invalidation.TTL_ONLY,
        *,
        stale_budget: Optional[float] = None,
        db_load_budget: Optional[float] = None,
        events: int = _EVENTS_PER_MOVE,
        seed: int = 0,
        prefetch: Optional[bool] = None,
    ) -> None:
        import ipywidgets as widgets

        Settings(ttl, read_rate, write_rate, strategy)  # refuse bad values before building anything
        if prefetch is None:  # in a notebook kernel, where a learner moves the sliders
            from IPython import get_ipython

            prefetch = get_ipython() is not None
        self.prefetcher = Prefetcher() if prefetch else None
        self.options = dict(
            stale_budget=stale_budget, db_load_budget=db_load_budget, events=events, seed=seed
        )
        self._prefetch_options = dict(events=events, seed=seed)
        self.ttl_slider = _choice_slider("TTL", _TTL_CHOICES_S, ttl, "{:g} s")
        self.ttl_slider.add_class("cachelab-ttl-slider")
        self.read_rate_slider = _choice_slider("read rate", _READ_RATE_CHOICES, read_rate, "{:g}/s")
        self.write_rate_slider = _choice_slider(
            "write rate", _WRITE_RATE_CHOICES, write_rate, "{:g}/s"
        )
        self.strategy_dropdown = widgets.Dropdown(
            options=[(member.label, member) for member in Invalidation],
            value=Invalidation(strategy),
            description="strategy",
            style=_CONTROL_STYLE,
            layout=widgets.Layout(width=_CONTROL_WIDTH),
        )
        self.read_rate_slider.add_class("cachelab-read-rate-slider")
        self.write_rate_slider.add_class("cachelab-write-rate-slider")
        self.strategy_dropdown.add_class("cachelab-strategy")
        self.summary = widgets.Label(value="")
        self.summary.add_class("cachelab-summary")
        # The picture is an Image widget whose value is replaced on every move: one message
        # carrying the PNG as a binary buffer. (Displaying it into an Output widget instead took
        # four messages per move -- capture on, clear, the picture as base64 text, capture off --
        # and the browser tore the old picture's element down and built a new one each time.)
        self.image = widgets.Image(format="png")
        self.image.add_class("cachelab-dashboard-plot")
        self.plot = _DashboardPlot()
        self.frame: Optional[_Frame] = None
        self.move_timings: list[dict[str, float]] = []
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
                self.image,
            ]
        )
        self.widget.add_class("cachelab-dashboard")
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

    def update(self, change: object = None) -> _Frame:
        """Re-simulate and redraw for the controls' current settings (called on every move).

        What each move cost in this process is appended to ``move_timings`` (seconds spent
        computing, drawing, encoding the PNG and handing it to the widgets, the PNG's size,
        and whether the curve's dots had to be simulated or were kept from an earlier visit
        of the same rates; the last ``MAX_MOVE_TIMINGS`` moves), so ``make bench`` can tell
        the kernel's share of a move from the browser's.
        """
        started = time.perf_counter()
        previous = self.frame.settings if self.frame is not None else None
        if self.prefetcher is not None:
            self.prefetcher.move_started()
        try:
            return self._redraw(started)
        finally:
            if self.prefetcher is not None:
                jobs = _prefetch_jobs(self.settings, previous, **self._prefetch_options)
                self.prefetcher.move_finished(jobs)

    def _redraw(self, started: float) -> _Frame:
        self.frame = _compute(self.settings, **self.options)
        computed = time.perf_counter()
        self.plot.update(self.frame)
        self.plot.draw()
        drawn = time.perf_counter()
        png = self.plot.png()
        encoded = time.perf_counter()
        self.image.value = png
        self.summary.value = _summary(self.frame)
        sent = time.perf_counter()
        self.move_timings.append(
            {
                "compute_s": computed - started,
                "draw_s": drawn - computed,
                "encode_s": encoded - drawn,
                "send_s": sent - encoded,
                "total_s": sent - started,
                "png_bytes": float(len(png)),
                "curve_simulated": float(self.frame.curve_simulated),
            }
        )
        del self.move_timings[:-MAX_MOVE_TIMINGS]
        return self.frame

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def ttl_dashboard(
    ttl: float = 5.0,
    read_rate: float = 1.0,
    write_rate: float = 0.1,
    strategy: Invalidation = Invalidation.TTL_ONLY,
    **options,
) -> TTLDashboard:
    """The lesson-07 dashboard, set to the nearest slider positions to the given values."""
    return TTLDashboard(ttl, read_rate, write_rate, strategy, **options)
