"""Simulate a cache on a virtual clock, and the closed-form model it must agree with.

Lesson 07 asks: *how long should a cached value live?* Too short a TTL and the
cache hardly ever hits; too long and readers see old prices. This module answers
with numbers, two ways:

- ``simulate(ttl, read_rate, write_rate, duration)`` runs the course's real
  ``MemoryCache`` on a seeded workload: reads and writes arrive at random
  (Poisson processes) on a ``FakeClock``, the database is a ``VersionedStore``
  whose version of a key goes up on every write, and a read is *stale* when the
  cache hands back an older version than the store holds.
- ``model(ttl, read_rate, write_rate)`` is the closed form for one key. A miss
  loads the value and starts a cycle; for ``ttl`` seconds every read hits; the
  first read after that misses again. With read rate λ, write rate μ and TTL T::

      hit ratio        λT / (1 + λT)
      stale fraction   λ(T − (1 − e^{−μT})/μ) / (1 + λT)      (0 when μ = 0)
      db loads per s   λ / (1 + λT)                            (one per miss)

  With ``strategy="delete_on_write"`` every write deletes the key, so an entry
  lives ``min(T, time to the next write)``, on average L = (1 − e^{−μT})/μ, and
  the same argument gives hit ratio λL/(1 + λL), db loads λ/(1 + λL), and no
  stale reads at all (in one process, where the delete cannot race a fill --
  lesson 06 shows the race that breaks this in real systems).

Both return a ``CacheOutcome``. The tests check that the simulation agrees with
the model within 3 % -- which is what lets the dashboard in ``cachelab.widgets``
draw the model's curves beside the simulation's dots.

>>> outcome = simulate(ttl=10, read_rate=2, write_rate=0.1, duration=2_000)
>>> round(outcome.hit_ratio, 2), round(model(10, 2, 0.1).hit_ratio, 2)
(0.95, 0.95)

Many keys: pass ``keys=100`` and reads pick a key by popularity (a Zipf law with
exponent ``zipf_s``: the most popular key is read twice as often as the second,
three times as often as the third, ... when ``zipf_s=1``), while writes hit every
key equally often. ``read_rate`` and ``write_rate`` are then totals over all keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

from cachelab import keys as key_names
from cachelab.cache import MemoryCache
from cachelab.clock import FakeClock

STRATEGIES = ("ttl", "delete_on_write")
"""``"ttl"``: writes leave the cache alone, entries only expire. ``"delete_on_write"``: every write also deletes the key."""

MAX_EVENTS = 20_000_000
"""A guard: a simulation of more expected events than this is refused (it would take minutes)."""


@dataclass(frozen=True)
class CacheOutcome:
    """What a cache achieved on a workload: the three numbers lesson 07 trades off.

    ``hit_ratio``       hits / reads;
    ``stale_fraction``  reads that returned an older version than the database held / reads;
    ``db_loads_per_s``  database loads (one per miss) per second.

    A simulation also fills in the counts it was computed from; the model leaves them ``None``.
    """

    hit_ratio: float
    stale_fraction: float
    db_loads_per_s: float
    reads: Optional[int] = None
    writes: Optional[int] = None
    stale_reads: Optional[int] = None
    db_loads: Optional[int] = None


class VersionedStore:
    """The database, reduced to what staleness needs: a version number per key.

    Every ``write`` bumps the key's version; ``load`` returns the current version
    (and counts one database load). A cached value *is* the version that was
    loaded, so a read is stale exactly when ``cached < store.version(key)``.

    >>> store = VersionedStore(keys=2)
    >>> store.load(0)
    0
    >>> store.write(0)
    1
    >>> store.version(0), store.loads
    (1, 1)
    """

    def __init__(self, keys: int = 1) -> None:
        self.versions = [0] * keys
        self.loads = 0

    def write(self, key: int) -> int:
        """Change key ``key`` in the database; return its new version."""
        self.versions[key] += 1
        return self.versions[key]

    def version(self, key: int) -> int:
        """The version the database holds now (not counted as a load)."""
        return self.versions[key]

    def load(self, key: int) -> int:
        """Read key ``key`` from the database, as a cache miss does: counted in ``loads``."""
        self.loads += 1
        return self.versions[key]


def _check_number(name: str, value: float, minimum: float, inclusive: bool, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number{unit}, got {type(value).__name__} {value!r}")
    value = float(value)
    ok = math.isfinite(value) and (value >= minimum if inclusive else value > minimum)
    if not ok:
        sign = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be a finite number {sign} {minimum:g}{unit}, got {value!r}")
    return value


def _check_args(
    ttl: float, read_rate: float, write_rate: float, strategy: str, keys: int, zipf_s: float
) -> tuple[float, float, float]:
    ttl = _check_number("ttl", ttl, 0, False, " of seconds")
    read_rate = _check_number("read_rate", read_rate, 0, True, " of reads per second")
    write_rate = _check_number("write_rate", write_rate, 0, True, " of writes per second")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(map(repr, STRATEGIES))}, got {strategy!r}")
    if isinstance(keys, bool) or not isinstance(keys, (int, np.integer)) or keys < 1:
        raise ValueError(f"keys must be a whole number >= 1, got {keys!r}")
    _check_number("zipf_s", zipf_s, 0, True, "")
    return ttl, read_rate, write_rate


def popularity(keys: int, zipf_s: float = 1.0) -> np.ndarray:
    """The share of reads each key gets: a Zipf law, ``p_i ∝ 1 / i**zipf_s`` for i = 1..keys.

    >>> popularity(3, zipf_s=1).round(3).tolist()
    [0.545, 0.273, 0.182]
    """
    weights = 1.0 / np.arange(1, keys + 1, dtype=float) ** zipf_s
    return weights / weights.sum()


def _single_key_model(ttl: float, read_rate: float, write_rate: float, strategy: str) -> tuple[float, float, float]:
    """(hit ratio, stale fraction, db loads per second) of one key; see the module docstring."""
    lam, mu, T = read_rate, write_rate, ttl
    # Expected time a value written at a miss stays fresh in the database: min(T, next write).
    fresh_for = (-math.expm1(-mu * T)) / mu if mu > 0 else T
    lifetime = T if strategy == "ttl" else fresh_for  # how long an entry lives in the cache
    hit_ratio = lam * lifetime / (1 + lam * lifetime)
    db_loads_per_s = lam / (1 + lam * lifetime)
    stale = lam * (T - fresh_for) / (1 + lam * T) if strategy == "ttl" else 0.0
    return hit_ratio, max(stale, 0.0), db_loads_per_s


def model(
    ttl: float,
    read_rate: float,
    write_rate: float,
    strategy: str = "ttl",
    *,
    keys: int = 1,
    zipf_s: float = 1.0,
) -> CacheOutcome:
    """The closed-form ``CacheOutcome`` of caching with a TTL (see the module docstring).

    For one key (the default) these are the formulas; for ``keys > 1`` each key is
    its own single-key cache with read rate ``read_rate · p_i`` (Zipf popularity)
    and write rate ``write_rate / keys``, and the outcomes are added up.

    >>> m = model(ttl=10, read_rate=2, write_rate=0.1)
    >>> round(m.hit_ratio, 4), round(m.stale_fraction, 4), round(m.db_loads_per_s, 4)
    (0.9524, 0.3504, 0.0952)
    """
    ttl, read_rate, write_rate = _check_args(ttl, read_rate, write_rate, strategy, keys, zipf_s)
    if keys == 1:
        return CacheOutcome(*_single_key_model(ttl, read_rate, write_rate, strategy))
    shares = popularity(keys, zipf_s)
    hit_ratio = stale = loads = 0.0
    for share in shares.tolist():
        h, s, d = _single_key_model(ttl, read_rate * share, write_rate / keys, strategy)
        hit_ratio += share * h
        stale += share * s
        loads += d
    return CacheOutcome(hit_ratio, stale, loads)


def _workload(
    read_rate: float, write_rate: float, duration: float, keys: int, zipf_s: float, seed: int
) -> tuple[list[float], list[int]]:
    """A seeded stream of events on [0, duration): times, and what happens at each.

    Event code ``k >= 0`` is a read of key ``k``; ``-1 - k`` is a write of key ``k``.
    The stream does not depend on the TTL or the strategy, so every TTL on a
    dashboard's curve is run on the very same requests (common random numbers:
    the curve is smooth, and differences between TTLs are not noise).
    """
    rng = np.random.default_rng(seed)
    n_reads = int(rng.poisson(read_rate * duration))
    n_writes = int(rng.poisson(write_rate * duration))
    # Given their number, the times of a Poisson process are uniform on [0, duration).
    times = rng.uniform(0.0, duration, n_reads + n_writes)
    if keys == 1:
        read_keys = np.zeros(n_reads, dtype=np.int64)
        write_keys = np.zeros(n_writes, dtype=np.int64)
    else:
        read_keys = rng.choice(keys, size=n_reads, p=popularity(keys, zipf_s))
        write_keys = rng.integers(0, keys, size=n_writes)
    codes = np.concatenate([read_keys, -1 - write_keys])
    order = np.argsort(times, kind="stable")
    return times[order].tolist(), codes[order].tolist()


_cached_workload = lru_cache(maxsize=8)(_workload)
"""Small workloads (a dashboard's) are kept: every TTL on a curve reuses the same one."""


def simulate(
    ttl: float,
    read_rate: float,
    write_rate: float,
    duration: float,
    strategy: str = "ttl",
    seed: int = 0,
    *,
    keys: int = 1,
    zipf_s: float = 1.0,
) -> CacheOutcome:
    """Run a real ``MemoryCache`` on ``duration`` seconds of seeded reads and writes.

    Reads arrive at ``read_rate`` per second and writes at ``write_rate`` per
    second, each a Poisson process (independent, memoryless arrivals). A read is
    cache-aside: ``cache.get``; on a miss, load the value from the store and
    ``cache.set`` it with ``ttl``. A write bumps the store's version and, with
    ``strategy="delete_on_write"``, calls ``cache.delete``. Time is a ``FakeClock``
    moved to each event, so a 1-hour workload takes milliseconds, and the same
    ``seed`` gives the same result, to the last digit.

    The cost is about a microsecond per event: ``(read_rate + write_rate) * duration``
    events. A relative precision of a few % needs thousands of cache *cycles*
    (miss, then hits until expiry), i.e. ``duration`` of thousands of ``ttl + 1/read_rate``.
    """
    ttl, read_rate, write_rate = _check_args(ttl, read_rate, write_rate, strategy, keys, zipf_s)
    duration = _check_number("duration", duration, 0, False, " of seconds")
    expected_events = (read_rate + write_rate) * duration
    if expected_events > MAX_EVENTS:
        raise ValueError(
            f"duration={duration:g} s at these rates is about {expected_events:,.0f} events "
            f"(more than {MAX_EVENTS:,}); use a shorter duration"
        )
    generate = _cached_workload if expected_events <= 200_000 else _workload
    times, codes = generate(read_rate, write_rate, duration, int(keys), float(zipf_s), int(seed))

    clock = FakeClock()
    cache = MemoryCache(ttl=ttl, clock=clock)
    store = VersionedStore(int(keys))
    names = [key_names.product(k) for k in range(int(keys))]
    versions = store.versions  # read directly in the loop: a stale check is not a database load
    get, set_, delete, load, write = cache.get, cache.set, cache.delete, store.load, store.write
    delete_on_write = strategy == "delete_on_write"
    missing = object()
    stale_reads = 0
    writes = 0
    for now, code in zip(times, codes):
        clock.now = now  # the FakeClock jumps to the event (same as clock.advance(now - clock.now))
        if code >= 0:
            cached = get(names[code], missing)
            if cached is missing:
                set_(names[code], load(code))
            elif cached < versions[code]:
                stale_reads += 1
        else:
            key = -1 - code
            write(key)
            writes += 1
            if delete_on_write:
                delete(names[key])

    reads = cache.stats.hits + cache.stats.misses
    return CacheOutcome(
        hit_ratio=cache.stats.hit_ratio,
        stale_fraction=stale_reads / reads if reads else 0.0,
        db_loads_per_s=store.loads / duration,
        reads=reads,
        writes=writes,
        stale_reads=stale_reads,
        db_loads=store.loads,
    )
