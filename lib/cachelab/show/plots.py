"""Figures that lessons show but do not teach: one function per figure, one line in the lesson.

Where drawing a figure is the point, the lesson draws it itself. Where the point is what the figure
shows (a latency distribution, throughput against users, four strategies side by side), the drawing
lives here, so the lesson's cell stays about its numbers. Every figure labels its axes and tells its
series apart by line style, marker or hatching as well as by colour, in the Okabe-Ito palette, whose
colours readers with a colour-vision deficiency can tell apart too. Each function returns its
matplotlib ``Figure``; in a notebook it is shown when the cell ends.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Mapping, Optional, Sequence

from cachelab.lab.timing import format_seconds, percentile

__all__ = [
    "plot_latencies",
    "plot_latency_histograms",
    "plot_load_by_users",
    "plot_protection_runs",
    "plot_rate_sweeps",
    "plot_strategy_runs",
    "plot_warm_up",
]

_BLACK, _ORANGE, _SKY_BLUE, _GREEN = "#000000", "#E69F00", "#56B4E9", "#009E73"
_BLUE, _VERMILLION, _PURPLE, _GREY = "#0072B2", "#D55E00", "#CC79A7", "#7F7F7F"
_SERIES = [  # (colour, line style, marker, hatch): the n-th series of a figure
    (_BLUE, "-", "o", ""),
    (_VERMILLION, "--", "s", "//"),
    (_GREEN, "-.", "^", ".."),
    (_PURPLE, ":", "D", "xx"),
    (_ORANGE, (0, (5, 1, 1, 1)), "v", "\\\\"),
    (_SKY_BLUE, (0, (1, 1)), "P", "--"),
]


def _subplots(
    columns: int, figsize: tuple[float, float], rows: int = 1, **options: Any
) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt  # imported when a figure is drawn, not when cachelab is

    return plt.subplots(rows, columns, figsize=figsize, **options)


def plot_latencies(latencies_s: Sequence[float], title: str = "every request, in order") -> Any:
    """Latencies two ways: each request in the order it ran (left), and how often each latency
    came up (right, a histogram on the same axis), with the median and the p95 marked on both.

    Lesson 02 reads its first latency distribution from it: the order shows when the slow ones
    came, the histogram how they spread.

    >>> figure = plot_latencies([0.010, 0.012, 0.011, 0.030, 0.012])
    >>> [axes.get_xlabel() for axes in figure.axes]
    ['request number', 'requests']
    """
    latencies_ms = [s * 1e3 for s in latencies_s]
    median_s, p95_s = statistics.median(latencies_s), percentile(latencies_s, 95)
    figure, (in_order, histogram) = _subplots(
        2, (10, 3.4), sharey=True, gridspec_kw={"width_ratios": [3, 2]}
    )
    in_order.plot(range(1, len(latencies_ms) + 1), latencies_ms, ".", markersize=4, color=_BLUE)
    in_order.set_xlabel("request number")
    in_order.set_ylabel("latency (ms)")
    in_order.set_title("every request, in order")
    in_order.set_ylim(bottom=0)
    histogram.hist(latencies_ms, bins=30, orientation="horizontal", color=_BLUE, alpha=0.8)
    histogram.set_xlabel("requests")
    histogram.set_title("how often each latency came up")
    marks = [  # (value, colour, line style, width, name)
        (median_s, _BLACK, "--", 1.2, "median"),
        (p95_s, _VERMILLION, ":", 1.6, "p95"),
    ]
    for value_s, colour, style, width, name in marks:
        label = f"{name} {format_seconds(value_s)}"
        for axes in (in_order, histogram):
            axes.axhline(value_s * 1e3, color=colour, linestyle=style, linewidth=width, label=label)
    histogram.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_latency_histograms(
    samples_s: Mapping[str, Sequence[float]], title: str = "latencies", bins: int = 40
) -> Any:
    """Histograms of latency samples on one axis, one per label (``samples_s``: label -> seconds),
    over the same bins so their shapes compare: each in its own colour and hatching, outlined.

    Lesson 02 puts the same query's latencies, alone and beside busy processes, on top of each
    other: the busy one moves right and spreads.
    """
    figure, axes = _subplots(1, (8, 3))
    longest_ms = max(max(samples) for samples in samples_s.values()) * 1e3
    for (label, samples), (colour, _, _, hatch) in zip(samples_s.items(), _SERIES):
        axes.hist(
            [s * 1e3 for s in samples],
            bins=bins,
            range=(0, longest_ms),
            color=colour,
            alpha=0.6,
            hatch=hatch,
            edgecolor=colour,
            label=label,
        )
    axes.set_xlabel("latency (ms)")
    axes.set_ylabel("count")
    axes.set_title(title)
    axes.legend(fontsize=9)
    figure.tight_layout()
    return figure


def plot_load_by_users(
    runs: Sequence[Any], cores: float, cpu_per_request_s: float, title: str = "under load"
) -> Any:
    """Throughput (left) and latency (right) against the number of concurrent users, from one run
    per user count (``lab.loadtest.sweep_users``'s: ``users``, ``throughput_per_s``, ``median_s``,
    ``p95_s``).

    The dotted line on the left is the most the CPU allows: ``min(users, cores)`` requests at a
    time, each needing ``cpu_per_request_s`` of CPU at best.
    """
    users = [run.users for run in runs]
    figure, (throughput, latency) = _subplots(2, (10, 3.6))
    throughput.plot(
        users, [run.throughput_per_s for run in runs], "o-", color=_GREEN, label="measured"
    )
    throughput.plot(
        users,
        [min(u, cores) / cpu_per_request_s for u in users],
        ":",
        color=_GREY,
        label=f"ceiling: min(users, {cores:g} cores) / CPU time per request",
    )
    throughput.set_ylabel("requests per second (all users)")
    throughput.set_title("throughput")
    latency.plot(users, [run.median_s * 1e3 for run in runs], "o-", color=_BLACK, label="median")
    latency.plot(users, [run.p95_s * 1e3 for run in runs], "s--", color=_VERMILLION, label="p95")
    latency.set_ylabel("latency of one request (ms)")
    latency.set_title("latency")
    for axes in (throughput, latency):
        axes.set_ylim(bottom=0)
        axes.set_xscale("log", base=2)
        axes.set_xticks(users, [str(u) for u in users])
        axes.set_xlabel("concurrent users")
        axes.legend(fontsize=9)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_protection_runs(runs: Mapping[Any, Any], title: str = "one burst, each protection") -> Any:
    """Three bar charts side by side, a bar per run of one burst: database loads per expiry, p95
    latency and the most stale value served (``runs``: key -> a run of ``lab.burst.run_burst``,
    with ``label``, ``loads_per_expiry``, ``p95_s`` and ``max_stale_s``). Each protection keeps its
    colour and hatching in every panel.
    """
    labels = [run.label for run in runs.values()]
    charts = [
        ("database loads per expiry", [run.loads_per_expiry for run in runs.values()], "loads"),
        ("p95 latency", [run.p95_s * 1e3 for run in runs.values()], "ms"),
        (
            "most stale value served",
            [run.max_stale_s * 1e3 for run in runs.values()],
            "ms past TTL",
        ),
    ]
    series = [_SERIES[i % len(_SERIES)] for i in range(len(labels))]
    figure, panels = _subplots(3, (12, 0.4 * len(labels) + 2.4), sharey=True)
    for axes, (heading, values, unit) in zip(panels, charts):
        bars = axes.barh(labels, values, color=[colour for colour, *_ in series], edgecolor="white")
        for bar, (*_, hatch) in zip(bars, series):
            bar.set_hatch(hatch)
        axes.set_title(heading)
        axes.set_xlabel(unit)
    panels[0].invert_yaxis()
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_strategy_runs(runs: Mapping[str, Any], title: str = "one workload, each strategy") -> Any:
    """Three bar charts side by side, a bar per strategy: the stale fraction, the hit ratio (its
    axis from 90 %) and the database loads of one workload replayed under each (``runs``: name ->
    a run with ``stale_fraction``, ``hit_ratio`` and ``db_loads``, as ``lab.staleness.run_workload``
    returns). Each strategy keeps its colour and hatching in every panel.
    """
    names = list(runs)
    figure, panels = _subplots(3, (9, 0.35 * len(names) + 1.7), constrained_layout=True)
    stale = [run.stale_fraction for run in runs.values()]
    hits = [run.hit_ratio for run in runs.values()]
    loads = [run.db_loads for run in runs.values()]
    charts = [
        ("stale fraction", "share of reads", stale, "{:.1%}", (0, max(0.6, 1.2 * max(stale)))),
        ("hit ratio", "share of reads (axis from 90 %)", hits, "{:.1%}", (min(0.9, *hits), 1.02)),
        ("database loads", "loads in the run", loads, "{:.0f}", (0, 1.25 * max(loads))),
    ]
    series = [_SERIES[i % len(_SERIES)] for i in range(len(names))]
    for axes, (heading, unit, values, shown, limits) in zip(panels, charts):
        bars = axes.barh(names, values, color=[colour for colour, *_ in series], edgecolor="white")
        for bar, (*_, hatch) in zip(bars, series):
            bar.set_hatch(hatch)
        axes.bar_label(bars, fmt=shown, fontsize=8, padding=2)
        axes.set_title(heading, fontsize=10)
        axes.set_xlabel(unit, fontsize=8)
        axes.set_xlim(*limits)
        axes.invert_yaxis()
    for axes in panels[1:]:
        axes.set_yticklabels([])
    figure.suptitle(title, fontsize=10)
    return figure


def plot_warm_up(runs: Mapping[str, Any], bin_s: float = 0.5) -> Any:
    """Keys written together: when each key's first value expired (left, a histogram) and the
    database loads in each second (right), one series per run (``runs``: label -> a run of
    ``lab.burst.SimulatedReads.warm_up``, with ``first_expiries_s`` and ``loads_per_second()``).
    """
    import numpy as np

    figure, (expiries, loads) = _subplots(2, (10, 3.3))
    every_expiry = [t for run in runs.values() for t in run.first_expiries_s]
    low, high = math.floor(min(every_expiry)) - 1, math.ceil(max(every_expiry)) + 1
    bins = np.arange(low, high + bin_s, bin_s)
    for i, (label, run) in enumerate(runs.items()):
        colour, style, _, hatch = _SERIES[i % len(_SERIES)]
        expiries.hist(
            run.first_expiries_s, bins=bins, color=colour, alpha=0.5, hatch=hatch, label=label
        )
        per_second = run.loads_per_second()
        loads.step(
            np.arange(len(per_second)),
            per_second,
            where="post",
            color=colour,
            linestyle=style,
            label=label,
        )
    expiries.set_xlabel("when the warm-up's value expired (s)")
    expiries.set_ylabel("keys")
    expiries.set_title(
        f"expiries of {len(every_expiry) // max(len(runs), 1)} keys written together"
    )
    loads.set_xlabel("time (s)")
    loads.set_ylabel("database loads in that second")
    loads.set_title("database loads per second")
    for axes in (expiries, loads):
        axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


_SWEEP_PANELS = ("latency", "throughput", "errors: timeouts and cut-offs", "load on the database")
"""The titles of the four panels of ``plot_rate_sweeps``, in reading order."""


def plot_rate_sweeps(
    sweeps: Mapping[str, Sequence[Any]],
    ceiling_per_s: float,
    p95_budget_s: float,
    title: str = "the service under load",
    colours: Optional[Mapping[str, str]] = None,
) -> Any:
    """Four views of load sweeps against the arrival rate offered, one series per sweep
    (``sweeps``: name -> the runs of ``web.sweep_rates``, each with ``rate_per_s``, ``ok``,
    ``median_s``, ``p95_s``, ``p99_s``, ``throughput_per_s``, ``error_fraction`` and
    ``db_queries_per_s``): latency (the p95 as a line, the p50 to p99 as a band), throughput,
    errors and database queries per second.

    A dotted vertical line marks ``ceiling_per_s`` (lesson 10's predicted ceiling, cores / S) in
    every panel, a grey line the p95 budget, and a dotted diagonal "everything offered, served".
    Each sweep keeps its colour, line style and marker in every panel; pass ``colours`` (name ->
    colour) to match another figure's.
    """
    figure, panels = _subplots(2, (11, 7.5), rows=2)
    (latency, throughput), (errors, queries) = panels
    for (name, runs), (colour, style, marker, _) in zip(sweeps.items(), _SERIES):
        colour = (colours or {}).get(name, colour)
        line = dict(color=colour, linestyle=style, marker=marker, markersize=5, label=str(name))
        answered = [run for run in runs if run.ok]
        answered_rates = [run.rate_per_s for run in answered]
        latency.plot(answered_rates, [run.p95_s * 1e3 for run in answered], **line)
        latency.fill_between(
            answered_rates,
            [run.median_s * 1e3 for run in answered],
            [run.p99_s * 1e3 for run in answered],
            color=colour,
            alpha=0.12,
        )
        rates = [run.rate_per_s for run in runs]
        throughput.plot(rates, [run.throughput_per_s for run in runs], **line)
        errors.plot(rates, [100 * run.error_fraction for run in runs], **line)
        queries.plot(rates, [run.db_queries_per_s for run in runs], **line)
    every_run = [run for runs in sweeps.values() for run in runs]
    lowest, highest = min(r.rate_per_s for r in every_run), max(r.rate_per_s for r in every_run)
    throughput.plot(
        [lowest, highest], [lowest, highest], ":", color=_GREY, label="everything offered, served"
    )
    latency.axhline(
        p95_budget_s * 1e3,
        color=_GREY,
        linewidth=1,
        label=f"p95 budget {format_seconds(p95_budget_s)}",
    )
    for axes in panels.flat:
        axes.axvline(ceiling_per_s, color=_GREY, linestyle=":", linewidth=1.2)
        axes.set_xscale("log")
        axes.set_xlabel("arrival rate offered (requests/s, log scale)")
    latency.set_yscale("log")
    latency.set_ylabel("latency (ms, log): p95 line, p50-p99 band")
    throughput.set_yscale("log")
    throughput.set_ylabel("answers per second (log)")
    errors.set_ylabel("errors (% of requests)")
    errors.set_ylim(0, max(5, *(100 * run.error_fraction for run in every_run)) * 1.1)
    queries.set_ylabel("database queries per second")
    for axes, heading in zip(panels.flat, _SWEEP_PANELS):
        axes.set_title(heading)
    count = len(sweeps)
    handles, labels = latency.get_legend_handles_labels()
    figure.legend(handles[:count], labels[:count], loc="lower center", ncol=count, fontsize=9)
    latency.legend(handles[count:], labels[count:], fontsize=8, loc="upper right")
    extra_handles, extra_labels = throughput.get_legend_handles_labels()
    throughput.legend(extra_handles[count:], extra_labels[count:], fontsize=8, loc="upper left")
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return figure
