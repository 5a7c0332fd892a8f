"""timing: medians, percentiles and ratios, measured honestly, tested without trusting the clock."""

import os
import signal
import time

import pytest

from cachelab.clock import FakeClock
from cachelab.lab import timing
from cachelab.lab.burst import BurstRun, Protection, _BurstRequest
from cachelab.lab.loadtest import HammerRun
from cachelab.lab.timing import Latencies, Timing, format_seconds, measure, percentile, speedup
from cachelab.web._load import LoadRun

# --- percentile -----------------------------------------------------------------------------------


@pytest.mark.parametrize("q, expected", [(0, 1), (25, 2), (50, 3), (75, 4), (100, 5)])
def test_percentile_of_evenly_spaced_samples_lands_on_a_sample(q, expected):
    assert percentile([5, 3, 1, 4, 2], q) == expected


def test_percentile_interpolates_between_the_nearest_ranks():
    assert percentile([1.0, 2.0], 50) == 1.5
    assert percentile([0, 10], 95) == pytest.approx(9.5)


def test_percentile_of_one_sample_is_that_sample():
    assert percentile([7.0], 95) == 7.0


def test_percentile_does_not_reorder_the_callers_list():
    samples = [3, 1, 2]
    percentile(samples, 50)
    assert samples == [3, 1, 2]


def test_percentile_of_no_samples_is_an_error():
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


@pytest.mark.parametrize("q", [-1, 100.1, 150])
def test_percentile_outside_0_to_100_is_an_error(q):
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1, 2, 3], q)


# --- Timing and speedup ---------------------------------------------------------------------------


def test_timing_summaries_come_from_its_samples():
    t = Timing("query", [0.004, 0.001, 0.002, 0.003, 0.010])
    assert t.median_s == 0.003
    assert t.min_s == 0.001 and t.max_s == 0.010
    assert t.median_ms == pytest.approx(3.0)
    assert t.median_us == pytest.approx(3000.0)
    assert t.p95_s == pytest.approx(percentile(t.latencies_s, 95))


def test_timing_summary_is_one_table_row_in_microseconds():
    row = Timing("hit", [1e-6, 2e-6, 3e-6]).summary()
    assert row == {
        "what": "hit",
        "samples": 3,
        "median_us": 2.0,
        "p95_us": 2.9,
        "p99_us": 2.98,
        "min_us": 1.0,
    }


def test_every_latency_summary_is_inf_without_latencies():
    empty = Timing("nothing answered", [])
    assert empty.median_s == empty.p95_s == empty.p99_s == empty.mean_s == float("inf")
    assert empty.summary()["p99_us"] is None


def _burst_run(latencies_s: list[float]) -> BurstRun:
    requests = [_BurstRequest(i * 0.1, 0, latency, 0.0) for i, latency in enumerate(latencies_s)]
    return BurstRun(Protection.NONE, 100.0, 1.0, 0.5, 1, 1, [0.5], requests, [])


@pytest.mark.parametrize(
    "make_run",
    [
        lambda latencies_s: Timing("calls", latencies_s),
        lambda latencies_s: HammerRun(users=2, latencies_s=latencies_s, elapsed_s=1.0),
        lambda latencies_s: LoadRun(10.0, len(latencies_s), len(latencies_s), 1.0, latencies_s),
        _burst_run,
    ],
    ids=["Timing", "HammerRun", "LoadRun", "BurstRun"],
)
def test_every_run_type_summarises_its_latencies_the_one_way(make_run):
    latencies_s = [0.040, 0.010, 0.030, 0.020, 0.100]
    run = make_run(latencies_s)
    assert isinstance(run, Latencies)
    assert run.median_s == 0.030
    assert run.p95_s == pytest.approx(percentile(latencies_s, 95))
    assert run.p99_s == pytest.approx(percentile(latencies_s, 99))
    assert run.mean_s == pytest.approx(0.040)
    unit = run.unit
    row = run.summary()
    assert row[f"median_{unit}"] == pytest.approx(0.030 * {"ms": 1e3, "us": 1e6}[unit])
    assert {f"median_{unit}", f"p95_{unit}", f"p99_{unit}"} <= row.keys()


def test_timing_str_names_the_label_median_and_sample_count():
    text = str(Timing("redis get", [40e-6, 50e-6, 60e-6]))
    assert text.startswith("redis get: median 50.0 µs") and "3 samples" in text


def test_speedup_is_the_ratio_of_the_medians():
    slow = Timing("db", [0.020, 0.030, 0.040])
    fast = Timing("cache", [0.001, 0.003, 0.002])
    assert speedup(slow, fast) == pytest.approx(15.0)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (2.5, "2.50 s"),
        (0.0042, "4.2 ms"),
        (0.000042, "42.0 µs"),
        (4.2e-8, "42 ns"),
        (1e-3, "1.0 ms"),
    ],
)
def test_format_seconds_picks_the_unit_a_human_would(seconds, text):
    assert format_seconds(seconds) == text


# --- measure --------------------------------------------------------------------------------------


@pytest.fixture
def ticking(monkeypatch):
    """Make ``time.perf_counter`` a fake clock that moves only when the measured code moves it."""
    clock = FakeClock(start=100.0)
    monkeypatch.setattr(time, "perf_counter", clock)
    return clock


def test_measure_calls_warmup_plus_repeat_times_number(ticking):
    calls = []
    measure(lambda: calls.append(1), repeat=5, number=3, warmup=2)
    assert len(calls) == 2 + 5 * 3


def test_measure_returns_one_sample_per_repeat_in_seconds_per_call(ticking):
    result = measure(lambda: ticking.advance(0.25), repeat=4, number=8, warmup=1)
    assert len(result.latencies_s) == 4
    assert result.latencies_s == pytest.approx([0.25] * 4)


def test_measure_does_not_time_the_warmup(ticking):
    costs = iter([10.0, 10.0] + [0.5] * 3)
    result = measure(lambda: ticking.advance(next(costs)), repeat=3, warmup=2)
    assert result.median_s == pytest.approx(0.5)


def test_measure_labels_the_timing_with_the_label_or_the_function_name(ticking):
    def trending_query():
        pass

    assert measure(trending_query, repeat=1).label == "trending_query"
    assert measure(trending_query, repeat=1, label="uncached").label == "uncached"


@pytest.mark.parametrize(
    "option", [{"repeat": 0}, {"number": 0}, {"warmup": -1}, {"repeat": 2.5}, {"number": True}]
)
def test_measure_rejects_counts_that_are_not_whole_numbers_in_range(option):
    with pytest.raises((TypeError, ValueError), match="must be a whole number"):
        measure(lambda: None, **option)


def test_measure_with_the_real_clock_tells_cheap_from_expensive_work():
    cheap = measure(lambda: None, repeat=15, number=100)
    expensive = measure(lambda: sum(range(20_000)), repeat=15)
    assert speedup(expensive, cheap) > 10  # a loose ratio: thousands on any machine


# --- plot_ladder ----------------------------------------------------------------------------------


def test_plot_ladder_draws_one_bar_per_timing_fastest_first():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = timing.plot_ladder(
        [Timing("database", [5e-3]), Timing("memory", [50e-9]), Timing("redis", [50e-6])]
    )
    try:
        assert [label.get_text() for label in ax.get_yticklabels()] == [
            "memory",
            "redis",
            "database",
        ]
        assert ax.get_xscale() == "log"
    finally:
        plt.close(ax.figure)


def test_plot_latency_parts_stacks_each_request_s_parts_each_with_its_own_hatching():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = timing.plot_latency_parts(
        {"the database": [0.010, 0.020], "waiting": [0.250, 0.001]},
        limit_s=0.25,
        limit_label="timeout",
    )
    try:
        database, waiting = ax.containers
        assert [bar.get_y() for bar in waiting] == pytest.approx([10.0, 20.0]), "stacked on top"
        assert [bar.get_height() for bar in waiting] == pytest.approx([250.0, 1.0])
        assert database[0].get_hatch() != waiting[0].get_hatch(), "told apart without colour"
        assert [line.get_ydata()[0] for line in ax.lines] == [250.0]
        assert [text.get_text() for text in ax.get_legend().get_texts()] == [
            "timeout",
            "the database",
            "waiting",
        ]
    finally:
        plt.close(ax.figure)
    with pytest.raises(ValueError, match="one time per request"):
        timing.plot_latency_parts({"a": [1.0], "b": [1.0, 2.0]})


# --- competing_work -------------------------------------------------------------------------------


def test_competing_work_keeps_its_processes_busy_during_the_block_and_terminates_them_after():
    import psutil

    with timing.competing_work(processes=2, time_limit_s=30) as busy:
        assert len(busy) == 2 and all(process.poll() is None for process in busy)
        started = [psutil.Process(process.pid).cpu_times().user for process in busy]
        time.sleep(0.5)
        spent = [psutil.Process(p.pid).cpu_times().user - t for p, t in zip(busy, started)]
        assert all(seconds > 0 for seconds in spent), (
            f"they spin on the CPU (user seconds: {spent})"
        )
    assert [process.returncode for process in busy] == [-signal.SIGTERM] * 2, (
        "terminated when the block ended"
    )


def test_competing_work_terminates_its_processes_when_the_block_raises():
    with pytest.raises(KeyboardInterrupt):
        with timing.competing_work(processes=1, time_limit_s=30) as busy:
            raise KeyboardInterrupt
    assert busy[0].returncode == -signal.SIGTERM


def test_a_competing_process_stops_by_itself_after_its_time_limit():
    with timing.competing_work(processes=1, time_limit_s=0.3) as busy:
        assert busy[0].wait(timeout=10) == 0, "it ended by itself, with exit status 0"


@pytest.mark.parametrize("processes, time_limit_s", [(0, 1), (True, 1), (1.5, 1), (1, 0), (1, 1e6)])
def test_competing_work_refuses_bad_arguments(processes, time_limit_s):
    with pytest.raises((TypeError, ValueError), match="processes|time_limit_s"):
        with timing.competing_work(processes, time_limit_s):
            pass


def _affinity() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@pytest.mark.parametrize(
    "files, quota_cores",
    [
        ({"cpu.max": "200000 100000\n"}, 2),  # cgroup v2, 2 CPUs
        ({"cpu.max": "150000 100000\n"}, 1.5),  # 1.5 CPUs: a ceiling is 1.5 / S, not 2 / S
        ({"cpu.max": "50000 100000\n"}, 0.5),  # half a CPU's worth of work per second
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1
    ],
)
def test_usable_cores_is_capped_by_a_cgroup_cpu_quota(tmp_path, files, quota_cores):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert timing.usable_cores(tmp_path) == min(_affinity(), quota_cores)


@pytest.mark.parametrize(
    "files",
    [
        {},  # no cgroup files at all (macOS, an old kernel)
        {"cpu.max": "max 100000\n"},  # v2 without a quota
        {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},  # v1 without one
        {"cpu.max": "garbage\n"},
    ],
)
def test_usable_cores_without_a_quota_is_every_cpu_this_process_may_run_on(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert timing.usable_cores(tmp_path) == _affinity()
