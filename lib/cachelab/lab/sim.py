"""Simulate a cache on a virtual clock, and the closed-form model it must agree with.

Lesson 07 asks: *how long should a cached value live?* Too short a TTL and the
cache hardly ever hits; too long and readers see old prices. This module answers
with numbers, two ways:

- ``simulate(ttl, read_rate, write_rate, duration_s)`` runs the course's real
  ``MemoryCache`` on a seeded workload: reads and writes arrive at random
  (Poisson processes) on a ``FakeClock``, the database is a ``_VersionedDatabase``
  whose version of a key goes up on every write, and a read is *stale* when the
  cache hands back an older version than the database holds.
- ``model(ttl, read_rate, write_rate)`` is the closed form for one key. A miss
  loads the value and starts a cycle; for ``ttl`` seconds every read hits; the
  first read after that misses again. With read rate λ, write rate μ and TTL T::

      hit ratio        λT / (1 + λT)
      stale fraction   λ(T − (1 − e^{−μT})/μ) / (1 + λT)      (0 when μ = 0)
      db loads per s   λ / (1 + λT)                            (one per miss)

  The model assumes a load is instant: the miss that starts a cycle stores the value
  at once. With a load that takes D seconds and no coordination, every read that
  arrives during the load misses too (about λD extra loads per expiry): the herd of
  lesson 08.

  With ``strategy=Invalidation.DELETE_ON_WRITE`` every write deletes the key, so an entry
  lives ``min(T, time to the next write)``, on average L = (1 − e^{−μT})/μ, and
  the same argument gives hit ratio λL/(1 + λL), db loads λ/(1 + λL), and no
  stale reads at all (in one process, where the delete cannot race a fill --
  lesson 06 shows the race that breaks this in real systems).

Both return a ``CacheOutcome``. The tests check that the simulation agrees with
the model within 3 % -- which is what lets the dashboard in ``cachelab.show.ttl_dashboard``
draw the model's curves beside the simulation's dots.

>>> outcome = simulate(ttl=10, read_rate=2, write_rate=0.1, duration_s=2_000)
>>> round(outcome.hit_ratio, 2), round(model(10, 2, 0.1).hit_ratio, 2)
(0.95, 0.95)

Many keys: pass ``key_count=100`` and reads pick a key by popularity (a Zipf law
with ``zipf_exponent``: the most popular key is read twice as often as the second,
three times as often as the third, ... when ``zipf_exponent=1``), while writes hit every
key equally often -- or, with ``writes_follow_reads=True``, follow the same
popularity. ``read_rate`` and ``write_rate`` are then totals over all keys. The
events come from ``cachelab.lab.workload.poisson_arrivals``, the course's one generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Optional

from cachelab import keys
from cachelab._internal.validation import (
    validate_choice,
    validate_number,
    validate_ttl,
    validate_whole_number,
)
from cachelab.cache import MemoryCache
from cachelab.clock import FakeClock
from cachelab.lab.workload import MAX_RATE, poisson_arrivals, popularity

__all__ = ["Invalidation", "model", "simulate"]


class Invalidation(StrEnum):
    """What a write does to the cache, in the simulation and the model: the ``strategy``.

    ``TTL_ONLY``: writes leave the cache alone, and an entry only expires. ``DELETE_ON_WRITE``:
    every write also deletes the key (lesson 06's ``DeleteOnWrite``, in one process). Each member
    is also its string (``"ttl"``, ``"delete_on_write"``), and ``label`` is what lessons show.

    >>> [member.label for member in Invalidation]
    ['TTL only', 'delete-on-write']
    """

    TTL_ONLY = "ttl"
    DELETE_ON_WRITE = "delete_on_write"

    @property
    def label(self) -> str:
        """The strategy's name as lessons and the dashboard show it."""
        return "TTL only" if self is Invalidation.TTL_ONLY else "delete-on-write"


_MAX_KEYS = 100_000
"""The most keys a model or a simulation takes (each key is one term of the model's sum)."""

_MAX_EVENTS = 20_000_000
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


class _VersionedDatabase:
    """The database, reduced to what staleness needs: a version number per key.

    Every ``write`` bumps the key's version; ``load`` returns the current version
    (and counts one database load). A cached value *is* the version that was
    loaded, so a read is stale exactly when ``cached < database.version(key)``.

    >>> database = _VersionedDatabase(key_count=2)
    >>> database.load(0)
    0
    >>> database.write(0)
    1
    >>> database.version(0), database.loads
    (1, 1)
    """

    def __init__(self, key_count: int = 1) -> None:
        self.versions = [0] * validate_whole_number(key_count, "key_count")
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


def _validate_arguments(
    ttl: float,
    read_rate: float,
    write_rate: float,
    strategy: str,
    key_count: int,
    zipf_exponent: float,
) -> tuple[float, float, float, Invalidation]:
    """Check the arguments shared by ``model`` and ``simulate``; return ttl and rates as floats, and
    the strategy as an ``Invalidation`` (a member, or its string, is accepted)."""
    if ttl is None:
        raise TypeError("ttl must be a number of seconds: the simulation models caching with a TTL")
    validate_ttl(ttl)
    read_rate = validate_number(
        read_rate, "read_rate", minimum=0, maximum=MAX_RATE, unit="reads per second"
    )
    write_rate = validate_number(
        write_rate, "write_rate", minimum=0, maximum=MAX_RATE, unit="writes per second"
    )
    validate_whole_number(key_count, "key_count", maximum=_MAX_KEYS)
    validate_number(zipf_exponent, "zipf_exponent", minimum=0, maximum=10)
    strategy = validate_choice(strategy, "strategy", [member.value for member in Invalidation])
    return float(ttl), read_rate, write_rate, Invalidation(strategy)


def _single_key_model(
    ttl: float, read_rate: float, write_rate: float, strategy: Invalidation
) -> tuple[float, float, float]:
    """(hit ratio, stale fraction, db loads per second) of one key; see the module docstring."""
    lam, mu, T = read_rate, write_rate, ttl
    # Expected time a value written at a miss stays fresh in the database: min(T, next write).
    fresh_for = (-math.expm1(-mu * T)) / mu if mu > 0 else T
    ttl_only = strategy == Invalidation.TTL_ONLY
    lifetime = T if ttl_only else fresh_for  # how long an entry lives in the cache
    hit_ratio = lam * lifetime / (1 + lam * lifetime)
    db_loads_per_s = lam / (1 + lam * lifetime)
    stale = lam * (T - fresh_for) / (1 + lam * T) if ttl_only else 0.0
    return hit_ratio, max(stale, 0.0), db_loads_per_s


def model(
    ttl: float,
    read_rate: float,
    write_rate: float,
    *,
    strategy: Invalidation = Invalidation.TTL_ONLY,
    key_count: int = 1,
    writes_follow_reads: bool = False,
    zipf_exponent: float = 1.0,
) -> CacheOutcome:
    """The closed-form ``CacheOutcome`` of caching with a TTL (see the module docstring).

    For one key (the default) these are the formulas; for ``key_count > 1`` each key
    is its own single-key cache with read rate ``read_rate · p_i`` (Zipf popularity)
    and write rate ``write_rate / key_count`` -- or ``write_rate · p_i`` when
    ``writes_follow_reads`` -- and the outcomes are added up.

    >>> m = model(ttl=10, read_rate=2, write_rate=0.1)
    >>> round(m.hit_ratio, 4), round(m.stale_fraction, 4), round(m.db_loads_per_s, 4)
    (0.9524, 0.3504, 0.0952)
    """
    ttl, read_rate, write_rate, strategy = _validate_arguments(
        ttl, read_rate, write_rate, strategy, key_count, zipf_exponent
    )
    if key_count == 1:
        return CacheOutcome(*_single_key_model(ttl, read_rate, write_rate, strategy))
    shares = popularity(key_count, zipf_exponent)
    hit_ratio = stale = loads = 0.0
    for share in shares.tolist():
        key_write_rate = write_rate * share if writes_follow_reads else write_rate / key_count
        h, s, d = _single_key_model(ttl, read_rate * share, key_write_rate, strategy)
        hit_ratio += share * h
        stale += share * s
        loads += d
    return CacheOutcome(hit_ratio, stale, loads)


_cached_arrivals = lru_cache(maxsize=8)(poisson_arrivals)
"""Small workloads (a dashboard's) are kept: every TTL on a curve reuses the same one."""


def simulate(
    ttl: float,
    read_rate: float,
    write_rate: float,
    duration_s: float,
    strategy: Invalidation = Invalidation.TTL_ONLY,
    seed: int = 0,
    *,
    key_count: int = 1,
    zipf_exponent: float = 1.0,
    writes_follow_reads: bool = False,
) -> CacheOutcome:
    """Run a real ``MemoryCache`` on ``duration_s`` seconds of seeded reads and writes.

    Reads arrive at ``read_rate`` per second and writes at ``write_rate`` per
    second, each a Poisson process (independent, memoryless arrivals). A read is
    cache-aside: ``cache.get``; on a miss, load the value from the database and
    ``cache.set`` it with ``ttl``. A write bumps the database's version and, with
    ``strategy=Invalidation.DELETE_ON_WRITE``, calls ``cache.delete``. Time is a ``FakeClock``
    moved to each event, so a 1-hour workload takes milliseconds, and the same
    ``seed`` gives the same result, to the last digit.

    The cost is about a microsecond per event: ``(read_rate + write_rate) * duration_s``
    events. A relative precision of a few % needs thousands of cache *cycles*
    (miss, then hits until expiry), i.e. ``duration_s`` of thousands of ``ttl + 1/read_rate``.
    """
    ttl, read_rate, write_rate, strategy = _validate_arguments(
        ttl, read_rate, write_rate, strategy, key_count, zipf_exponent
    )
    duration_s = validate_number(duration_s, "duration_s", above=0, unit="seconds")
    times, codes = _events(
        read_rate, write_rate, duration_s, seed, key_count, zipf_exponent, writes_follow_reads
    )
    return _replay(times, codes, ttl, duration_s, strategy, key_count)


def _events(
    read_rate: float,
    write_rate: float,
    duration_s: float,
    seed: int,
    key_count: int,
    zipf_exponent: float,
    writes_follow_reads: bool,
) -> tuple[list[float], list[int]]:
    """The workload's event times and codes, refused past ``_MAX_EVENTS`` events (they would take
    minutes)."""
    expected_events = (read_rate + write_rate) * duration_s
    if expected_events > _MAX_EVENTS:
        raise ValueError(
            f"duration_s={duration_s:g} s at these rates is about {expected_events:,.0f} events "
            f"(more than {_MAX_EVENTS:,}); use a shorter duration"
        )
    generate = _cached_arrivals if expected_events <= 200_000 else poisson_arrivals
    return generate(
        read_rate,
        write_rate,
        duration_s,
        key_count=int(key_count),
        zipf_exponent=float(zipf_exponent),
        writes_follow_reads=bool(writes_follow_reads),
        seed=seed,
    )


def _replay(
    times: list[float],
    codes: list[int],
    ttl: float,
    duration_s: float,
    strategy: Invalidation,
    key_count: int,
) -> CacheOutcome:
    """Play the events through a real ``MemoryCache`` on a ``FakeClock``, counting stale reads."""
    clock = FakeClock()
    cache = MemoryCache(ttl=ttl, clock=clock)
    database = _VersionedDatabase(int(key_count))
    names = [keys.product(k + 1) for k in range(int(key_count))]  # key k is product k + 1
    versions = database.versions  # read directly in the loop: a stale check is not a database load
    get, set_, delete, load, write = (
        cache.get,
        cache.set,
        cache.delete,
        database.load,
        database.write,
    )
    delete_on_write = strategy == Invalidation.DELETE_ON_WRITE
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
        db_loads_per_s=database.loads / duration_s,
        reads=reads,
        writes=writes,
        stale_reads=stale_reads,
        db_loads=database.loads,
    )
