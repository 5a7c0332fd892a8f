"""Checks for lesson 02's exercises: reading latency samples, and predicting the database's load.

- ``check_percentile`` (02.1): your ``my_percentile(samples, q)`` computes the q-th
  percentile the way ``cachelab.lab.timing.percentile`` does (sort, then interpolate
  linearly between the two nearest ranks), without changing your samples.
- ``check_db_cores_busy`` (02.2): your ``db_cores_busy(requests_per_s, query_ms)`` says
  how many CPU cores the database keeps busy serving that traffic.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

from cachelab.checks import _call, _CheckFailed, _expect, _shown
from cachelab.lab.timing import percentile

__all__ = ["check_db_cores_busy", "check_percentile"]


def _close(got: Any, want: float) -> bool:
    return (
        isinstance(got, (int, float))
        and not isinstance(got, bool)
        and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    )


def check_percentile(my_percentile: Callable[[list, float], float]) -> str:
    """``my_percentile(samples, q)`` agrees with ``cachelab.lab.timing.percentile`` and leaves
    ``samples`` alone.
    """
    prop = "the 50th percentile of [30, 10, 20] is 20 (sort the samples first)"
    got = _call(my_percentile, [30, 10, 20], 50, property_=prop, topic="sort")
    _expect(_close(got, 20), prop, got, topic="sort")

    for q, want, name in ((0, 1.0, "smallest"), (100, 9.0, "largest")):
        prop = f"q={q} gives the {name} sample ([4, 1, 9, 7] → {want:g})"
        got = _call(my_percentile, [4.0, 1.0, 9.0, 7.0], q, property_=prop, topic="ends")
        _expect(_close(got, want), prop, got, topic="ends")

    prop = "a single sample is every percentile of itself ([5] at q=95 → 5)"
    got = _call(my_percentile, [5.0], 95, property_=prop, topic="ends")
    _expect(_close(got, 5.0), prop, got, topic="ends")

    for samples, q, want in (
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([10.0, 20.0], 25, 12.5),
        ([0.0, 10.0, 20.0, 30.0, 40.0], 90, 36.0),
    ):
        prop = f"between two ranks it interpolates linearly ({samples} at q={q} → {want:g})"
        got = _call(my_percentile, list(samples), q, property_=prop, topic="interpolate")
        _expect(_close(got, want), prop, got, topic="interpolate")

    rng = random.Random(2)
    samples = [rng.lognormvariate(-3.7, 0.3) for _ in range(200)]
    before = list(samples)
    prop = "your samples are left as they were (sort a copy, not the list you were given)"
    _call(my_percentile, samples, 99, property_=prop, topic="copy")
    _expect(samples == before, prop, "the list was reordered", topic="copy")

    for q in (50, 90, 95, 99, 99.9):
        prop = f"it agrees with cachelab.lab.timing.percentile on 200 latencies at q={q}"
        got = _call(my_percentile, samples, q, property_=prop, topic="interpolate")
        _expect(_close(got, percentile(samples, q)), prop, got, topic="interpolate")
    return (
        "agrees with cachelab.lab.timing.percentile (q = 0, 50, 90, 95, 99, 99.9, 100) "
        "and leaves the samples alone"
    )


def check_db_cores_busy(db_cores_busy: Callable[[float, float], float]) -> str:
    """``db_cores_busy(requests_per_s, query_ms)`` = requests per second × seconds of work per
    request.
    """
    cases = [  # (requests/s, query ms, cores busy, the property it shows, its hint topic)
        (0, 23, 0.0, "no traffic keeps no core busy (0 requests/s × 23 ms → 0)", "formula"),
        (
            100,
            23,
            2.3,
            "query_ms is in milliseconds: 100 requests/s × 23 ms → 2.3 cores busy",
            "units",
        ),
        (
            200,
            23,
            4.6,
            "twice the traffic is twice the work (200 requests/s × 23 ms → 4.6)",
            "formula",
        ),
        (
            100,
            46,
            4.6,
            "a query twice as slow is twice the work (100 requests/s × 46 ms → 4.6)",
            "formula",
        ),
        (
            1000,
            0.05,
            0.05,
            "fractions work too: 1,000 requests/s × 0.05 ms (a cache hit) → 0.05 cores",
            "formula",
        ),
    ]
    for requests_per_s, query_ms, cores, prop, topic in cases:
        got = _call(db_cores_busy, requests_per_s, query_ms, property_=prop, topic=topic)
        _expect(_close(got, cores), prop, got, topic=topic)

    for args in ((-5, 23), (100, -1)):
        prop = f"a negative input is refused with ValueError (db_cores_busy{args})"
        try:
            got = db_cores_busy(*args)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as error:
            raise _CheckFailed(f"{prop}: got {type(error).__name__} instead", "negative") from None
        raise _CheckFailed(f"{prop} (it returned {_shown(got)})", "negative")
    return (
        "requests/s × query seconds, linear in both, in the right units, "
        "and it refuses negative inputs"
    )


_EXERCISES = {"02.1": check_percentile, "02.2": check_db_cores_busy}

_HINTS = {
    "02.1": {
        "sort": (
            "A percentile is read off the samples in order, smallest first.",
            "sorted() gives you a sorted copy of the samples; the position to read is (n - 1) × q "
            "/ 100 in that copy.",
            "Do all the reading (the position, the two neighbours) on the sorted copy, never on "
            "the list you were given.",
        ),
        "ends": (
            "q = 0 is the smallest sample and q = 100 the largest: the position runs from 0 to "
            "len - 1.",
            "At q = 100 the position is the last index itself: there is no sample after it to "
            "interpolate towards.",
            "Make sure the neighbour above the position never goes past the last index of the "
            "sorted list.",
        ),
        "interpolate": (
            "The position is usually fractional, e.g. 3.6: the answer lies 60 % of the way from "
            "the sample at index 3 to the one at index 4.",
            "Split the position into its whole part (int() gives it) and its fraction: the whole "
            "part is the index of the sample below.",
            "The answer is the sample below, plus the fraction of the gap between it and the "
            "sample above.",
        ),
        "copy": (
            "Your function changed the list it was given: the caller's samples must come back as "
            "they were.",
            "list.sort() sorts in place, the caller's list included; sorted() returns a new list "
            "and leaves the original alone.",
        ),
    },
    "02.2": {
        "formula": (
            "A core busy all the time does one second of work per second. How many seconds of "
            "work arrive per second?",
            "Every request brings its own seconds of database work: multiply the requests per "
            "second by the work of one request.",
            "The seconds of work that arrive per second are the number of cores kept busy: that "
            "product is the answer, once its units are right.",
        ),
        "units": (
            "Check the units: query_ms is in milliseconds, and the answer is in cores (seconds of "
            "work per second).",
            "Turn the milliseconds into seconds before you multiply: 23 ms is 0.023 s.",
            "Try it by hand: 100 requests/s of 23 ms each should come out as 2.3 cores.",
        ),
        "negative": (
            "Refuse impossible input before computing anything, with a ValueError that says what "
            "was wrong.",
            "Compare each input with 0 at the top of the function: a negative rate and a negative "
            "time are both impossible.",
            "Put the values you were given in the message (an f-string with !r shows them as they "
            "are), so the caller sees what was wrong.",
        ),
    },
}
