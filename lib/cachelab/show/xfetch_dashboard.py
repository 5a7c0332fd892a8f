"""The slider dashboard of lesson 08: when does XFetch refresh, as β moves?

One slider, β. Every move runs the real ``EarlyRefresh`` through ``lives`` lives of one value on
a fake clock (``cachelab.lab.burst.SimulatedReads.early_refresh``), with Δ the time the value
takes to recompute, reads at ``reads_per_delta`` per Δ on average (λΔ) and a TTL of
``ttl_in_deltas`` Δ, and draws, for the chosen β:

- left, the chance that a read at each gap before expiry refreshes: dots measured, the line
  the formula e^(−g/Δβ);
- right, the share of lives refreshed at least that long before expiry, measured beside the
  formula (``cachelab.lab.burst.refreshed_at_least_formula``).

On a fake clock only these ratios matter, so the figure (seeded) is the same on every machine, in
units of its Δ. Lesson 08 shows it with the Δ it measured, and so does
``dashboards/08_early_refresh.ipynb``, alone on a page. Without widgets, for reading or printing::

    >>> run = _simulate_xfetch(beta=1.0, delta_s=0.01, lives=100)
    >>> figure = _plot_xfetch(run)         # a matplotlib Figure, two panels
    >>> _xfetch_summary(run)               # doctest: +ELLIPSIS
    'β = 1.00: the median refresh comes ... before expiry; ...% of lives expired first ...'

In a notebook, ``xfetch_dashboard(delta_s)`` builds the slider and shows the figure in an
``ipywidgets.Image``. The slider carries the CSS class ``cachelab-beta-slider``, the summary
``cachelab-beta-summary`` and the picture ``cachelab-beta-plot`` (the browser tests move the one
and read the others).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from cachelab._internal.validation import validate_number
from cachelab.lab.burst import EarlyRefreshRun, SimulatedReads, refreshed_at_least_formula
from cachelab.lab.timing import format_seconds

__all__ = ["xfetch_dashboard"]

READS_PER_DELTA = 2
"""λΔ: how many reads arrive, on average, in the time Δ the value takes to recompute."""
TTL_IN_DELTAS = 20
"""T/Δ: the value's TTL, in units of Δ."""
LIVES = 800
"""How many lives of the value each β is measured over (enough for 300 reads in most bins)."""
SEED = 1
MIN_READS_PER_DOT = 20
"""A bin of gaps is drawn as a dot only when at least this many reads fell in it."""


def _simulate_xfetch(
    beta: float,
    delta_s: float,
    *,
    reads_per_delta: float = READS_PER_DELTA,
    ttl_in_deltas: float = TTL_IN_DELTAS,
    lives: int = LIVES,
    seed: int = SEED,
) -> EarlyRefreshRun:
    """``lives`` lives of one value read through the real ``EarlyRefresh`` at this ``beta``.

    The read rate is ``reads_per_delta / delta_s`` per second and the TTL
    ``ttl_in_deltas * delta_s`` seconds: the dashboard's settings, as ratios to Δ.
    """
    delta_s = validate_number(delta_s, "delta_s", above=0, maximum=60, unit="seconds")
    reads = SimulatedReads(
        read_rate=reads_per_delta / delta_s, ttl=ttl_in_deltas * delta_s, seed=seed
    )
    return reads.early_refresh(beta=beta, delta_s=delta_s, cycles=lives)


def _plot_xfetch(run: EarlyRefreshRun) -> Figure:
    """The dashboard's figure for ``run``: when reads refresh (left), how early lives were
    refreshed (right), each measured beside its formula."""
    beta, delta_s, read_rate, ttl = run.beta, run.delta_s, run.reads.read_rate, run.reads.ttl
    scale = delta_s * beta
    edges = np.linspace(0, 4 * scale, 17)
    middles, shares, counts = run.refreshed_by_gap(list(edges))
    gaps = np.linspace(0, 4 * scale, 100)
    figure = Figure(figsize=(10, 3.2))
    left, right = figure.subplots(1, 2)
    left.plot(gaps * 1e3, np.exp(-gaps / scale), color="tab:orange", label="formula e^(−g/Δβ)")
    shown = [(m, s) for m, s, n in zip(middles, shares, counts) if n >= MIN_READS_PER_DOT]
    left.plot(
        [m * 1e3 for m, _ in shown],
        [s for _, s in shown],
        "o",
        color="black",
        ms=4,
        label=f"measured (bins of ≥ {MIN_READS_PER_DOT} reads)",
    )
    left.set_xlabel("gap before expiry (ms)")
    left.set_ylabel("chance a read refreshes")
    left.set_ylim(0, 1.05)
    left.legend(fontsize=8)
    early = np.linspace(0, min(ttl, 8 * scale), 100)
    right.plot(
        early * 1e3,
        [refreshed_at_least_formula(g, delta_s, beta, read_rate, ttl) for g in early],
        color="tab:orange",
        label="formula",
    )
    right.plot(
        early * 1e3,
        [run.refreshed_at_least(g) for g in early],
        color="black",
        ls="--",
        label=f"measured ({run.cycles} lives)",
    )
    right.set_xlabel("refreshed at least this long before expiry (ms)")
    right.set_ylabel("share of lives")
    right.set_ylim(0, 1.05)
    right.legend(fontsize=8)
    figure.suptitle(
        f"XFetch, β = {beta:.2f}, Δ = {format_seconds(delta_s)}, λΔ = {read_rate * delta_s:.3g}"
    )
    figure.tight_layout()
    return figure


def _xfetch_summary(run: EarlyRefreshRun) -> str:
    """One line for ``run``: how early the median refresh came, and how many lives expired
    first, measured and by the formula."""
    expired_formula = 1 - refreshed_at_least_formula(
        0, run.delta_s, run.beta, run.reads.read_rate, run.reads.ttl
    )
    return (
        f"β = {run.beta:.2f}: the median refresh comes {format_seconds(run.median_refresh_gap_s)} "
        f"before expiry; {run.expired_fraction:.1%} of lives expired first "
        f"(formula {expired_formula:.1%})"
    )


class _XFetchDashboard:
    """A β slider, a one-line summary and the figure, redrawn on every move.

    Build it with ``xfetch_dashboard()`` and show it by ending a cell with it. ``run`` holds the
    simulation behind the figure on show, so a cell can assert on it.
    """

    def __init__(
        self,
        delta_s: float,
        *,
        beta: float = 1.0,
        reads_per_delta: float = READS_PER_DELTA,
        ttl_in_deltas: float = TTL_IN_DELTAS,
        lives: int = LIVES,
        seed: int = SEED,
    ) -> None:
        import ipywidgets as widgets

        self.delta_s = delta_s
        self.options = dict(
            reads_per_delta=reads_per_delta, ttl_in_deltas=ttl_in_deltas, lives=lives, seed=seed
        )
        self.run = _simulate_xfetch(beta, delta_s, **self.options)  # bad values: refused here
        self.slider = widgets.FloatSlider(
            value=beta,
            min=0.25,
            max=4.0,
            step=0.25,
            description="β",
            continuous_update=False,
            readout_format=".2f",
        )
        self.slider.add_class("cachelab-beta-slider")
        self.summary = widgets.Label()
        self.summary.add_class("cachelab-beta-summary")
        # Redrawn in place: one message per move carries the new picture. (Not an Output widget:
        # a cell that displayed into one stalled Voila's pages now and then; README, "For
        # maintainers", says why.)
        self.image = widgets.Image(format="png")
        self.image.add_class("cachelab-beta-plot")
        self.slider.observe(self.update, names="value")
        self.widget = widgets.VBox([self.slider, self.summary, self.image])
        self._show(self.run)

    def update(self, change: object = None) -> EarlyRefreshRun:
        """Simulate and redraw for the slider's β (called on every move)."""
        self.run = _simulate_xfetch(self.slider.value, self.delta_s, **self.options)
        self._show(self.run)
        return self.run

    def _show(self, run: EarlyRefreshRun) -> None:
        self.summary.value = _xfetch_summary(run)
        picture = io.BytesIO()
        _plot_xfetch(run).savefig(picture, format="png", bbox_inches="tight")
        self.image.value = picture.getvalue()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def xfetch_dashboard(delta_s: float, **options: Any) -> _XFetchDashboard:
    """The lesson-08 dashboard for a value that takes ``delta_s`` seconds to recompute (Δ).

    ``options``: ``beta`` (where the slider starts, 1.0), ``reads_per_delta`` (λΔ, 2),
    ``ttl_in_deltas`` (T/Δ, 20), ``lives`` (800) and ``seed`` (1).
    """
    return _XFetchDashboard(delta_s, **options)
