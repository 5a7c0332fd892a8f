"""The open-loop load generator: it keeps to its budget, stops by itself, and counts honestly.

Small budgets against a real service (the tiny shop, uncached, two workers), and a
server that accepts connections but never answers -- the worst case for a
generator that must stop by itself.
"""

from __future__ import annotations

import socket
import time
from typing import Iterator

import pytest

from cachelab.web._load import (
    MAX_RATE,
    MAX_REQUESTS,
    LoadRun,
    run_load,
    sustained,
    sweep_rates,
    validate_local_url,
)
from cachelab.web._service import WebService


@pytest.fixture(scope="module")
def uncached(tiny_shop_path) -> Iterator[WebService]:
    with WebService("none", workers=2, db_path=tiny_shop_path) as service:
        yield service


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts connections (the kernel does, into the backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_a_run_sends_its_whole_budget_and_counts_every_answer(uncached):
    run = run_load(uncached.url, rate_per_s=200, requests=60, progress=False)
    assert (run.sent, run.ok, run.errors) == (60, 60, 0)
    assert run.statuses == {200: 60}
    assert run.db_queries == 60, "uncached: one trending query per homepage, read from /stats"
    assert run.cpu_s > 0 and run.cpu_per_answer_s == run.cpu_s / 60, "CPU time, read from /stats"
    assert 0 < run.median_s <= run.p95_s <= run.p99_s


def test_requests_go_to_the_paths_given_and_other_statuses_are_errors(uncached):
    run = run_load(uncached.url, 200, 40, paths=["/", "/products/99999"], progress=False)
    assert run.statuses[200] + run.statuses[404] == 40
    assert run.statuses[404] > 0 and run.errors == run.statuses[404]


def test_arrivals_come_at_the_offered_rate(uncached):
    run = run_load(uncached.url, rate_per_s=100, requests=80, progress=False)
    span_s = max(run.due_s) - min(run.due_s)
    assert 0.5 < (run.ok - 1) / span_s / 100 < 2, "a Poisson process at 100/s, seeded"


def test_a_run_against_a_server_that_never_answers_stops_by_itself(silent_url):
    started = time.monotonic()
    run = run_load(silent_url, 100, 1_000, time_limit_s=1.0, timeout_s=30, progress=False)
    took = time.monotonic() - started
    assert took < 5, f"the run must end at time_limit_s (1 s), it took {took:.1f} s"
    assert run.ok == 0 and run.errors == 1_000
    assert run.failures["cut off at time_limit_s"] > 0
    assert run.failures["not sent before time_limit_s"] > 0
    assert run.db_queries is None  # it has no /stats


def test_a_request_that_times_out_is_an_error(silent_url):
    run = run_load(silent_url, 50, 5, time_limit_s=5, timeout_s=0.2, progress=False)
    assert run.failures["timeout"] == 5 and run.ok == 0


def test_a_sweep_stops_two_runs_past_the_knee(silent_url):
    runs = sweep_rates(
        silent_url, [50, 100, 200], duration_per_rate_s=0.3, p95_budget_s=0.05, timeout_s=0.2,
        progress=False,
    )  # fmt: skip
    assert len(runs) == 2, "nothing answered at two rates in a row: faster ones would only queue"


def test_a_sweep_offers_rates_past_the_generators_limit_at_that_limit_once(silent_url):
    runs = sweep_rates(
        silent_url, [2 * MAX_RATE, 4 * MAX_RATE], duration_per_rate_s=0.001, timeout_s=0.2,
        progress=False,
    )  # fmt: skip
    assert [run.rate_per_s for run in runs] == [MAX_RATE]


@pytest.mark.parametrize(
    "url", ["http://example.com", "http://10.0.0.1:80", "https://127.0.0.1:1", "ftp://localhost"]
)
def test_the_generator_only_sends_to_this_machine(url):
    with pytest.raises(ValueError, match="only sends to this machine"):
        run_load(url, 10, 10, progress=False)


def test_local_addresses_are_accepted():
    for url in ("http://127.0.0.1:8000/", "http://localhost:1", "http://[::1]:80"):
        assert validate_local_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"rate_per_s": 0}, "rate_per_s must be a finite number of requests per second > 0"),
        ({"requests": 0}, "requests must be a whole number between 1 and"),
        ({"requests": MAX_REQUESTS + 1}, "requests must be a whole number between 1 and"),
        ({"time_limit_s": 1e6}, "time_limit_s must be a finite number of seconds > 0 and <= 120"),
        ({"paths": "/"}, "paths must be a list of paths"),
        ({"paths": ["products/1"]}, "paths must be a list of paths"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(options, message):
    arguments = {"rate_per_s": 10, "requests": 10, **options}
    with pytest.raises((TypeError, ValueError), match=message):
        run_load("http://127.0.0.1:9", progress=False, **arguments)


def made_run(rate, p95_ms, errors=0, throughput=None):
    """A LoadRun with 100 requests whose latencies put its p95 at about ``p95_ms``."""
    latencies = [p95_ms / 1000] * (100 - errors)
    return LoadRun(
        rate_per_s=rate,
        budget=100,
        sent=100,
        elapsed_s=100 / (throughput or rate),
        latencies_s=latencies,
    )


def test_sustained_is_the_fastest_run_within_the_latency_budget_and_almost_no_errors():
    runs = [
        made_run(50, 10),
        made_run(100, 20),
        made_run(200, 30, errors=5),  # too many errors
        made_run(400, 900),  # past the budget
    ]
    assert sustained(runs, p95_budget_s=0.1).rate_per_s == 100
    assert sustained(runs, p95_budget_s=0.005) is None
