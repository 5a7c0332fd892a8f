"""Tests of cachelab.lab.loadtest: concurrent users hammering a page, with real SQLite
connections."""

from __future__ import annotations

import statistics
import threading
from pathlib import Path

import pytest

from cachelab.clock import FakeClock
from cachelab.lab.loadtest import HammerRun, hammer, sweep_users
from cachelab.lab.timing import percentile
from cachelab.shop.app import Shop


def counting_request_factory():
    """A make_request that records which thread made each user, and counts requests."""
    lock = threading.Lock()
    made_in: list[int] = []
    calls = {"n": 0}

    def make_request():
        with lock:
            made_in.append(threading.get_ident())

        def request():
            with lock:
                calls["n"] += 1

        return request

    return make_request, made_in, calls


def test_hammer_makes_users_times_requests_per_user_requests():
    make_request, _, calls = counting_request_factory()
    result = hammer(make_request, users=3, requests_per_user=5)
    assert calls["n"] == 15
    assert result.requests == 15
    assert len(result.latencies_s) == 15


def test_make_request_is_called_once_in_each_users_own_thread():
    make_request, made_in, _ = counting_request_factory()
    hammer(make_request, users=4, requests_per_user=2)
    assert len(made_in) == 4
    assert len(set(made_in)) == 4
    assert threading.get_ident() not in made_in


def test_each_user_can_use_its_own_real_sqlite_connection(tiny_shop_path: Path):
    shops: list[Shop] = []
    lock = threading.Lock()

    def make_request():
        shop = Shop(tiny_shop_path)  # opened in the user's thread, used only there
        with lock:
            shops.append(shop)
        return shop.trending

    result = hammer(make_request, users=3, requests_per_user=4)
    assert result.requests == 12
    assert [shop.queries for shop in shops] == [4, 4, 4]


def test_throughput_is_requests_divided_by_elapsed_time():
    result = HammerRun(users=2, latencies_s=[0.1, 0.2, 0.3, 0.4], elapsed_s=0.5)
    assert result.throughput_per_s == pytest.approx(8.0)


def test_median_p95_and_mean_summarise_the_latencies():
    samples = [0.01 * i for i in range(1, 101)]
    result = HammerRun(users=1, latencies_s=samples, elapsed_s=1.0)
    assert result.median_s == pytest.approx(statistics.median(samples))
    assert result.p95_s == pytest.approx(percentile(samples, 95))
    assert result.mean_s == pytest.approx(statistics.fmean(samples))


def test_summary_reports_milliseconds():
    row = HammerRun(users=2, latencies_s=[0.010, 0.020, 0.030], elapsed_s=0.5).summary()
    assert row == {
        "users": 2,
        "requests": 3,
        "throughput_per_s": 6.0,
        "median_ms": 20.0,
        "p95_ms": 29.0,
        "p99_ms": 29.8,
    }


def test_latencies_are_per_request_not_per_user():
    """Each request takes exactly one second on the fake clock: a per-user, cumulative timer would
    see
    1, 2, 3 …
    """
    clock = FakeClock()
    result = hammer(lambda: lambda: clock.advance(1.0), users=1, requests_per_user=5, clock=clock)
    assert result.latencies_s == [1.0] * 5
    assert result.elapsed_s == 5.0 and result.throughput_per_s == 1.0


def test_an_error_in_a_request_is_raised_in_the_caller():
    def make_request():
        def request():
            raise LookupError("no such page")

        return request

    with pytest.raises(LookupError, match="no such page"):
        hammer(make_request, users=3, requests_per_user=2)


def test_an_error_while_opening_a_user_is_raised_without_hanging():
    def make_request():
        raise FileNotFoundError("no shop database here")

    with pytest.raises(FileNotFoundError, match="no shop database"):
        hammer(make_request, users=3, requests_per_user=2)


def test_make_request_must_return_a_function():
    with pytest.raises(TypeError, match="must return a function"):
        hammer(lambda: 42, users=2, requests_per_user=1)


@pytest.mark.parametrize(
    "users, requests_per_user, message",
    [
        (0, 1, "users must be"),
        (2, 0, "requests_per_user must be"),
        (1.5, 1, "users must be"),
        (True, 1, "users must be"),
        (10_000, 1, "users must be"),
    ],
)
def test_bad_counts_are_rejected_with_a_clear_error(users, requests_per_user, message):
    with pytest.raises((TypeError, ValueError), match=message):
        hammer(lambda: lambda: None, users=users, requests_per_user=requests_per_user)


def test_make_request_must_be_callable():
    with pytest.raises(TypeError, match="make_request must be a function"):
        hammer("trending", users=1, requests_per_user=1)


def test_sweep_users_gives_one_result_per_level_in_order_with_requests_split_between_users():
    make_request, _, calls = counting_request_factory()
    results = sweep_users(make_request, [1, 2, 4, 8], requests_per_level=8, progress=False)
    assert [r.users for r in results] == [1, 2, 4, 8]
    assert [r.requests for r in results] == [8, 8, 8, 8]
    assert calls["n"] == 32


def test_sweep_users_gives_every_user_at_least_one_request():
    results = sweep_users(lambda: lambda: None, [5], requests_per_level=2, progress=False)
    assert results[0].requests == 5


def test_sweep_users_rejects_an_empty_list_of_levels():
    with pytest.raises(ValueError, match="user_counts is empty"):
        sweep_users(lambda: lambda: None, [], requests_per_level=2)


def test_elapsed_runs_from_the_first_request_to_the_last_even_when_the_caller_is_late():
    """The thread that starts the users may get a core long after they do (a busy machine): the
    elapsed time must still cover every request, or Little's law (mean latency <= users /
    throughput) breaks.
    """
    fake = FakeClock()
    users_done = threading.Event()
    calls = {"n": 0}

    def clock() -> float:
        if threading.current_thread() is threading.main_thread():
            users_done.wait(timeout=5)  # the caller gets no core until the users are done
        return fake()

    def request() -> None:
        fake.advance(1.0)
        calls["n"] += 1
        if calls["n"] == 3:
            users_done.set()

    result = hammer(lambda: request, users=1, requests_per_user=3, clock=clock)
    assert result.elapsed_s == 3.0
    assert sum(result.latencies_s) <= result.elapsed_s * result.users
