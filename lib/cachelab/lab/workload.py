"""Seeded random traffic: reads and writes arriving at random moments, the one generator of the
course.

Real requests arrive independently of one another, which makes a *Poisson
process*: in a window of ``duration_s`` seconds at ``rate`` per second, the number
of arrivals is Poisson-distributed with mean ``rate × duration_s``, and given that
number their times are uniform over the window. Reads and writes are two such
processes, at ``read_rate`` and ``write_rate`` per second.

With several keys, each read picks a key by popularity -- a Zipf law: key *i* (counting
from 0) is read in proportion to ``1 / (i + 1) ** zipf_exponent``, so ``zipf_exponent=0`` is
uniform and ``zipf_exponent=1`` makes the most popular key twice as popular as the second.
Writes pick a key uniformly, unless ``writes_follow_reads``: then they follow the same
popularity (in a shop, the products people look at are also the ones whose stock changes,
because they sell).

The same arguments always give the same events, on every machine: lessons 05, 06
and 07 replay them and assert exact figures.

>>> times, codes = poisson_arrivals(read_rate=2, write_rate=0.5, duration_s=10, seed=1)
>>> len(times) == len(codes), times == sorted(times)
(True, True)
>>> sorted(set(codes))  # 0: a read of key 0; -1: a write of key 0
[-1, 0]
"""

from __future__ import annotations

import numpy as np

from cachelab._internal.validation import validate_number, validate_whole_number

__all__ = ["is_read", "poisson_arrivals", "popularity"]

MAX_RATE = 1_000_000.0
"""The fastest read or write rate accepted, per second: beyond it the closed-form model loses
precision.
"""


def popularity(key_count: int, zipf_exponent: float = 1.0) -> np.ndarray:
    """The share of reads each key gets: a Zipf law, ``p_i ∝ 1 / i**zipf_exponent`` (i from 1).

    >>> popularity(3, zipf_exponent=1).round(3).tolist()
    [0.545, 0.273, 0.182]
    """
    validate_whole_number(key_count, "key_count")
    validate_number(zipf_exponent, "zipf_exponent", minimum=0, maximum=10)
    weights = 1.0 / np.arange(1, key_count + 1, dtype=float) ** zipf_exponent
    return weights / weights.sum()


def _read_code(key: int) -> int:
    """The event code of a read of key ``key`` (a number >= 0)."""
    return key


def _write_code(key: int) -> int:
    """The event code of a write of key ``key`` (a number < 0: ``-1 - key``)."""
    return -1 - key


def is_read(code: int) -> bool:
    """Whether an event code is a read."""
    return code >= 0


def _key_of(code: int) -> int:
    """The key an event code is about."""
    return code if code >= 0 else -1 - code


def poisson_arrivals(
    read_rate: float,
    write_rate: float,
    duration_s: float,
    *,
    key_count: int = 1,
    zipf_exponent: float = 1.0,
    writes_follow_reads: bool = False,
    seed: int = 0,
) -> tuple[list[float], list[int]]:
    """A seeded, time-ordered stream of reads and writes on ``[0, duration_s)`` seconds.

    Returns two lists of equal length: the event times, in order, and the event codes
    (``_read_code(k)`` for a read of key ``k``, ``_write_code(k)`` for a write). The
    stream depends only on these arguments -- not on any TTL or strategy -- so every
    TTL compared on one stream sees the very same requests (common random numbers:
    differences between TTLs are not noise).
    """
    read_rate = validate_number(
        read_rate, "read_rate", minimum=0, maximum=MAX_RATE, unit="reads per second"
    )
    write_rate = validate_number(
        write_rate, "write_rate", minimum=0, maximum=MAX_RATE, unit="writes per second"
    )
    duration_s = validate_number(duration_s, "duration_s", above=0, unit="seconds")
    shares = popularity(key_count, zipf_exponent)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a whole number, got {type(seed).__name__} {seed!r}")
    rng = np.random.default_rng(int(seed))
    n_reads = int(rng.poisson(read_rate * duration_s))
    n_writes = int(rng.poisson(write_rate * duration_s))
    times = rng.uniform(0.0, duration_s, n_reads + n_writes)
    if key_count == 1:
        read_keys = np.zeros(n_reads, dtype=np.int64)
        write_keys = np.zeros(n_writes, dtype=np.int64)
    else:
        read_keys = rng.choice(key_count, size=n_reads, p=shares)
        if writes_follow_reads:
            write_keys = rng.choice(key_count, size=n_writes, p=shares)
        else:
            write_keys = rng.integers(0, key_count, size=n_writes)
    codes = np.concatenate([read_keys, -1 - write_keys])
    order = np.argsort(times, kind="stable")
    return times[order].tolist(), codes[order].tolist()
