"""The capstone (lesson 09): a mixed page, its budgets, and a seeded replay that grades a design.

The page is a product page of the shop as a signed-in user sees it: the **trending**
list in a sidebar (its ``days`` and ``limit`` come from the query string), the
**product** itself (its **price** and its **stock**), and the user's latest
**notifications**. Four kinds of data, four staleness budgets (``BUDGETS``, each a
maximum stale *fraction* and a maximum *age*, as lesson 05 measured them), one
database-load budget, one p95 page-latency budget and one cache-size budget.

A design is a class (or any factory) that takes an ``Env`` -- the shop, the cache,
the clock, and ``spawn`` for background work -- and returns an object with the
page and the three writes::

    class MyPages:
        def __init__(self, env): ...
        def page(self, user_id, product_id, days, limit) -> dict  # trending, product, notes
        def set_price(self, product_id, price_cents): ...
        def sell(self, product_id, quantity): ...
        def notify(self, user_id, message): ...

``grade(MyPages)`` replays ``WORKLOAD`` -- shoppers, bots that ask for products that do
not exist (and for strange trending lists), price changes, sales and notifications,
all drawn from a seed by ``workload.poisson_arrivals`` -- on a ``FakeClock``, against a
scratch copy of the tiny shop with users (``data.add_users``) and a ``MemoryCache`` on
that clock, and records every page beside the database's truth. Background jobs given
to ``spawn`` run right after the request that started them, so the replay is
deterministic: the same design gets the same report on every machine.

**Latency is modelled, not timed**: a page costs the nominal time of each database
query it ran (``COSTS_MS``) plus ``COSTS_MS["cache"]`` per cache operation. The costs are
this course's measured ladder, rounded (lesson 04; the trending query on the default
shop, a primary-key lookup, a Redis round trip), so a verdict does not depend on how
busy the grading machine is. Work done in background jobs counts towards the database
load, not towards any page's latency. Writes are the same for every design, so the
queries of the shop's own write methods are not counted; any other query is.

>>> report = grade(OneTTLForEverything, _Workload(duration_s=60))  # 60 s TTLs, no invalidation
>>> [r.name for r in report.results if not r.met][:3]
['price: stale fraction', 'price: max age', 'stock: stale fraction']
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from cachelab import keys
from cachelab.cache import MemoryCache
from cachelab.clock import FakeClock
from cachelab.lab.staleness import stale_age
from cachelab.lab.timing import percentile
from cachelab.lab.workload import _key_of, poisson_arrivals
from cachelab.shop.app import _NOTIFICATIONS_SQL, PRODUCT_SQL, TRENDING_SQL, Shop
from cachelab.shop.data import DATA_END, add_users, scratch_shop
from cachelab.show.display import Table, tick

__all__ = [
    "BUDGETS",
    "CACHE_KEYS_BUDGET",
    "COSTS_MS",
    "DB_QUERIES_PER_S_BUDGET",
    "OneTTLForEverything",
    "P95_PAGE_MS_BUDGET",
    "WORKLOAD",
    "grade",
    "prepare_shop",
    "workload_summary",
]

_DATA_TYPES = ("price", "stock", "trending", "notifications")


@dataclass(frozen=True)
class _StalenessBudget:
    """How stale one kind of data may be: how often (a fraction of its reads) and how old."""

    data: str
    max_stale_fraction: float
    max_age_s: float
    why: str


BUDGETS = {
    b.data: b
    for b in (
        _StalenessBudget("price", 0.01, 5.0, "a wrong price at checkout is a complaint"),
        _StalenessBudget("stock", 0.05, 30.0, "a stock figure a little behind is an annoyance"),
        _StalenessBudget("trending", 0.50, 60.0, "a ranking a minute old is fine, if not always"),
        _StalenessBudget(
            "notifications", 0.02, 10.0, "a user just notified expects to see it at once"
        ),
    )
}
"""The staleness budget of each kind of data on the page."""

DB_QUERIES_PER_S_BUDGET = 4.0
"""Database queries per second (of the workload's time) that all pages together may cause."""

P95_PAGE_MS_BUDGET = 5.0
"""The 95th percentile of the modelled page latency, in milliseconds."""

CACHE_KEYS_BUDGET = 500
"""The most live (unexpired) keys the cache may hold at any moment."""

COSTS_MS = {
    "trending": 40.0,  # the trending aggregate on the default shop (lessons 01, 02)
    "product": 0.2,  # a primary-key lookup, with the round trip to a database server
    "not-found": 0.2,  # the same lookup, for an id that does not exist
    "notifications": 0.5,  # a user's latest notifications (an index range scan)
    "max-product-id": 0.2,  # SELECT MAX(id): one step down an index
    "cache": 0.1,  # one cache operation: a Redis round trip, with JSON (lesson 04)
}
"""The modelled cost of each database query kind and of one cache operation, in milliseconds."""


@dataclass(frozen=True)
class _Workload:
    """The seeded traffic of the capstone, over ``duration_s`` seconds of fake time."""

    duration_s: float = 200.0
    shopper_rate: float = 15.0  # page views per second by people (products by popularity)
    signed_in: float = 0.7  # the share of those made by a signed-in user
    bot_rate: float = 6.0  # page views per second by bots
    price_rate: float = 0.1  # price changes per second (products by popularity)
    sale_rate: float = 0.5  # sales per second (products by popularity)
    notify_rate: float = 0.3  # notifications sent per second (users at random)
    users: int = 200
    dead_ids: int = 40  # bots retry this many ids that do not exist (an old sitemap)
    seed: int = 9


WORKLOAD = _Workload()
"""The workload ``grade`` replays unless told otherwise."""


@dataclass(frozen=True)
class _Env:
    """What a design is built with: the shop, the cache, the clock, and ``spawn(job)``.

    ``spawn`` runs ``job()`` in the background: in the replay, right after the current
    request (its queries count towards the database load, not the page's latency).
    Pass ``clock`` to anything that stamps or compares times (``StaleWhileRevalidate``,
    ``EarlyRefresh``, ``SingleFlight``'s ``clock``): the replay's time is fake.
    """

    shop: Shop
    cache: MemoryCache
    clock: FakeClock
    spawn: Callable[[Callable[[], Any]], Any]


class _PageError(Exception):
    """A design broke a rule of the page (it raised, or showed the wrong product)."""

    def __init__(self, message: str, topic: str) -> None:
        super().__init__(message)
        self.topic = topic


# --------------------------------------------------------------------------- the workload's events


@dataclass(frozen=True)
class _Request:
    t: float
    user_id: Optional[int]
    product_id: Any
    days: Any
    limit: Any
    bot: bool


@dataclass(frozen=True)
class _Write:
    t: float
    kind: str  # "price", "sell" or "notify"
    target: int
    amount: int = 0
    message: str = ""


_DISCONTINUED = range(101, 141)
"""Product ids the capstone's shop no longer has (its tiny catalogue is 1-100, then 141-160)."""
_NEW_ARRIVALS = range(141, 161)
"""Products added after the discontinued ones, so that ids 101-140 are gaps inside the range."""

_JUNK_IDS = ("42 OR 1=1", "", -1, 0, 3.5, True, None, "../etc/passwd", "%00", "42")
_JUNK_PARAMS = (("7", "10"), (None, None), (-7, 10), (7, 0), (10**9, 10**9), (True, 10), (7.5, 10))
_MESSAGES = ("Your order has shipped", "A price dropped on your wishlist", "Back in stock")


def _events(workload: _Workload, catalogue: list[int], popular: int) -> list[Any]:
    """The workload's requests and writes, in time order (seeded)."""
    rng = random.Random(workload.seed)
    events: list[Any] = []
    duration = workload.duration_s
    times, codes = poisson_arrivals(
        workload.shopper_rate,
        workload.price_rate,
        duration,
        key_count=popular,
        zipf_exponent=1.0,
        writes_follow_reads=True,
        seed=workload.seed,
    )
    for t, code in zip(times, codes):
        product_id = _key_of(code) + 1
        if code >= 0:
            signed_in = rng.random() < workload.signed_in
            user = rng.randint(1, workload.users) if signed_in else None
            events.append(_Request(t, user, product_id, 7, 10, False))
        else:
            events.append(_Write(t, "price", product_id, rng.randrange(5, 100) * 100 + 99))
    times, codes = poisson_arrivals(
        workload.sale_rate,
        0,
        duration,
        key_count=popular,
        zipf_exponent=1.0,
        seed=workload.seed + 1,
    )
    events += [_Write(t, "sell", _key_of(c) + 1, rng.randint(1, 3)) for t, c in zip(times, codes)]
    times, codes = poisson_arrivals(
        workload.notify_rate,
        0,
        duration,
        key_count=workload.users,
        zipf_exponent=0.0,
        seed=workload.seed + 2,
    )
    events += [
        _Write(t, "notify", _key_of(c) + 1, message=rng.choice(_MESSAGES))
        for t, c in zip(times, codes)
    ]
    dead = list(_DISCONTINUED)[: workload.dead_ids]
    times, _ = poisson_arrivals(workload.bot_rate, 0, duration, seed=workload.seed + 3)
    for t in times:
        draw = rng.random()
        if draw < 0.45:  # an old sitemap: discontinued products, again and again
            events.append(_Request(t, None, rng.choice(dead), 7, 10, True))
        elif draw < 0.70:  # guessing ids
            events.append(_Request(t, None, rng.randrange(10**6, 10**12), 7, 10, True))
        elif draw < 0.97:  # scraping the trending list with every parameter there is
            days, limit = rng.randint(1, 3_650), rng.randint(1, 1_000)
            events.append(_Request(t, None, rng.choice(catalogue), days, limit, True))
        else:  # junk in the query string
            days, limit = rng.choice(_JUNK_PARAMS)
            events.append(_Request(t, None, rng.choice(_JUNK_IDS), days, limit, True))
    events.sort(key=lambda event: event.t)
    return events


def workload_summary(workload: _Workload = WORKLOAD) -> Table:
    """What the workload holds, counted by kind: shoppers' pages, bots' pages, writes."""
    catalogue = list(range(1, 101)) + list(_NEW_ARRIVALS)
    counts: dict[str, int] = {}
    for event in _events(workload, catalogue, popular=100):
        if isinstance(event, _Write):
            kind = {"price": "price changes", "sell": "sales", "notify": "notifications sent"}[
                event.kind
            ]
        elif not event.bot:
            kind = "pages, signed in" if event.user_id is not None else "pages, anonymous"
        elif (event.days, event.limit) != (7, 10) and isinstance(event.product_id, int):
            kind = "bot pages: trending with odd parameters"
        elif isinstance(event.product_id, int) and event.product_id in _DISCONTINUED:
            kind = "bot pages: discontinued products"
        elif isinstance(event.product_id, int) and not isinstance(event.product_id, bool):
            kind = "bot pages: guessed ids"
        else:
            kind = "bot pages: junk in the query string"
        counts[kind] = counts.get(kind, 0) + 1
    return Table(
        {"what": kind, "count": n, "per second": round(n / workload.duration_s, 2)}
        for kind, n in counts.items()
    )


def prepare_shop(users: int = WORKLOAD.users) -> Any:
    """The capstone's shop: a scratch copy of the tiny shop, with users and notifications
    (``data.add_users``), that discontinued products 101-140 and added 141-160."""
    import sqlite_utils

    path = add_users(scratch_shop("tiny"), users=users)
    db = sqlite_utils.Database(path)
    try:
        if not db.execute("SELECT 1 FROM products WHERE id = ?", [_NEW_ARRIVALS[0]]).fetchone():
            names = {row[0] for row in db.execute("SELECT name FROM products")}
            rows = []
            for product_id in _NEW_ARRIVALS:
                rows.append(
                    {
                        "id": product_id,
                        "name": f"New arrival no. {product_id}",
                        "category": "new",
                        "price_cents": 1999 + 100 * (product_id % 7),
                        "stock": 25,
                        "updated_at": DATA_END,
                    }
                )
                assert rows[-1]["name"] not in names
            with db.conn:
                db["products"].insert_all(rows)
    finally:
        db.close()
    return path


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class _BudgetVerdict:
    """One budget, met or missed, and by how much."""

    name: str
    measured: float
    budget: float
    unit: str
    detail: str = ""

    @property
    def met(self) -> bool:
        return self.measured <= self.budget + 1e-12

    @property
    def margin(self) -> float:
        """How far under the budget (positive) or over it (negative), in the budget's unit."""
        return self.budget - self.measured

    def _format(self, value: float) -> str:
        if self.unit == "%":
            return f"{value:.2%}"
        return f"{value:,.3g} {self.unit}"

    def describe(self) -> str:
        """``price: stale fraction 3.20 %, over the budget of 1.00 % by 2.20 points``."""
        over = "within" if self.met else "over"
        if self.unit == "%":
            by = f"{abs(self.margin) * 100:.2f} points"
        else:
            by = f"{abs(self.margin):,.3g} {self.unit}"
        text = (
            f"{self.name} {self._format(self.measured)}, {over} the budget of "
            f"{self._format(self.budget)} by {by}"
        )
        return text + (f" ({self.detail})" if self.detail else "")


@dataclass
class _Report:
    """What ``grade`` measured: every budget's result, and the figures behind them."""

    results: list[_BudgetVerdict]
    reads: dict[str, int] = field(default_factory=dict)
    queries_by_kind: dict[str, int] = field(default_factory=dict)
    keys_by_kind: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    pages: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def passed(self) -> bool:
        return all(result.met for result in self.results)

    @property
    def missed(self) -> list[_BudgetVerdict]:
        return [result for result in self.results if not result.met]

    def result(self, name: str) -> _BudgetVerdict:
        return next(r for r in self.results if r.name == name)

    def table(self) -> Table:
        """Every budget as a row: measured, budget, ✅/❌, and the margin."""
        return Table(
            [
                {
                    "budget": r.name,
                    "measured": r._format(r.measured),
                    "limit": r._format(r.budget),
                    "met": tick(r.met),
                    "margin": ("+" if r.met else "−")
                    + (
                        f"{abs(r.margin) * 100:.2f} pt"
                        if r.unit == "%"
                        else r._format(abs(r.margin))
                    ),
                }
                for r in self.results
            ],
            highlight=lambda row: row["met"] != tick(True),
        )

    def queries_per_s(self) -> dict[str, float]:
        """Database queries per second, by kind, biggest first."""
        per_s = {k: n / self.duration_s for k, n in self.queries_by_kind.items() if n}
        return dict(sorted(per_s.items(), key=lambda item: -item[1]))


# --------------------------------------------------------------------------- the replay


def _ids(rows: Any) -> Optional[tuple]:
    if rows is None:
        return None
    try:
        return tuple(row["id"] for row in rows)
    except (TypeError, KeyError):
        return ("not a list of rows",)


def grade(make_pages: Callable[[_Env], Any], workload: _Workload = WORKLOAD) -> _Report:
    """Replay ``workload`` through the design ``make_pages(env)`` and measure every budget.

    Raises ``_PageError`` when a page breaks a rule (it raised, showed the wrong product,
    or called a product that exists "not found"); otherwise returns the ``Report``.
    """
    if not callable(make_pages):
        raise TypeError(f"make_pages must be a class or function taking env, got {make_pages!r}")
    if not isinstance(workload, _Workload):
        raise TypeError(f"workload must be a capstone._Workload, got {type(workload).__name__}")
    replay = _Replay(workload)
    try:
        replay.build(make_pages)
        replay.run()
    finally:
        replay.close()
    return replay.report()


class _Replay:
    """One replay of the workload through one design, with the database's truth beside it.

    The set-up is made once: a scratch shop, the design's counted connection and cache on a
    fake clock, and the grader's own connection, which keeps the history of every price,
    stock figure, trending list and user's notifications. ``run`` replays the events in time
    order and records every read the pages served; then each budget has its own method
    (``staleness``, ``cache_keys``, ``database_load``, ``page_latency``), and ``report``
    gathers them.
    """

    def __init__(self, workload: _Workload) -> None:
        self.workload = workload
        path = prepare_shop(workload.users)
        self.start = float(DATA_END)
        self.clock = FakeClock(self.start)
        self.truth = Shop(path, clock=self.clock)  # the grader's own connection: never counted
        self.catalogue = sorted(
            row[0] for row in self.truth.db.execute("SELECT id FROM products ORDER BY id")
        )
        self.existing = set(self.catalogue)
        self.shop = _GradedShop(path, self.clock, self.existing)
        self.shop.db.execute("PRAGMA synchronous = OFF")  # a throw-away copy: no waiting for disk
        self.cache = _CountingCache(self.clock)
        self.jobs: list[Callable[[], Any]] = []
        self.pages: Any = None  # the design, once built
        # the database's history, [(time, value), ...]: price and stock by product, the
        # trending list, and notifications by user
        self.price: dict[int, list] = {}
        self.stock: dict[int, list] = {}
        self.trending: list = []
        self.notes: dict[int, list] = {}
        self.reads: dict[str, list] = {data: [] for data in _DATA_TYPES}  # (stale?, age) per read
        self.latencies: list[float] = []
        self.peak_keys, self.peak_kinds = 0, {}
        self.next_trending_check = self.start + 10.0

    def build(self, make_pages: Callable[[_Env], Any]) -> None:
        """Build the design from ``Env``, then note what the database holds at the start."""
        env = _Env(shop=self.shop, cache=self.cache, clock=self.clock, spawn=self.jobs.append)
        self.pages = make_pages(env)
        for method in ("page", "set_price", "sell", "notify"):
            if not callable(getattr(self.pages, method, None)):
                raise _PageError(f"the design has a {method}() method", "shape")
        for row in self.truth.db.execute("SELECT id, price_cents, stock FROM products"):
            self.price[row[0]], self.stock[row[0]] = [(self.start, row[1])], [(self.start, row[2])]
        self.trending = [(self.start, _ids(self.truth.trending()))]
        self.notes = {
            user: [(self.start, _ids(self.truth.notifications(user)))]
            for user in range(1, self.workload.users + 1)
        }

    def run(self) -> None:
        """Replay every event at its time; background jobs run right after their request."""
        for index, event in enumerate(_events(self.workload, self.catalogue, popular=100)):
            self.clock.now = self.start + event.t
            now = self.clock.now
            if now >= self.next_trending_check:  # the 7-day window slides as time passes
                self._follow_trending(now)
                self.next_trending_check = now + 10.0
            if isinstance(event, _Write):
                self.shop.phase = "write"
                self._write(event, now)
                self.shop.phase = "other"
                self._run_jobs()
            else:
                self._page(event, now)
                self._run_jobs()
                if index % 250 == 0:
                    self._count_keys()
        self._count_keys()

    def close(self) -> None:
        self.shop.close()
        self.truth.close()

    # ----------------------------------------------------------------------- the writes

    def _write(self, event: _Write, now: float) -> None:
        """Send a write to the design, check that it reached the database, note the change."""
        target = event.target
        if event.kind == "price":
            self.pages.set_price(target, event.amount)
            price = self._column("price_cents", target)
            if price != event.amount:
                message = f"set_price({target}, {event.amount}) did not change the price"
                raise _PageError(f"{message} in the database", "shape")
            if price != self.price[target][-1][1]:
                self.price[target].append((now, price))
        elif event.kind == "sell":
            quantity = min(event.amount, self.stock[target][-1][1])
            if quantity:
                self.pages.sell(target, quantity)
                stock = self._column("stock", target)
                if stock != self.stock[target][-1][1] - quantity:
                    message = f"sell({target}, {quantity}) did not lower the stock"
                    raise _PageError(f"{message} in the database", "shape")
                self.stock[target].append((now, stock))
                self._follow_trending(now)
        else:
            self.pages.notify(target, event.message)
            current = _ids(self.truth.notifications(target))
            if current == self.notes[target][-1][1]:
                raise _PageError(f"notify({target}, ...) did not reach the database", "shape")
            self.notes[target].append((now, current))

    def _column(self, column: str, product_id: int) -> Any:
        sql = f"SELECT {column} FROM products WHERE id = ?"
        return self.truth.db.execute(sql, [product_id]).fetchone()[0]

    def _follow_trending(self, now: float) -> None:
        current = _ids(self.truth.trending())
        if current != self.trending[-1][1]:
            self.trending.append((now, current))

    def _run_jobs(self) -> None:
        self.shop.phase = "background"
        while self.jobs:
            self.jobs.pop(0)()
        self.shop.phase = "other"

    # ----------------------------------------------------------------------- the pages

    def _page(self, event: _Request, now: float) -> None:
        """Ask the design for a page, time it by its queries and cache operations, grade it."""
        cost_before, operations_before = self.shop.cost_ms, self.cache.operations
        self.shop.phase = "page"
        try:
            page = self.pages.page(event.user_id, event.product_id, event.days, event.limit)
        except Exception as error:
            raise _PageError(
                f"page(user_id={event.user_id!r}, product_id={event.product_id!r}, "
                f"days={event.days!r}, limit={event.limit!r}) raised "
                f"{type(error).__name__}: {error} -- a page must answer whatever a request holds",
                "not-found",
            ) from error
        self.shop.phase = "other"
        operations = self.cache.operations - operations_before
        self.latencies.append(self.shop.cost_ms - cost_before + operations * COSTS_MS["cache"])
        if not isinstance(page, dict) or set(page) != {"trending", "product", "notifications"}:
            raise _PageError(
                f"a page is a dict with the keys 'trending', 'product' and 'notifications', "
                f"got {page!r:.120}",
                "shape",
            )
        self._product(event, now, page["product"])
        if (event.days, event.limit) == (7, 10) and not event.bot:
            where = f"trending at t={event.t:.1f} s"
            self._note("trending", self.trending, now, _ids(page["trending"]), where)
        if event.user_id is not None:
            where = f"user {event.user_id}'s notifications at t={event.t:.1f} s"
            history = self.notes[event.user_id]
            self._note("notifications", history, now, _ids(page["notifications"]), where)

    def _product(self, event: _Request, now: float, product: Any) -> None:
        """The page's product: the right row (its price and stock noted), or None if none."""
        product_id = event.product_id
        whole = isinstance(product_id, int) and not isinstance(product_id, bool)
        if whole and product_id in self.existing:
            if not isinstance(product, dict) or product.get("id") != product_id:
                raise _PageError(
                    f"product {product_id} exists, but its page showed {product!r:.80} "
                    "(a 'not found' cached for an id that exists?)",
                    "not-found",
                )
            where = f"product {product_id} at t={event.t:.1f} s"
            self._note("price", self.price[product_id], now, product.get("price_cents"), where)
            self._note("stock", self.stock[product_id], now, product.get("stock"), where)
        elif product is not None:
            raise _PageError(
                f"product_id={product_id!r} does not exist, but the page showed "
                f"{product!r:.80}: answer None",
                "not-found",
            )

    def _note(self, data: str, history: list, now: float, served: Any, what: str) -> None:
        """Record one read of ``data``: stale or not, and how old what it served was."""
        try:
            age = stale_age(now, served, history)
        except ValueError:
            raise _PageError(
                f"{what}: the page showed {served!r}, which the database never held", data
            ) from None
        self.reads[data].append((served != history[-1][1], age))

    def _count_keys(self) -> None:
        live = self.cache.live_keys()
        if len(live) > self.peak_keys:
            self.peak_keys, self.peak_kinds = len(live), _key_kinds(live, self.existing)

    # ----------------------------------------------------------------------- the budgets

    def staleness(self, data: str) -> list[_BudgetVerdict]:
        """The two staleness budgets of one kind of data: its stale fraction and its max age."""
        budget = BUDGETS[data]
        reads = self.reads[data]
        stale = sum(1 for is_stale, _ in reads if is_stale)
        fraction = stale / len(reads) if reads else 0.0
        oldest = max((age for _, age in reads), default=0.0)
        detail = f"{stale:,} of {len(reads):,} reads"
        return [
            _BudgetVerdict(
                f"{data}: stale fraction", fraction, budget.max_stale_fraction, "%", detail
            ),
            _BudgetVerdict(f"{data}: max age", oldest, budget.max_age_s, "s"),
        ]

    def cache_keys(self) -> _BudgetVerdict:
        """The most live keys the cache held at any of the moments it was counted."""
        kinds = ", ".join(f"{kind} {count}" for kind, count in self.peak_kinds.items())
        return _BudgetVerdict(
            "cache keys (peak live)", self.peak_keys, CACHE_KEYS_BUDGET, "keys", kinds
        )

    def database_load(self) -> _BudgetVerdict:
        """Database queries per second of the workload's time, pages and background jobs alike."""
        per_s = {kind: n / self.workload.duration_s for kind, n in self.shop.reads.items()}
        biggest_first = sorted(per_s.items(), key=lambda item: -item[1])
        detail = ", ".join(f"{kind} {rate:.2f}/s" for kind, rate in biggest_first)
        total = sum(per_s.values())
        return _BudgetVerdict("database load", total, DB_QUERIES_PER_S_BUDGET, "queries/s", detail)

    def page_latency(self) -> _BudgetVerdict:
        """The 95th percentile of the modelled page latency, and the share of pages over it."""
        p95 = percentile(self.latencies, 95) if self.latencies else 0.0
        slow = sum(1 for ms in self.latencies if ms > P95_PAGE_MS_BUDGET)
        share = slow / max(1, len(self.latencies))
        detail = f"{share:.1%} of pages over {P95_PAGE_MS_BUDGET:g} ms"
        return _BudgetVerdict("p95 page latency", p95, P95_PAGE_MS_BUDGET, "ms", detail)

    def report(self) -> _Report:
        """Every budget's result, in the order the table shows them, and the figures behind them."""
        results = [result for data in _DATA_TYPES for result in self.staleness(data)]
        results += [self.cache_keys(), self.database_load(), self.page_latency()]
        return _Report(
            results=results,
            reads={data: len(reads) for data, reads in self.reads.items()},
            queries_by_kind=dict(self.shop.reads),
            keys_by_kind=self.peak_kinds,
            duration_s=self.workload.duration_s,
            pages=len(self.latencies),
            latencies_ms=self.latencies,
        )


# --------------------------------------------------------------------------- the instruments


class _GradedShop(Shop):
    """A real Shop that counts its read queries by kind, outside its own write methods."""

    def __init__(self, path: Any, clock: FakeClock, existing_ids: set[int]) -> None:
        super().__init__(path, clock=clock)
        self.existing_ids = existing_ids
        self.reads: dict[str, int] = {}
        self.reads_by_phase: dict[str, int] = {}
        self.phase = "other"
        self.cost_ms = 0.0
        self._writing = 0

    def _execute(self, sql: str, params: Any = ()):  # type: ignore[override]
        if not self._writing and sql.lstrip().upper().startswith("SELECT"):
            kind = self._kind(sql, params)
            self.reads[kind] = self.reads.get(kind, 0) + 1
            self.reads_by_phase[self.phase] = self.reads_by_phase.get(self.phase, 0) + 1
            if self.phase == "page":
                self.cost_ms += COSTS_MS.get(kind, COSTS_MS["product"])
        return super()._execute(sql, params)

    def _kind(self, sql: str, params: Any) -> str:
        if sql == TRENDING_SQL:
            return "trending"
        if sql == PRODUCT_SQL:
            found = isinstance(params, dict) and params.get("id") in self.existing_ids
            return "product" if found else "not-found"
        if sql == _NOTIFICATIONS_SQL:
            return "notifications"
        if "MAX(id)" in sql:
            return "max-product-id"
        return "other"

    def _write(self, method: Callable[..., Any], *args: Any) -> Any:
        self._writing += 1
        try:
            return method(*args)
        finally:
            self._writing -= 1

    def set_price(self, product_id: int, price_cents: int) -> dict:
        return self._write(super().set_price, product_id, price_cents)

    def sell(self, product_id: int, quantity: int = 1) -> dict:
        return self._write(super().sell, product_id, quantity)

    def notify(self, user_id: int, message: str) -> dict:
        return self._write(super().notify, user_id, message)


class _CountingCache(MemoryCache):
    """A MemoryCache that counts the operations made on it, each once (one round trip each)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.operations = 0
        self._inside = 0

    def _counted(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._inside:
            self.operations += 1
        self._inside += 1
        try:
            return method(*args, **kwargs)
        finally:
            self._inside -= 1

    def get(self, key, default=None):
        return self._counted(super().get, key, default)

    def set(self, key, value, ttl=None):
        return self._counted(super().set, key, value, ttl)

    def delete(self, key):
        return self._counted(super().delete, key)

    def add(self, key, value, ttl=None):
        return self._counted(super().add, key, value, ttl)

    def delete_if_equal(self, key, value):
        return self._counted(super().delete_if_equal, key, value)

    def set_and_release(self, key, value, ttl=None, *, lock_key, token):
        return self._counted(
            super().set_and_release, key, value, ttl, lock_key=lock_key, token=token
        )

    def live_keys(self) -> list[str]:
        """The keys that hold a value that has not expired (expired ones wait to be read)."""
        return [key for key in self.keys() if key in self]


def _key_kinds(live: list[str], existing: set[int]) -> dict[str, int]:
    """Live keys by what they hold: ``{"product": 120, "not-found": 40, ...}``."""
    kinds: dict[str, int] = {}
    for key in live:
        kind = key.split(":", 1)[0]
        if kind == "product":
            number = key.split(":", 1)[1]
            found = number.isdigit() and int(number) in existing
            kind = "product" if found else "not-found"
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items(), key=lambda item: -item[1]))


# --------------------------------------------------------------------------- a baseline


class OneTTLForEverything:
    """A first design, for comparison: cache every part of the page for 60 s, invalidate nothing.

    Trending uses the request's own ``days`` and ``limit`` when the shop accepts them
    (the default list otherwise); a product that does not exist is looked up every time.
    """

    TTL = 60

    def __init__(self, env: _Env) -> None:
        self.shop, self.cache = env.shop, env.cache

    def page(self, user_id: Any, product_id: Any, days: Any, limit: Any) -> dict:
        try:
            key = keys.trending(days, limit)
            load = lambda: self.shop.trending(days, limit)  # noqa: E731
            trending = self.cache.get_or_load(key, load, self.TTL)
        except (TypeError, ValueError):
            trending = self.cache.get_or_load(keys.trending(), self.shop.trending, self.TTL)
        try:
            key = keys.product(product_id)
            product = self.cache.get_or_load(key, lambda: self.shop.product(product_id), self.TTL)
        except (TypeError, ValueError, LookupError):
            product = None
        notifications = None
        if user_id is not None:
            notifications = self.cache.get_or_load(
                keys.notifications(user_id), lambda: self.shop.notifications(user_id), self.TTL
            )
        return {"trending": trending, "product": product, "notifications": notifications}

    def set_price(self, product_id: int, price_cents: int) -> None:
        self.shop.set_price(product_id, price_cents)

    def sell(self, product_id: int, quantity: int) -> None:
        self.shop.sell(product_id, quantity)

    def notify(self, user_id: int, message: str) -> None:
        self.shop.notify(user_id, message)
