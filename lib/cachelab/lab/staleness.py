"""Stale reads, measured: how often a cache served what the database no longer held, and for how
long.

A read is **stale** when the value it served differs from the database's value at
that moment. Its **staleness age** is how long the served value had already been
wrong: the time since the write that replaced it. With TTL-only caching the age
can never reach the TTL -- the entry expires first -- which is what lesson 05 shows.

The measurement drives a real ``Shop`` (on a scratch copy) and a real cache with a ``FakeClock``:
``make_schedule`` draws a seeded run of reads and writes (from ``cachelab.lab.workload``, the
course's one traffic generator), ``run_workload`` replays it -- reads through the pages being
measured, writes straight to the database -- and records every read next to the database's truth.
The same seed gives the same figures, to the last read, on every machine.

>>> _stale_fraction([{"served": 1, "truth": 1}, {"served": 1, "truth": 2}])
0.5
>>> stale_age(12.0, "old", [(0.0, "old"), (5.0, "new")])
7.0
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Optional, Protocol, Sequence

from cachelab.clock import FakeClock
from cachelab.lab.workload import _key_of, is_read, poisson_arrivals
from cachelab.shop.app import Shop

__all__ = [
    "Read",
    "make_schedule",
    "plot_served_prices",
    "plot_timeline",
    "run_workload",
    "stale_age",
]


# --------------------------------------------------------------------------- the two measures


def _stale_fraction(reads: Iterable[Any]) -> float:
    """The fraction of ``reads`` that served something other than the truth; 0.0 for no reads.

    Each read is a ``Read`` or a mapping with ``"served"`` and ``"truth"``. Values are
    compared by equality: an equal copy of the truth is not stale.
    """
    reads = list(reads)
    if not reads:
        return 0.0
    return sum(_served(r) != _truth(r) for r in reads) / len(reads)


def stale_age(read_time: float, served: Any, history: Sequence[tuple[float, Any]]) -> float:
    """How long ``served`` had been wrong at ``read_time``: 0.0 if it is the truth then.

    ``history`` is the truth of one key over time: ``(time, value)`` pairs in time
    order, the first one being the value at the start. The served value stopped
    being true at the first write after the last moment it *was* true; the age is
    measured from that write -- not from the latest write, and not from when the
    value was cached.

    >>> history = [(0.0, 100), (10.0, 120), (15.0, 130)]
    >>> stale_age(20.0, 100, history)  # 100 was replaced at t=10
    10.0
    >>> stale_age(20.0, 130, history)
    0.0
    """
    known = [(t, value) for t, value in history if t <= read_time]
    if not known:
        raise ValueError(
            f"history starts after the read at t={read_time}; it must begin with the starting value"
        )
    if served == known[-1][1]:
        return 0.0
    for index in range(len(known) - 1, -1, -1):
        if known[index][1] == served:
            return float(read_time - known[index + 1][0])
    raise ValueError(f"served {served!r}, a value the history never held before t={read_time}")


def _served(read: Any) -> Any:
    return read["served"] if isinstance(read, Mapping) else read.served


def _truth(read: Any) -> Any:
    return read["truth"] if isinstance(read, Mapping) else read.truth


# --------------------------------------------------------------------------- the run's records


@dataclass(frozen=True)
class _Event:
    """One request of a schedule, ``t`` seconds after the run starts.

    ``kind`` is ``"read"`` (a product page view), ``"price"`` (``amount`` = the new
    price in cents) or ``"sell"`` (``amount`` = units sold).
    """

    t: float
    kind: Literal["read", "price", "sell"]
    product_id: int
    amount: int = 0


@dataclass(frozen=True)
class Read:
    """One page view: what the pages served, what the database held, and whether it cost a load."""

    t: float
    product_id: int
    served: dict
    truth: dict
    loaded: bool
    stale_age_s: float

    @property
    def stale(self) -> bool:
        return self.served != self.truth


@dataclass(frozen=True)
class _Write:
    """One change to the database: the product's row after it."""

    t: float
    product_id: int
    change: str
    row: dict


@dataclass
class _StalenessRun:
    """Every read and write of one replayed schedule, with the figures lessons quote."""

    reads: list[Read] = field(default_factory=list)
    writes: list[_Write] = field(default_factory=list)

    @property
    def stale_reads(self) -> int:
        return sum(r.stale for r in self.reads)

    @property
    def stale_fraction(self) -> float:
        return _stale_fraction(self.reads)

    @property
    def db_loads(self) -> int:
        """Reads that had to ask the database (cache misses)."""
        return sum(r.loaded for r in self.reads)

    @property
    def hit_ratio(self) -> float:
        """Reads served from the cache, as a fraction of all reads."""
        return 1 - self.db_loads / len(self.reads) if self.reads else 0.0

    @property
    def max_stale_age_s(self) -> float:
        return max((r.stale_age_s for r in self.reads), default=0.0)

    @property
    def mean_stale_age_s(self) -> float:
        """Mean staleness age over the stale reads only (0.0 if none was stale)."""
        ages = [r.stale_age_s for r in self.reads if r.stale]
        return sum(ages) / len(ages) if ages else 0.0

    def summary(self) -> dict[str, Any]:
        """The figures of the run, rounded for reading (the exact ones are the properties)."""
        return {
            "reads": len(self.reads),
            "writes": len(self.writes),
            "stale_reads": self.stale_reads,
            "stale_fraction": round(self.stale_fraction, 4),
            "hit_ratio": round(self.hit_ratio, 4),
            "db_loads": self.db_loads,
            "max_stale_age_s": round(self.max_stale_age_s, 2),
            "mean_stale_age_s": round(self.mean_stale_age_s, 2),
        }


# --------------------------------------------------------------------------- the workload


class _Pages(Protocol):
    """What ``run_workload`` drives: product pages that read through some cache and write the
    database.
    """

    def read(self, product_id: int) -> dict: ...

    def set_price(self, product_id: int, price_cents: int) -> dict: ...

    def sell(self, product_id: int, quantity: int) -> dict: ...


def make_schedule(
    product_ids: Sequence[int],
    duration_s: float,
    read_rate: float,
    write_rate: float,
    seed: int = 0,
) -> list[_Event]:
    """A seeded, time-ordered list of reads and writes over ``duration_s`` seconds.

    Reads and writes arrive at random (``workload.poisson_arrivals``: Poisson
    processes) at ``read_rate`` and ``write_rate`` per second in all, each on a
    product chosen uniformly from ``product_ids``. Half the writes change the price
    (to a new price ending in 99), half sell 1 to 3 units. The same arguments always
    give the same schedule.
    """
    product_ids = list(product_ids)
    if not product_ids:
        raise ValueError("product_ids must name at least one product")
    times, codes = poisson_arrivals(
        read_rate, write_rate, duration_s, key_count=len(product_ids), zipf_exponent=0.0, seed=seed
    )
    amounts = random.Random(seed)  # what each write does: a price or a sale, and how much
    events: list[_Event] = []
    for t, code in zip(times, codes):
        product_id = product_ids[_key_of(code)]
        if is_read(code):
            events.append(_Event(t, "read", product_id))
        elif amounts.random() < 0.5:
            events.append(_Event(t, "price", product_id, amounts.randrange(5, 100) * 100 + 99))
        else:
            events.append(_Event(t, "sell", product_id, amounts.randint(1, 3)))
    return events


def run_workload(
    shop: Shop, pages: _Pages, clock: FakeClock, events: Iterable[_Event]
) -> _StalenessRun:
    """Replay ``events`` on ``clock`` and record every read beside the database's truth.

    Reads go through ``pages.read``; a read *loaded* when it made ``shop`` run a
    query (a miss). Writes go through ``pages.set_price`` / ``pages.sell`` and the
    row they return is the new truth. A sale never sells more than is in stock
    (a sale of a sold-out product is skipped). ``shop`` must be the Shop that
    ``pages`` uses, so its query counter sees the loads.
    """
    start = clock()
    events = list(events)
    truth: dict[int, list[tuple[float, dict]]] = {}
    for product_id in sorted({e.product_id for e in events}):
        truth[product_id] = [(start, shop.product(product_id))]
    run = _StalenessRun()
    for event in events:
        clock.advance(max(0.0, start + event.t - clock()))
        now = clock()
        history = truth[event.product_id]
        if event.kind == "read":
            queries_before = shop.queries
            served = pages.read(event.product_id)
            loaded = shop.queries > queries_before
            run.reads.append(
                Read(
                    now,
                    event.product_id,
                    served,
                    history[-1][1],
                    loaded,
                    stale_age(now, served, history),
                )
            )
            continue
        if event.kind == "price":
            row = pages.set_price(event.product_id, event.amount)
            change = f"price → {event.amount}"
        else:
            quantity = min(event.amount, history[-1][1]["stock"])
            if quantity == 0:
                continue
            row = pages.sell(event.product_id, quantity)
            change = f"sold {quantity}"
        history.append((now, row))
        run.writes.append(_Write(now, event.product_id, change, row))
    return run


# --------------------------------------------------------------------------- showing it


def plot_timeline(run: _StalenessRun, ttl: Optional[float] = None, title: str = ""):
    """The run as a picture: one lane per product (top) and the staleness age of each read (bottom).

    Fresh reads are small grey dots, stale reads red, cache misses (database loads)
    hollow circles, writes black triangles. The bottom panel shows how long each
    stale read's value had been wrong, with the TTL as a dashed line.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    products = sorted({r.product_id for r in run.reads} | {w.product_id for w in run.writes})
    lane = {pid: i for i, pid in enumerate(products)}
    start = min([r.t for r in run.reads] + [w.t for w in run.writes], default=0.0)
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(9, 4.8),
        sharex=True,
        gridspec_kw={"height_ratios": [1.3, 1]},
        constrained_layout=True,
    )

    def xs(items):
        return [item.t - start for item in items]

    def ys(items):
        return [lane[item.product_id] for item in items]

    fresh = [r for r in run.reads if not r.stale]
    stale = [r for r in run.reads if r.stale]
    loads = [r for r in run.reads if r.loaded]
    # Okabe-Ito colours, and a shape of its own for each kind: nothing told by colour alone
    top.scatter(xs(fresh), ys(fresh), s=6, color="0.6", marker="o", label="fresh read", zorder=2)
    top.scatter(
        xs(stale), ys(stale), s=22, color="#D55E00", marker="x", label="stale read", zorder=3
    )
    top.scatter(
        xs(loads),
        ys(loads),
        s=40,
        facecolors="none",
        edgecolors="#0072B2",
        label="miss → database",
        zorder=4,
    )
    top.scatter(
        [w.t - start for w in run.writes],
        [lane[w.product_id] + 0.3 for w in run.writes],
        marker="v",
        s=45,
        color="black",
        label="write",
        zorder=5,
    )
    top.set_yticks(range(len(products)), [f"product {pid}" for pid in products])
    top.set_ylim(-0.6, len(products) - 0.2)
    if title:
        top.set_title(title, fontsize=10)
    fig.legend(
        *top.get_legend_handles_labels(),
        loc="outside lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
    )

    bottom.scatter(xs(stale), [r.stale_age_s for r in stale], s=16, color="#D55E00", marker="x")
    for w in run.writes:
        bottom.axvline(w.t - start, color="black", linewidth=0.5, alpha=0.3)
    if ttl is not None:
        bottom.axhline(ttl, color="tab:blue", linestyle="--", linewidth=1)
        bottom.text(0, ttl, f" TTL = {ttl:g} s", color="tab:blue", va="bottom", fontsize=8)
        bottom.set_ylim(0, ttl * 1.25)
    bottom.set_ylabel("staleness age (s)")
    bottom.set_xlabel("time (s, fake clock)")
    return fig


def plot_served_prices(served: Sequence[tuple[float, int]], expires_s: float, title: str = ""):
    """Prices a real cache served after a write, as steps: ``served`` holds one (seconds since
    the write, price in cents) pair per read, each drawn as a cross.

    A dashed line marks ``expires_s``, when the cached key's TTL ran out (in seconds since the
    write, so before 0 if it was cached long before). Okabe-Ito colours, and a marker and a line
    style for each thing drawn, as in ``plot_timeline``. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.2), constrained_layout=True)
    seconds = [t for t, _ in served]
    dollars = [cents / 100 for _, cents in served]
    ax.step(seconds, dollars, where="post", color="#D55E00")
    ax.scatter(seconds, dollars, s=18, color="#D55E00", marker="x")
    ax.axvline(expires_s, color="#0072B2", linestyle="--", linewidth=1)
    # at the top left of the line, where the old price is below it
    ax.text(
        expires_s,
        0.95,
        "key expires ",
        color="#0072B2",
        va="top",
        ha="right",
        fontsize=8,
        transform=ax.get_xaxis_transform(),
    )
    ax.set_xlabel("seconds since the write (real clock)")
    ax.set_ylabel("price served ($)")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
