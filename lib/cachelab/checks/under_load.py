"""Checks for lesson 10's exercises: reading a load test, planning capacity, HTTP caches in front.

- ``check_sustained_rate`` (10.1): your ``sustained_rate(runs, p95_budget_s)`` reads a sweep
  of ``LoadRun``\\ s and answers the throughput the service sustains within a p95 budget.
- ``check_cores_needed`` (10.2): your ``cores_needed(rate_per_s, service_time_s,
  utilization)`` says how many cores a traffic needs, each kept busy at most that share of the
  time.
- ``check_oldest_page`` (10.3): your ``oldest_page_s(server_ttl_s, max_age_s, deletes_on_write)``
  says how old a page a browser shows can be, with a server cache and ``max-age`` in front.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

from cachelab.checks import _call, _CheckFailed, _expect, _shown
from cachelab.web._load import LoadRun

__all__ = ["check_oldest_page", "check_sustained_rate", "check_cores_needed"]


def _number(got: Any) -> bool:
    return isinstance(got, (int, float)) and not isinstance(got, bool)


def _close(got: Any, want: float) -> bool:
    return _number(got) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


def _run(rate: float, throughput: float, p95_ms: float, errors: int = 0) -> LoadRun:
    """A run of 200 requests whose every answer took ``p95_ms`` (so that is its p95), with
    ``errors`` of them failed, and ``throughput`` answers per second."""
    ok = 200 - errors
    return LoadRun(
        rate_per_s=rate,
        budget=200,
        sent=200,
        elapsed_s=ok / throughput,
        latencies_s=[p95_ms / 1000] * ok,
    )


def _refuses(answer: Callable[..., Any], args: tuple, prop: str, topic: str) -> None:
    """``answer(*args)`` must raise ValueError (or TypeError); anything else fails ``prop``."""
    try:
        got = answer(*args)
    except (ValueError, TypeError):
        return
    except NotImplementedError:
        raise
    except Exception as error:
        raise _CheckFailed(f"{prop}: got {type(error).__name__} instead", topic) from None
    raise _CheckFailed(f"{prop} (it returned {_shown(got)})", topic)


# --------------------------------------------------------------------------- 10.1


def check_sustained_rate(sustained_rate: Callable[[list, float], Optional[float]]) -> str:
    """``sustained_rate(runs, p95_budget_s)``: the best throughput of a run within the budget."""
    budget_s = 0.100
    sweep = [_run(50, 49, 20), _run(100, 98, 40), _run(200, 190, 90), _run(400, 230, 900)]

    def ask(runs: list, prop: str, topic: str) -> Any:
        return _call(sustained_rate, list(runs), budget_s, property_=prop, topic=topic)

    prop = "it answers the throughput of the fastest run within the budget (190 requests/s here)"
    got = ask(sweep, prop, "best")
    _expect(_number(got), prop, got, topic="best")
    _expect(not _close(got, 200), prop + " -- the throughput, not the offered rate", got,
           topic="throughput")  # fmt: skip
    _expect(not _close(got, 230), prop + " -- the 400/s run missed the budget", got, topic="budget")
    _expect(_close(got, 190), prop, got, topic="best")

    prop = "a run whose p95 is exactly the budget meets it (p95 <= budget)"
    got = ask([_run(50, 49, 20), _run(100, 99, 100)], prop, "budget")
    _expect(_close(got, 99), prop, got, topic="budget")

    prop = "a run with more than 1 % errors is not sustained, however fast (3 of 200 failed)"
    got = ask([_run(50, 49, 20), _run(100, 97, 30, errors=3)], prop, "errors")
    _expect(_close(got, 49), prop, got, topic="errors")

    prop = "1 % errors (2 of 200) is still within the bar"
    got = ask([_run(50, 49, 20), _run(100, 98, 30, errors=2)], prop, "errors")
    _expect(_close(got, 98), prop, got, topic="errors")

    prop = "runs come in any order: the answer is the best, not the last within budget"
    got = ask(list(reversed(sweep)), prop, "best")
    _expect(_close(got, 190), prop, got, topic="best")

    prop = "when no run met the budget, the answer is None (the service sustains nothing there)"
    got = ask([_run(400, 230, 900)], prop, "none")
    _expect(got is None, prop, got, topic="none")
    got = ask([], prop, "none")
    _expect(got is None, prop + " -- and for no runs at all", got, topic="none")
    return (
        "the best throughput within the p95 budget (<=), runs with > 1 % errors left out, "
        "None when nothing qualifies"
    )


# --------------------------------------------------------------------------- 10.2


def check_cores_needed(cores_needed: Callable[..., int]) -> str:
    """``cores_needed(rate_per_s, service_time_s, utilization=0.7)`` = ceil(λ·S / ρ), >= 1."""
    cases = [  # (args, want, property, topic)
        ((100, 0.02), 3, "100 requests/s x 20 ms = 2 cores busy; at 70 % utilization: 2.86 -> 3",
         "utilization"),
        ((100, 0.02, 1.0), 2, "at 100 % utilization, 2 cores busy need 2 cores", "formula"),
        ((300, 0.02, 0.5), 12, "300/s x 20 ms = 6 busy; at 50 %, 12", "formula"),
        ((10, 0.05, 0.7), 1, "10/s x 50 ms = 0.5 busy -> 0.71 -> 1 (round up)", "ceil"),
        ((100, 0.01, 0.7), 2, "100/s x 10 ms = 1 busy -> 1.43 -> 2 (round up, not to nearest)",
         "ceil"),
        ((0, 0.02, 0.7), 1, "no traffic still needs one core to answer the first request",
         "minimum"),
        ((1000, 0.0005, 0.7), 1, "a cache hit's 0.5 ms: 1,000/s is 0.5 cores -> 1", "units"),
    ]  # fmt: skip
    for args, want, prop, topic in cases:
        got = _call(cores_needed, *args, property_=prop, topic=topic)
        _expect(isinstance(got, int) and not isinstance(got, bool), prop + " (a whole number)",
               got, topic="ceil")  # fmt: skip
        _expect(got == want, prop, got, topic=topic)
    for args, why in (
        ((-1, 0.02, 0.7), "a negative rate"),
        ((100, -0.02, 0.7), "a negative service time"),
        ((100, 0.02, 0.0), "a utilization of 0"),
        ((100, 0.02, 1.5), "a utilization above 1"),
    ):
        _refuses(cores_needed, args, f"{why} is refused with ValueError {args}", "refuse")
    return "ceil(rate x service time / utilization), at least 1; impossible inputs refused"


# --------------------------------------------------------------------------- 10.3


def check_oldest_page(oldest_page_s: Callable[..., float]) -> str:
    """``oldest_page_s(server_ttl_s, max_age_s, deletes_on_write)``: the layers' ages add up."""
    cases = [  # (args, want, property, topic)
        ((30, 30, False), 60, "TTL only: 30 s old in Redis, then 30 s in the browser -> 60 s",
         "add"),
        ((30, 0, False), 30, "max-age=0: the browser keeps nothing; the server's TTL is all",
         "add"),
        ((30, 10, True), 10, "delete-on-write: the server's copy follows every write (but for "
         "lesson 06's race); only the browser's max-age is left -> 10 s", "delete"),
        ((None, 10, False), 10, "no server cache (ttl None): only the browser's max-age", "none"),
        ((None, 0, True), 0, "nothing cached anywhere: 0 s", "none"),
        ((2.5, 4, False), 6.5, "fractions work: 2.5 s + 4 s -> 6.5 s", "add"),
    ]  # fmt: skip
    for args, want, prop, topic in cases:
        got = _call(oldest_page_s, *args, property_=prop, topic=topic)
        _expect(_close(got, want), prop, got, topic=topic)
    for args, why in (((-1, 30, False), "a negative TTL"), ((30, -5, False), "a negative max-age")):
        _refuses(oldest_page_s, args, f"{why} is refused with ValueError {args}", "refuse")
    return "server TTL + max-age (TTL only), max-age alone with delete-on-write or no server cache"


_EXERCISES = {
    "10.1": check_sustained_rate,
    "10.2": check_cores_needed,
    "10.3": check_oldest_page,
}

_HINTS = {
    "10.1": {
        "best": (
            "Keep the runs that meet both bars, then take the best of what is left.",
            "Filter first (a list comprehension over runs with both conditions), then take the "
            "maximum of what passed; max() of a list does it.",
            "The runs come in any order: do not stop at the first run that passes, or keep the "
            "last one.",
        ),
        "throughput": (
            "What the service *sustained* is what it answered, not what it was offered.",
            "Each LoadRun has both: throughput_per_s is what it answered per second, rate_per_s "
            "what it was offered. Take the maximum of the first.",
        ),
        "budget": (
            "A budget is met when the p95 is at most the budget: compare with <=.",
            "A run past the budget is left out even when its throughput is higher: filter on "
            "p95_s first, and only then take the maximum.",
        ),
        "errors": (
            "A run that drops requests is not keeping up, however fast the rest were served.",
            "error_fraction is the share of a run's requests that failed: a run counts only when "
            "it is at most 1 %, i.e. 0.01, not 1.",
            "The bar is inclusive: 2 errors in 200 requests (exactly 1 %) still counts.",
        ),
        "none": (
            "Some services sustain nothing within a budget: say so rather than returning 0.",
            "max() of an empty list raises ValueError, but it takes a default= for that case.",
            "Return None when no run is left after filtering, and when there were no runs at all.",
        ),
    },
    "10.2": {
        "formula": (
            "Each request keeps a core busy for service_time_s: rate × service time is how many "
            "cores are busy on average (Little's law, applied to the requests being served).",
            "The busy cores are not yet the answer: you must also leave headroom for the "
            "utilization you aim for.",
        ),
        "utilization": (
            "A core busy 100 % of the time has a queue that grows without bound: plan for less.",
            "To keep cores busy at most 70 % of the time you need more of them than are busy: "
            "divide the busy cores by the utilization.",
            "Try it by hand: 2 busy cores at 0.7 is 2.86 cores, before rounding.",
        ),
        "ceil": (
            "You cannot run 2.86 cores: round to a whole number, in the direction that keeps the "
            "utilization below the target.",
            "round() goes to the nearest, int() cuts towards zero: math.ceil rounds up, and "
            "returns an int.",
        ),
        "minimum": (
            "Even with no traffic, someone has to answer the first request.",
            "Whatever your formula gives, the answer is never below 1: max() of two numbers does "
            "it.",
        ),
        "units": (
            "service_time_s is in seconds: a cache hit of half a millisecond is 0.0005.",
            "Do not convert it: 1,000 requests/s × 0.0005 s = 0.5 cores busy, which rounds up to "
            "1 core.",
        ),
        "refuse": (
            "Refuse impossible input before computing: negative rates or times, a utilization "
            "that is not in (0, 1].",
            "A chained comparison such as 0 < x <= 1 says whether x is in (0, 1]; zero is "
            "refused, one is allowed.",
            "Put the checks at the top of the function and raise ValueError with the values you "
            "were given in its message.",
        ),
    },
    "10.3": {
        "add": (
            "A page can be served from Redis when it is already server_ttl_s old, and then the "
            "browser may keep it for max_age_s more: the two ages add up.",
            "With a TTL only (no delete-on-write), the oldest page is the server's TTL plus the "
            "browser's max-age; fractions of a second count too.",
        ),
        "delete": (
            "Delete-on-write keeps the server's copy in step with the database; can it reach the "
            "copy a browser already holds?",
            "With deletes_on_write the server's part adds no staleness: only the browser's "
            "max_age_s is left.",
        ),
        "none": (
            "server_ttl_s=None means the service caches nothing.",
            "None cannot be added to a number: treat the server's part as 0 when there is no "
            "server cache, and check for None before any arithmetic.",
        ),
        "refuse": (
            "A negative time is a bug in the caller: refuse it with a ValueError that says which.",
            "server_ttl_s may be None, which is allowed: compare it with 0 only when it is a "
            "number.",
            "Check both times at the top of the function, before any arithmetic.",
        ),
    },
}
