"""Checks for lesson 02's exercises: reading latency samples, and predicting the database's load.

- ``check_percentile``: your ``my_percentile(samples, q)`` computes the q-th
  percentile the way ``cachelab.timing.percentile`` does (sort, then interpolate
  linearly between the two nearest ranks), without changing your samples.
- ``check_db_cores_busy``: your ``db_cores_busy(requests_per_s, query_ms)`` says
  how many CPU cores the database keeps busy serving that traffic.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

from cachelab.checks import CheckFailed, expect
from cachelab.timing import percentile


def _call(func: Callable[..., Any], property_: str, *args: Any) -> Any:
    """Call the learner's function; an unexpected exception becomes a failure of ``property_``."""
    try:
        return func(*args)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:  # noqa: BLE001 -- reported as the property that failed
        raise CheckFailed(f"{property_}: your function raised {type(error).__name__}: {error}") from None


def _close(got: Any, want: float) -> bool:
    return isinstance(got, (int, float)) and not isinstance(got, bool) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def check_percentile(my_percentile: Callable[[list, float], float]) -> str:
    """``my_percentile(samples, q)`` agrees with ``cachelab.timing.percentile`` and leaves ``samples`` alone."""
    prop = "the 50th percentile of [30, 10, 20] is 20 (sort the samples first)"
    got = _call(my_percentile, prop, [30, 10, 20], 50)
    expect(_close(got, 20), prop, got)

    for q, want, name in ((0, 1.0, "smallest"), (100, 9.0, "largest")):
        prop = f"q={q} gives the {name} sample ([4, 1, 9, 7] → {want:g})"
        got = _call(my_percentile, prop, [4.0, 1.0, 9.0, 7.0], q)
        expect(_close(got, want), prop, got)

    prop = "a single sample is every percentile of itself ([5] at q=95 → 5)"
    got = _call(my_percentile, prop, [5.0], 95)
    expect(_close(got, 5.0), prop, got)

    for samples, q, want in (([1.0, 2.0, 3.0, 4.0], 50, 2.5), ([10.0, 20.0], 25, 12.5), ([0.0, 10.0, 20.0, 30.0, 40.0], 90, 36.0)):
        prop = f"between two ranks it interpolates linearly ({samples} at q={q} → {want:g})"
        got = _call(my_percentile, prop, list(samples), q)
        expect(_close(got, want), prop, got)

    rng = random.Random(2)
    samples = [rng.lognormvariate(-3.7, 0.3) for _ in range(200)]
    before = list(samples)
    prop = "your samples are left as they were (sort a copy, not the list you were given)"
    _call(my_percentile, prop, samples, 99)
    expect(samples == before, prop, "the list was reordered")

    for q in (50, 90, 95, 99, 99.9):
        prop = f"it agrees with cachelab.timing.percentile on 200 latencies at q={q}"
        got = _call(my_percentile, prop, samples, q)
        expect(_close(got, percentile(samples, q)), prop, got)
    return "agrees with cachelab.timing.percentile (q = 0, 50, 90, 95, 99, 99.9, 100) and leaves the samples alone"


def check_db_cores_busy(db_cores_busy: Callable[[float, float], float]) -> str:
    """``db_cores_busy(requests_per_s, query_ms)`` = requests per second × seconds of work per request."""
    cases = [  # (requests/s, query ms, cores busy, the property it shows)
        (0, 23, 0.0, "no traffic keeps no core busy (0 requests/s × 23 ms → 0)"),
        (100, 23, 2.3, "query_ms is in milliseconds: 100 requests/s × 23 ms → 2.3 cores busy"),
        (200, 23, 4.6, "twice the traffic is twice the work (200 requests/s × 23 ms → 4.6)"),
        (100, 46, 4.6, "a query twice as slow is twice the work (100 requests/s × 46 ms → 4.6)"),
        (1000, 0.05, 0.05, "fractions work too: 1,000 requests/s × 0.05 ms (a cache hit) → 0.05 cores"),
    ]
    for requests_per_s, query_ms, cores, prop in cases:
        got = _call(db_cores_busy, prop, requests_per_s, query_ms)
        expect(_close(got, cores), prop, got)

    for args in ((-5, 23), (100, -1)):
        prop = f"a negative input is refused with ValueError (db_cores_busy{args})"
        try:
            got = db_cores_busy(*args)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001
            raise CheckFailed(f"{prop}: got {type(error).__name__} instead") from None
        raise CheckFailed(f"{prop} (it returned {got!r})")
    return "requests/s × query seconds, linear in both, in the right units, and it refuses negative inputs"
