"""Invalidation: keeping a cache in step with the database when the data changes (lesson 06).

Five ways to serve product pages from a ``Shop`` through a cache. Each works with
any course cache (a ``cache.Cache``: ``MemoryCache`` or ``RedisCache``) and uses
only its ``get``, ``set`` and ``delete`` -- except versioned keys and leases, which
need the atomic operations of a ``cache._AtomicCache`` (both caches have them):

- ``TTLOnly``          writes go to the database only; the cache catches up when the entry expires;
- ``DeleteOnWrite``    write the database, then delete the key: the next read loads the new row;
- ``WriteThrough``     write the database, then store the new row in the cache;
- ``VersionedKeys``    write the database, then delete the product's generation, a number that is
  part of the key: the next reader starts a new one;
- ``LeasedDeleteOnWrite``  delete-on-write whose fills need a *lease* that a delete voids
  (memcache at Facebook, Nishtala et al., NSDI 2013).

Why steps? Each strategy's read and write are *step generators*: the code does one
step -- one call to the cache or to the database -- then ``yield``s a sentence saying
what it did. Run to the end (``read()``, ``set_price()``), a generator is an ordinary
request. Stepped by hand with ``interleave``, several of them take turns like requests
on different servers, and the races that leave a cache stale happen deterministically,
one printed step at a time.

>>> from cachelab.cache import MemoryCache
>>> from cachelab.shop.data import scratch_shop
>>> pages = DeleteOnWrite(Shop(scratch_shop("tiny")), MemoryCache(), ttl=60)
>>> before = pages.read(1)["price_cents"]
>>> after = pages.set_price(1, before + 100)["price_cents"]
>>> pages.read(1)["price_cents"] == after  # the write deleted the key: this read loads the new row
True
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Mapping, Optional, Sequence, TypeVar, Union

from cachelab import keys
from cachelab._internal.validation import validate_ttl, validate_whole_number
from cachelab.cache import Cache, CacheKeyError, CacheUnavailable, _AtomicCache
from cachelab.shop.app import Shop
from cachelab.show.display import Table, money

__all__ = [
    "DeleteOnWrite",
    "LeaseCache",
    "LeasedDeleteOnWrite",
    "TTLOnly",
    "VersionedKeys",
    "WriteThrough",
    "count_stale_races",
    "interleave",
]

_T = TypeVar("T")
_Steps = Generator[str, None, _T]
"""A step generator: yields one sentence per step it has just done, returns its result."""


def _run_steps(steps: _Steps[_T]) -> _T:
    """Run a step generator to its end and return what it returns (an ordinary, uninterrupted
    request).
    """
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _price(row: Optional[Mapping]) -> str:
    return money(row["price_cents"]) if row else "—"


# --------------------------------------------------------------------------- strategies


class TTLOnly:
    """Cache-aside with a TTL; writes go to the database only.

    The cache learns of a write only when the entry expires, so every read in
    between serves the old row: stale for up to ``ttl`` seconds.
    """

    name = "TTL only"

    def __init__(self, shop: Shop, cache: Cache, ttl: float) -> None:
        self.shop = shop
        self.cache = cache
        if ttl is None:
            raise ValueError("ttl must be > 0 seconds: every strategy keeps a TTL as a backstop")
        self.ttl = validate_ttl(ttl)

    def key(self, product_id: int) -> str:
        """The cache key a reader uses for this product *now*."""
        return keys.product(product_id)

    def read_steps(self, product_id: int) -> _Steps[dict]:
        """Look-aside read: a hit is served; a miss loads the row and stores it."""
        key = self.key(product_id)
        row = self.cache.get(key)
        if row is not None:
            yield f"hit on {key}: serves {_price(row)}"
            return row
        yield f"miss on {key}"
        row = self.shop.product(product_id)
        yield f"loads {_price(row)} from the database"
        self.cache.set(key, row, self.ttl)
        yield f"stores {_price(row)} in {key}"
        return row

    def write_steps(self, product_id: int, change: Callable[[Shop], dict]) -> _Steps[dict]:
        """Change the database (``change(shop)`` returns the new row), then tell the cache.

        Once the database has committed, the write returns its row: a cache that cannot
        be reached now does not turn a write that happened into an error (a caller that
        retried would write twice). Its delete is owed and sent once Redis answers
        (``RedisCache.delete``).
        """
        row = change(self.shop)
        yield f"writes {_price(row)} to the database"
        try:
            yield from self.after_write_steps(product_id, row)
        except CacheUnavailable:
            yield "cannot reach the cache: its delete is owed, sent once Redis answers"
        return row

    def after_write_steps(self, product_id: int, row: dict) -> _Steps[None]:
        """What a write does to the cache once the database has the new row: here, nothing."""
        return
        yield  # (makes this a generator)

    def cached(self, product_id: int) -> Optional[dict]:
        """The row a reader would be served from the cache now, or None (a miss)."""
        return self.cache.get(self.key(product_id))

    # the ordinary, uninterrupted requests
    def read(self, product_id: int) -> dict:
        return _run_steps(self.read_steps(product_id))

    def set_price(self, product_id: int, price_cents: int) -> dict:
        return _run_steps(
            self.write_steps(product_id, lambda shop: shop.set_price(product_id, price_cents))
        )

    def sell(self, product_id: int, quantity: int) -> dict:
        return _run_steps(
            self.write_steps(product_id, lambda shop: shop.sell(product_id, quantity))
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ttl={self.ttl})"


class DeleteOnWrite(TTLOnly):
    """Write the database, then delete the key; the next read loads the new row.

    A delete is idempotent: two writers' deletes, in any order, leave the same
    empty slot. Its weakness is the *lost invalidation*: a reader that loaded the
    old row before the write can store it after the delete.
    """

    name = "delete-on-write"

    def after_write_steps(self, product_id: int, row: dict) -> _Steps[None]:
        key = self.key(product_id)
        self.cache.delete(key)
        yield f"deletes {key}"


class WriteThrough(TTLOnly):
    """Write the database, then store the new row in the cache (no miss after a write).

    Its weakness: two racing writers can store their rows in the opposite order
    to their database writes, and the older row stays -- and so can a slow reader's fill.
    """

    name = "write-through"

    def after_write_steps(self, product_id: int, row: dict) -> _Steps[None]:
        key = self.key(product_id)
        try:
            stored = self.cache.set(key, row, self.ttl)
        except CacheUnavailable:
            stored = False
        if stored:
            yield f"stores {_price(row)} in {key}"
            return
        self.cache.delete(key)  # a delete is never skipped, and is sent again if it fails
        yield f"could not store {_price(row)}: deletes {key} instead"


class VersionedKeys(TTLOnly):
    """Keys carry a generation number (``product:42:v…``); a write starts a new generation.

    Readers look up the current generation first, so after a write no reader ever
    asks for an older one again: an old row stored late lands under a key nobody
    reads, and simply expires. The cost: two cache lookups per read, and old
    generations use memory until their TTL.

    The generation lives in the cache under ``keys._version_counter``, and a write
    *deletes* it, as delete-on-write deletes a page: idempotent, and sent again if it
    fails (``RedisCache.delete``). The next reader finds no generation and starts one,
    a random 63-bit number, stored with ``add`` (Redis ``SET NX``) so that readers who
    find none at once agree on one.

    Why random, not counted up from 0 with ``INCR``: the generation key is an ordinary
    key. ``allkeys-lru`` may evict it and a restart without persistence loses it, and a
    count that starts again from 0 reuses generations under which old rows may still
    sit (spared by the eviction) or be filled late (by a reader from before the
    restart). A random generation is one nobody has stored under (two of a product's
    few live generations coincide with a chance of about one in 2**60), so a lost
    generation key costs one miss, never an old row. What this rests on: a reader
    looks up the generation before it loads the row, and a write deletes the
    generation after the database has committed -- no clock, and no version column
    in the database. ``version_ttl`` keeps the generation longer than the entries
    under it, so that readers keep finding them.
    """

    name = "versioned keys"

    def __init__(
        self, shop: Shop, cache: _AtomicCache, ttl: float, version_ttl: float = 30 * 86_400
    ) -> None:
        super().__init__(shop, cache, ttl)
        if version_ttl is None or validate_ttl(version_ttl, "version_ttl") <= self.ttl:
            raise ValueError(
                f"version_ttl must be longer than ttl ({self.ttl} s), got {version_ttl!r}"
            )
        self.version_ttl = version_ttl

    def _current_version(self, product_id: int) -> Optional[int]:
        """The generation readers use now, or None if there is none (the next reader starts one)."""
        counter = keys._version_counter(keys.product(product_id))
        version = self.cache.get(counter)
        if version is None:
            return None
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise CacheKeyError(
                f"the version key {counter!r} holds {version!r}, not a generation (a whole "
                "number >= 0): something else wrote it. A price change deletes it, or delete it"
            )
        return version

    def version(self, product_id: int) -> int:
        """The current generation of this product's page, starting a new one if there is none."""
        version = self._current_version(product_id)
        if version is not None:
            return version
        fresh = secrets.randbits(63)
        counter = keys._version_counter(keys.product(product_id))
        try:
            if self.cache.add(counter, fresh, self.version_ttl):
                return fresh
        except CacheUnavailable:
            return fresh  # Redis cannot answer: a generation of this reader's own is safe too
        version = self._current_version(product_id)  # another reader started one first
        return fresh if version is None else version

    def key(self, product_id: int) -> str:
        return keys.versioned(keys.product(product_id), self.version(product_id))

    def cached(self, product_id: int) -> Optional[dict]:
        version = self._current_version(product_id)
        if version is None:
            return None  # no generation: the next reader starts one, and misses
        return self.cache.get(keys.versioned(keys.product(product_id), version))

    def after_write_steps(self, product_id: int, row: dict) -> _Steps[None]:
        counter = keys._version_counter(keys.product(product_id))
        self.cache.delete(counter)
        yield f"deletes {counter}: the next reader starts a new generation"


# --------------------------------------------------------------------------- leases


class LeaseCache:
    """Memcache-style leases over any atomic course cache (Nishtala et al., "Scaling Memcache at
    Facebook", NSDI 2013).

    A reader that misses is handed a *lease*: a token that entitles it to fill that
    key. A delete voids the lease. A fill is stored only if its token is still the
    key's current lease -- so a reader that loaded a row before a write cannot store
    it after the write's delete.

    - ``lease_get(key)`` → ``(value, None)`` on a hit; ``(None, token)`` on a miss
      with a fresh lease; ``(None, None)`` on a miss while another reader holds
      the lease (memcache tells that reader to wait a moment and retry).
    - ``lease_set(key, value, token, ttl)`` → True if stored, False if the lease was voided.
    - ``delete(key)`` removes the value *and* voids its lease.

    A lease expires after ``lease_ttl`` seconds (memcache hands out at most one per
    key per 10 s), so a reader that dies does not block fills for long.

    Both halves are atomic on the server. A lease is handed out with ``cache.add``
    (Redis ``SET lease:key token NX PX``): of two readers that miss at once, exactly
    one gets it. A fill is ``cache.set_and_release`` (on Redis, one Lua script that
    checks the token, stores the value and removes the lease): nothing can come
    between the check and the store. Written with a plain GET and SET instead, a
    delete landing between them lets the old row in -- the very race leases exist for.
    """

    def __init__(self, cache: _AtomicCache, lease_ttl: float = 10.0) -> None:
        self.cache = cache
        if lease_ttl is None:
            raise ValueError(
                "lease_ttl must be > 0 seconds: a lease that never expires blocks fills forever"
            )
        self.lease_ttl = validate_ttl(lease_ttl, "lease_ttl")

    def lease_get(self, key: str) -> tuple[Any, Optional[str]]:
        value = self.cache.get(key)
        if value is not None:
            return value, None
        token = uuid.uuid4().hex
        if self.cache.add(keys.lease(key), token, self.lease_ttl):
            return None, token
        return None, None  # someone else holds the lease and is filling this key

    def lease_set(
        self, key: str, value: Any, token: Optional[str], ttl: Optional[float] = None
    ) -> bool:
        if token is None:
            return False  # never held a lease
        return self.cache.set_and_release(key, value, ttl, lock_key=keys.lease(key), token=token)

    def get(self, key: str) -> Any:
        """The cached value, or None; no lease is handed out."""
        return self.cache.get(key)

    def delete(self, key: str) -> None:
        """Void the lease on ``key``, then remove its value -- in that order.

        The other order has a gap: between the two deletes a reader whose lease is still
        valid can fill the old row, and the second delete then removes only the lease.
        Voiding the lease first closes it: a fill after that is refused, and a fill
        before it is removed by the delete of the value.
        """
        self.cache.delete(keys.lease(key))
        self.cache.delete(key)

    def __repr__(self) -> str:
        return f"LeaseCache({self.cache!r}, lease_ttl={self.lease_ttl})"


class LeasedDeleteOnWrite(DeleteOnWrite):
    """Delete-on-write whose fills need a lease, which the write's delete voids: no lost
    invalidation.

    A reader that misses while another holds the lease does what memcache tells it
    to: it waits a moment and asks again, up to ``lease_retries`` times, and is served
    the holder's value once it lands -- it does not join a herd at the database. In
    the step harness a wait is one step (the other requests move meanwhile). If the
    value does not come within those retries (the holder died, or its load is slower
    than the retries last), the reader loads the row itself, without filling: it holds
    no lease.
    """

    name = "delete-on-write + leases"

    def __init__(
        self,
        shop: Shop,
        cache: _AtomicCache,
        ttl: float,
        lease_ttl: float = 10.0,
        lease_retries: int = 3,
    ) -> None:
        super().__init__(shop, cache, ttl)
        self.leases = LeaseCache(cache, lease_ttl)
        self.lease_retries = validate_whole_number(
            lease_retries, "lease_retries", minimum=0, maximum=100
        )

    def read_steps(self, product_id: int) -> _Steps[dict]:
        key = self.key(product_id)
        row, token = self.leases.lease_get(key)
        for attempt in range(self.lease_retries):
            if row is not None or token is not None:
                break
            yield f"miss on {key}, lease held by another reader: waits ({attempt + 1})"
            row, token = self.leases.lease_get(key)
        if row is not None:
            yield f"hit on {key}: serves {_price(row)}"
            return row
        yield f"miss on {key}, " + ("gets a lease" if token else "still no lease: gives up waiting")
        row = self.shop.product(product_id)
        yield f"loads {_price(row)} from the database"
        if token is None:
            return row
        if self.leases.lease_set(key, row, token, self.ttl):
            yield f"stores {_price(row)} in {key} (lease valid)"
        else:
            yield f"fill of {_price(row)} refused: lease voided"
        return row

    def after_write_steps(self, product_id: int, row: dict) -> _Steps[None]:
        key = self.key(product_id)
        self.leases.delete(key)
        yield f"deletes {key} (voids its lease)"


_ALL_STRATEGIES = (TTLOnly, DeleteOnWrite, WriteThrough, VersionedKeys, LeasedDeleteOnWrite)
"""Every strategy class of this module, in the order lesson 06 teaches them."""


# --------------------------------------------------------------------------- the race harness


@dataclass(frozen=True)
class _Step:
    """One step of an interleaving, and the state it left behind."""

    number: int
    actor: str
    did: str
    cache_serves: str
    database_holds: str


@dataclass
class _RaceRun:
    """What an interleaving did, step by step, and how it ended."""

    steps: list[_Step] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    cached: Optional[dict] = None
    truth: Optional[dict] = None

    @property
    def stale(self) -> bool:
        """True if the cache was left serving something other than the database's row."""
        return self.cached is not None and self.cached != self.truth

    def table(self) -> Table:
        """The steps as a table; the rows where the cache disagrees with the database are shaded."""
        rows = [
            {
                "step": s.number,
                "actor": s.actor,
                "does": s.did,
                "cache serves": s.cache_serves,
                "database holds": s.database_holds,
            }
            for s in self.steps
        ]
        return Table(rows, highlight=lambda r: r["cache serves"] not in ("—", r["database holds"]))


def interleave(
    strategy: TTLOnly,
    product_id: int,
    actors: Mapping[str, _Steps[Any]],
    order: Union[Sequence[str], random.Random],
    record: bool = True,
) -> _RaceRun:
    """Run ``actors`` (name → step generator) one step at a time, in ``order``.

    ``order`` is either a list of actor names (a scripted interleaving; actors left
    unfinished are then run to the end in the order given) or a ``random.Random``:
    at every step it picks one of the unfinished actors, uniformly. With
    ``record=True`` each step is recorded with what the cache would serve and what
    the database holds right after it.
    """
    pending = dict(actors)
    result = _RaceRun()

    def advance(name: str) -> bool:
        """Do one step of ``name``; False if it had already finished."""
        try:
            did = next(pending[name])
        except StopIteration as done:
            result.results[name] = done.value
            del pending[name]
            return False
        if record:
            result.steps.append(
                _Step(
                    len(result.steps) + 1,
                    name,
                    did,
                    _price(strategy.cached(product_id)),
                    _price(strategy.shop.product(product_id)),
                )
            )
        return True

    if isinstance(order, random.Random):
        while pending:
            advance(order.choice(sorted(pending)))
    else:
        for name in order:
            if name not in pending:
                raise ValueError(
                    f"actor {name!r} has already finished (or is unknown); actors: {sorted(actors)}"
                )
            advance(name)
        for name in list(actors):
            while name in pending:
                advance(name)
    result.cached = strategy.cached(product_id)
    result.truth = strategy.shop.product(product_id)
    return result


def _random_race(
    strategy: TTLOnly,
    product_id: int,
    rng: random.Random,
    readers: int = 2,
    writers: int = 2,
    record: bool = False,
) -> _RaceRun:
    """One random interleaving of ``readers`` reads and ``writers`` price changes of one product.

    Writer *i* sets a new price: the current one plus $i, wrapping round below $500, so
    every write is a new value and prices stay plausible however many runs share the shop.
    """
    dollars = strategy.shop.product(product_id)["price_cents"] // 100
    actors: dict[str, _Steps[Any]] = {
        f"reader {i}": strategy.read_steps(product_id) for i in range(1, readers + 1)
    }
    for i in range(1, writers + 1):
        new_price = 100 * ((dollars + i) % 500) + 99
        actors[f"writer {i}"] = strategy.write_steps(
            product_id, lambda shop, p=new_price: shop.set_price(product_id, p)
        )
    return interleave(strategy, product_id, actors, rng, record=record)


def count_stale_races(
    make_strategy: Callable[[], TTLOnly],
    product_id: int,
    runs: int = 1000,
    seed: int = 0,
    readers: int = 2,
    writers: int = 2,
    progress: bool = False,
) -> int:
    """In how many of ``runs`` seeded random interleavings the cache was left stale.

    ``make_strategy()`` is called once per run and must return a strategy over an
    empty cache (each run starts cold), all sharing one shop.
    """
    rng = random.Random(seed)
    indices: Any = range(runs)
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc=make_strategy().name, leave=False)
    return sum(
        _random_race(make_strategy(), product_id, rng, readers, writers).stale for _ in indices
    )
