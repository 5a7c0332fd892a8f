"""Measure how long things take -- honestly: medians and percentiles, never a single run.

One measurement is a story; many are data. ``measure`` calls a function many
times (after a few warm-up calls that fill the CPU's, the OS's and SQLite's own
caches), and returns a ``Timing`` that holds every sample. Lessons report the
median (the typical request) and p95 (the slow ones users notice), and compare
two things by the ratio of their medians, which travels between machines far
better than absolute figures do.

Very fast operations (a dict lookup takes tens of nanoseconds, less than the
clock's own overhead) are timed in batches of ``number`` calls per sample.

``Latencies`` is the one vocabulary of every measurement in the course: a ``Timing`` here,
``loadtest``'s ``HammerRun``, ``burst``'s ``BurstRun`` and the web ``LoadRun`` each hold their
latencies in ``latencies_s`` and inherit ``median_s``, ``p95_s``, ``p99_s``, ``mean_s`` and the
latency columns of ``summary()`` from it. A base class, not a field holding one: a lesson reads
``run.p95_s`` whatever the run, never ``run.latency.p95_s``.

``competing_work`` starts a few CPU-bound processes beside a measurement, so a
lesson can show where a latency tail comes from: work that lands on top of a
request, because something else wanted the same cores at the same moment.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Optional, Sequence

from tqdm.auto import tqdm

from cachelab._internal.validation import validate_number, validate_whole_number

__all__ = [
    "competing_work",
    "format_seconds",
    "measure",
    "percentile",
    "plot_ladder",
    "plot_latency_parts",
    "speedup",
    "usable_cores",
]


class Latencies:
    """Median, p95, p99 and mean of ``latencies_s``: the summaries every run type shares.

    A class that inherits from it has ``latencies_s``, a list of seconds (a field or a
    property). With no latencies at all (every request failed) each figure is ``inf``, so a
    comparison with a budget fails rather than raises. ``summary()`` gives the latency columns of
    a table row in ``unit`` (``"ms"``; ``"us"`` for microseconds, the unit of cache operations);
    each run type puts its own columns in front.
    """

    latencies_s: Sequence[float]
    unit: ClassVar[str] = "ms"

    @property
    def median_s(self) -> float:
        """The typical latency: half the requests took less."""
        return statistics.median(self.latencies_s) if self.latencies_s else math.inf

    @property
    def p95_s(self) -> float:
        """The slow ones users notice: one request in twenty took longer."""
        return percentile(self.latencies_s, 95) if self.latencies_s else math.inf

    @property
    def p99_s(self) -> float:
        """The tail: one request in a hundred took longer."""
        return percentile(self.latencies_s, 99) if self.latencies_s else math.inf

    @property
    def mean_s(self) -> float:
        """The mean, in seconds (Little's law talks about means; latencies are better told by
        medians).
        """
        return statistics.fmean(self.latencies_s) if self.latencies_s else math.inf

    def summary(self) -> dict[str, Any]:
        """The latency columns of a table row: median, p95 and p99 in ``unit`` (None for inf)."""
        scale = {"ms": 1e3, "us": 1e6}[self.unit]

        def shown(seconds: float) -> Optional[float]:
            return round(seconds * scale, 2) if math.isfinite(seconds) else None

        return {
            f"median_{self.unit}": shown(self.median_s),
            f"p95_{self.unit}": shown(self.p95_s),
            f"p99_{self.unit}": shown(self.p99_s),
        }


@dataclass
class Timing(Latencies):
    """The samples of one measurement, in seconds per call, with the summaries lessons use."""

    label: str
    latencies_s: list[float] = field(repr=False)
    unit: ClassVar[str] = "us"

    @property
    def min_s(self) -> float:
        return min(self.latencies_s, default=math.inf)

    @property
    def max_s(self) -> float:
        return max(self.latencies_s, default=math.inf)

    @property
    def median_us(self) -> float:
        """The median in microseconds (µs), the unit that suits cache operations."""
        return self.median_s * 1e6

    @property
    def median_ms(self) -> float:
        """The median in milliseconds (ms), the unit that suits database queries."""
        return self.median_s * 1e3

    def summary(self) -> dict[str, Any]:
        """One row for a table: label, samples, and median/p95/p99/min in µs."""
        return {
            "what": self.label,
            "samples": len(self.latencies_s),
            **super().summary(),
            "min_us": round(self.min_s * 1e6, 2) if self.latencies_s else None,
        }

    def __str__(self) -> str:
        median, p95 = format_seconds(self.median_s), format_seconds(self.p95_s)
        return f"{self.label}: median {median}, p95 {p95} ({len(self.latencies_s)} samples)"


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``samples``, interpolated between the nearest ranks."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q!r}")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def format_seconds(seconds: float) -> str:
    """``0.000042`` → ``'42.0 µs'``: the unit a human would pick."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e9:.0f} ns"


def measure(
    func: Callable[[], Any],
    repeat: int = 30,
    number: int = 1,
    warmup: int = 3,
    label: Optional[str] = None,
    progress: bool = False,
) -> Timing:
    """Call ``func()`` ``warmup`` times untimed, then ``repeat`` samples of ``number`` calls each.

    Each sample is the time of its batch divided by ``number``: seconds per call.
    Pass ``progress=True`` for a progress bar on long measurements.
    """
    validate_whole_number(repeat, "repeat")
    validate_whole_number(number, "number")
    validate_whole_number(warmup, "warmup", minimum=0)
    for _ in range(warmup):
        func()
    samples = []
    batch = range(number)
    for _ in tqdm(range(repeat), desc=label or "measuring", disable=not progress, leave=False):
        started = time.perf_counter()
        for _ in batch:
            func()
        samples.append((time.perf_counter() - started) / number)
    return Timing(label or getattr(func, "__name__", "call"), samples)


def speedup(slow: Timing, fast: Timing) -> float:
    """How many times faster ``fast`` is than ``slow``, by the ratio of their medians."""
    return slow.median_s / fast.median_s


def plot_ladder(
    timings: Sequence[Timing],
    ax=None,
    title: str = "The latency ladder (median per call, log scale)",
):
    """A horizontal bar chart of median latencies on a log scale, fastest at the top.

    Each bar is labelled with its median; a thin line marks its p95. Returns the
    matplotlib ``Axes`` so a lesson can add to it.
    """
    import matplotlib.pyplot as plt

    ordered = sorted(timings, key=lambda t: t.median_s)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.6 * len(ordered) + 1.2))
    labels = [t.label for t in ordered]
    medians_us = [t.median_us for t in ordered]
    ax.barh(labels, medians_us, color="tab:blue")
    ax.errorbar(
        medians_us,
        labels,
        xerr=[[0] * len(ordered), [t.p95_s * 1e6 - t.median_us for t in ordered]],
        fmt="none",
        ecolor="black",
        capsize=3,
        linewidth=1,
    )
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("microseconds per call (log scale; whisker: p95)")
    ax.set_title(title)
    for timing, label, value in zip(ordered, labels, medians_us):
        # beyond the p95 whisker, so the figure and the whisker never overlap
        ax.annotate(
            format_seconds(value / 1e6),
            (max(value, timing.p95_s * 1e6), label),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    longest_us = max(max(t.p95_s, t.median_s) * 1e6 for t in ordered)
    ax.set_xlim(right=longest_us * 30)  # room on the log axis for the last label
    return ax


_PART_STYLES = (("#0072B2", ""), ("#E69F00", "//"), ("#009E73", ".."), ("#CC79A7", "xx"))
"""The parts of ``plot_latency_parts``, in order: an Okabe-Ito colour and a hatching each."""


def plot_latency_parts(
    parts_s: Mapping[str, Sequence[float]],
    limit_s: Optional[float] = None,
    limit_label: str = "",
    title: str = "",
    ax=None,
):
    """Each request's latency as one bar stacked from its parts, in request order.

    ``parts_s`` maps a part's name to one time per request, in seconds (``{"the database":
    [...], "waiting for Redis": [...]}``). The parts differ in hatching as well as in colour,
    so the figure reads without colour too. ``limit_s`` draws a dashed line (a timeout, a
    budget) named ``limit_label`` in the legend. Returns the matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt

    lengths = {len(times_s) for times_s in parts_s.values()}
    if len(lengths) != 1 or len(parts_s) > len(_PART_STYLES):
        raise ValueError(
            f"parts_s needs 1 to {len(_PART_STYLES)} parts with one time per request each, got "
            + ", ".join(f"{name!r}: {len(times_s)}" for name, times_s in parts_s.items())
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 2.6))
    numbers = list(range(1, lengths.pop() + 1))
    bottom_ms = [0.0] * len(numbers)
    for (name, times_s), (colour, hatch) in zip(parts_s.items(), _PART_STYLES):
        heights_ms = [t * 1e3 for t in times_s]
        ax.bar(numbers, heights_ms, bottom=bottom_ms, color=colour, hatch=hatch, label=name)
        bottom_ms = [b + h for b, h in zip(bottom_ms, heights_ms)]
    if limit_s is not None:
        ax.axhline(limit_s * 1e3, color="black", linestyle="--", linewidth=1, label=limit_label)
    ax.set_xticks(numbers)
    ax.set_xlabel("request number")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


# A busy loop that ends by itself after argv[1] seconds, so a kernel that dies mid-lesson
# leaves nothing spinning for long. It prints one line once it is running.
_SPIN = """
import sys, time
end = time.monotonic() + float(sys.argv[1])
print("spinning", flush=True)
while time.monotonic() < end:
    pass
"""

_MAX_COMPETING_SECONDS = 1800.0
"""The longest a ``competing_work`` process may be asked to run (half an hour: long enough to
load a whole lesson's run, as ``scripts/time_lessons.py`` does). Each stops by itself after its
``time_limit_s``, whatever happens.
"""


@contextlib.contextmanager
def competing_work(processes: int, time_limit_s: float = 30.0) -> Iterator[list[subprocess.Popen]]:
    """Keep ``processes`` other processes busy on the CPU while the ``with`` block runs.

    Each is a plain Python busy loop (no I/O), as another program would be that
    wants the same cores. They are stopped when the block ends (also on an
    exception or a kernel interrupt), and each stops by itself after
    ``time_limit_s`` in any case, so nothing is left spinning if the kernel dies.
    The block receives the busy processes (``subprocess.Popen`` objects).

    >>> with competing_work(processes=1, time_limit_s=5) as busy:
    ...     len(busy), busy[0].poll() is None
    (1, True)
    """
    validate_whole_number(processes, "processes", maximum=64)
    validate_number(
        time_limit_s, "time_limit_s", above=0, maximum=_MAX_COMPETING_SECONDS, unit="seconds"
    )
    spinners: list[subprocess.Popen] = []
    try:
        for _ in range(processes):
            spinners.append(
                subprocess.Popen(
                    [sys.executable, "-c", _SPIN, str(time_limit_s)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )
        for spinner in spinners:  # wait until every one is really running
            spinner.stdout.readline()
        yield spinners
    finally:
        for spinner in spinners:
            spinner.terminate()
        for spinner in spinners:
            try:
                spinner.wait(timeout=5)
            except subprocess.TimeoutExpired:
                spinner.kill()
                spinner.wait()
            spinner.stdout.close()


def usable_cores(cgroup_root: str | Path = "/sys/fs/cgroup") -> float:
    """How many CPUs' worth of work this process can do per second: the CPUs it may run on,
    capped by a CPU quota.

    Why not ``os.cpu_count()``: Binder, JupyterHub on Kubernetes and most containers limit CPU
    with a cgroup *quota* (cgroup v2's ``cpu.max``, v1's ``cpu.cfs_quota_us`` over
    ``cpu.cfs_period_us``), while the CPU count and ``os.sched_getaffinity`` still list every CPU
    of the host. A capacity prediction made from the host's count would be many times too high.
    A quota can be fractional, and so is the answer: 1.5 CPUs is 1.5, which is what a throughput
    ceiling (cores / service time) needs. Where a whole number of things must run at once (users,
    threads), round it up: ``math.ceil(usable_cores())`` -- two requests can run at once on 1.5
    CPUs, each a little slower.
    """
    if hasattr(os, "sched_getaffinity"):
        cores: float = len(os.sched_getaffinity(0))
    else:  # macOS, Windows
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota(Path(cgroup_root))
    if quota is not None:
        cores = min(cores, quota)
    return cores


def _cgroup_cpu_quota(root: Path) -> Optional[float]:
    """The CPUs' worth of time per second a cgroup quota allows, or None where there is none."""
    try:  # cgroup v2: "max 100000" (no quota) or "200000 100000" (2 CPUs)
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1: a quota of -1 means none
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None
