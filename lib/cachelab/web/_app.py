"""The shop as an ASGI application (Starlette): the pages, the cache modes, the HTTP answers.

Endpoints (JSON in, JSON out):

=========================== =====================================================================
``GET /``                   the homepage: the trending products (``{"trending": [...]}``)
``GET /products/{id}``      one product
``POST /products/{id}/price``  body ``{"price_cents": 1299}``: a new price; answers the product
``POST /products/{id}/sell``   body ``{"quantity": 2}``: a sale; answers the product
``GET /stats``              every worker's counters: requests, queries run, cache hits and misses
=========================== =====================================================================

Errors are JSON too, ``{"error": "..."}``, with the status that says what went wrong:
400 for a body that is not a JSON object, 422 for a value that is (a price of
``-5``, a quantity of ``2.5``, an id of ``abc``), 404 for an unknown product or page,
409 for selling more than is in stock, 503 (with ``Retry-After``) when the shared
cache cannot answer a lock, too many requests already wait for one page, or the
shop's database stays locked by another writer past SQLite's busy timeout. Every
value is checked before anything is read or written, and a sale is one transaction,
so a refused request changes nothing. Error messages name the shop's file, never its
folder.

The edges (``cachelab.web._edges``), checked before anything is read or written -- a
browser showing another site's page can send requests to 127.0.0.1 too:

- ``Host`` must name this machine (``localhost``, ``127.0.0.1``, ``::1``, or the
  address the service listens on): Starlette's ``TrustedHostMiddleware`` answers any
  other with a plain-text 400, so a foreign name that resolves here (DNS rebinding) is
  refused;
- a write (``POST``) must be sent as ``application/json`` (else 415): a page on another
  site can send ``text/plain`` without asking, but not JSON; and if it says where it
  comes from (``Origin``), that must be this service itself (else 403);
- a body is read up to ``MAX_BODY_BYTES``: a larger ``Content-Length`` is answered 413
  before anything is read, and a chunked body is cut off there (413 too).

How a worker serves: the handlers are ``async``, but the shop and the caches are
ordinary blocking code (SQLite, a Redis client), so each request's work runs on one
of the worker's ``threads`` threads, each with a ``Shop`` of its own (an SQLite
connection belongs to the thread that opened it), opened -- and so checked -- once,
when the worker starts. A worker therefore serves several requests at once, like a
threaded server (gunicorn's ``--threads``): SQLite runs a query without holding
Python's GIL, so the queries of one worker use every core, and when a cached page
expires under load, every request that misses meanwhile really does run the query --
the stampede of lesson 08, over HTTP.

The ``near`` mode (lesson 11) serves a near hit without that hop: each worker keeps a
``NearCache`` in front of the shared Redis cache, holding each page's *encoded* answer (body
bytes and headers, made once when the page is read from Redis), and the handler looks it up on
the event loop itself (``NearCache.peek``: a dictionary lookup and a non-blocking glance at the
socket for invalidations). Anything else -- a Redis hit, a miss -- goes to a thread as in the
other modes. A write deletes the keys it made stale in Redis, and the server (``CLIENT
TRACKING``) tells every worker that read them to drop its copy.

Single-flight waiters hold no thread: a request whose page another request is
loading waits on the event loop, so product pages are served meanwhile. The waiters
of one worker for one key share one series of short non-waiting attempts
(``SingleFlight.attempt``, every 5 ms, less often after half a second). At most
``max_waiters`` requests per key wait in one worker (more are answered 503 with
``Retry-After``); a lock that would outlive ``lock_ttl`` is broken (see
``SingleFlight``); and when the wait runs out -- the holder is alive but slow -- the
worker loads the page for its waiters rather than failing them.

HTTP caching: a page the service caches for ``ttl`` seconds is sent with
``Cache-Control: public, max-age=<ttl>``, so a browser or a CDN in front may keep it
as long again (RFC 9111, section 5.2.2.1); with no cache, ``no-cache`` (a cache in
front must ask again before reusing it). Writes and errors carry no ``Cache-Control``;
``/stats`` is ``no-store``. Each answer names the worker process that served it
(``X-Worker``) and, in cached modes, whether the page came from the cache (``X-Cache:
hit`` or ``miss``; ``near`` for the worker's own near copy in ``near`` mode) -- handy in a
course, not something to expose in production.

The shop's clock stands still at ``DATA_END`` (as in lesson 02), so every visit to
the homepage asks exactly the same question, in every worker and every thread.

What one worker does, without HTTP around it:

>>> from cachelab.shop.data import build_shop
>>> pages = ShopPages(ServiceConfig(db_path=str(build_shop(size="tiny")), state_dir=".",
...                                 cache="memory"))
>>> [pages.product(1)[1] for _ in range(2)], pages.db_queries()
(['miss', 'hit'], 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Optional

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cachelab import keys
from cachelab._internal.validation import validate_id, validate_whole_number
from cachelab.cache import CacheUnavailable, MemoryCache, RedisCache
from cachelab.near_cache import NearCache
from cachelab.shop.app import _MAX_PRICE_CENTS, _MAX_QUANTITY, OutOfStock, Shop
from cachelab.shop.data import DATA_END
from cachelab.stampedes import SingleFlight, WaitTimeout, _LockWatch
from cachelab.web import _stats as stats
from cachelab.web._config import CacheMode, ServiceConfig
from cachelab.web._edges import (
    ForeignOrigin,
    NotJson,
    TooLarge,
    check_write_origin,
    read_body,
    trusted_hosts,
)

__all__ = [
    "create_app",
    "create_ceiling_app",
    "ShopPages",
    "BadRequest",
    "Unprocessable",
    "OutOfStock",
    "TooManyWaiters",
    "MEMORY_MAX_ENTRIES",
]

MEMORY_MAX_ENTRIES = 10_000
"""How many pages each worker's MemoryCache holds at most (the default shop has 2,000 products)."""

_POLL_S, _POLL_FAST_FOR_S, _POLL_MOST_S = 0.005, 0.5, 0.05
"""A single-flight waiter's pause between attempts (``SingleFlight``'s), for its first half
second -- a load usually lands by then; then it doubles, up to the longest."""

_MAX_ID_CHARACTERS = 40
"""An id longer than this is refused without being parsed or echoed (ids have up to 19 digits)."""

_MISSING = object()
_log = logging.getLogger("cachelab.web")


class BadRequest(Exception):
    """The request's body is not what the endpoint reads (not JSON, not an object): 400."""


class TooManyWaiters(Exception):
    """``max_waiters`` requests of this worker already wait for this page's load: 503."""


# --------------------------------------------------------------------------- one worker's pages


class ShopPages:
    """One worker's shop behind its cache: what the endpoints call.

    Reads are cache-aside through the mode's cache (none, a ``MemoryCache`` of this
    worker's own, the shared ``RedisCache``, or a ``NearCache`` in front of it). Writes go
    to the database; in the ``memory``, ``redis-delete-on-write`` and ``near`` modes they
    then delete the keys they made stale (the product's page and the homepage, which shows
    prices and stock) -- in ``memory`` mode from this worker's cache only, the one it can
    reach; in ``near`` mode from Redis, whose server then invalidates every worker's near
    copy. In ``redis-single-flight`` mode a miss goes through lesson 08's ``SingleFlight``,
    waiting on the event loop (``page``). In ``near`` mode pages are served by
    ``near_page``, as encoded answers.

    The blocking work runs on ``threads`` threads of this object's own (``run``), each
    with its own ``Shop``; ``open_shops`` opens them all at once when the worker starts.
    """

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.cache = _open_cache(config)
        self.single_flight = (
            SingleFlight(self.cache, lock_ttl=config.lock_ttl, wait_timeout=config.wait_timeout)
            if config.cache is CacheMode.REDIS_SINGLE_FLIGHT
            else None
        )
        self.near = self.cache if isinstance(self.cache, NearCache) else None
        self.deletes_on_write = config.cache in (
            CacheMode.MEMORY,
            CacheMode.REDIS_DELETE_ON_WRITE,
            CacheMode.NEAR,
        )
        self.executor = ThreadPoolExecutor(config.threads, thread_name_prefix="cachelab-shop")
        self._local = threading.local()
        self._shops: list[Shop] = []
        self._lock = threading.Lock()
        # Single-flight waiters, touched by the event loop only: key -> how many wait, and the
        # one task that attempts for them all.
        self._waiters: dict[str, int] = {}
        self._polls: dict[str, asyncio.Future] = {}
        self.requests = self.in_flight = self.cache_hits = self.cache_misses = 0
        self.counters: Optional[stats.WorkerCounters] = None

    # -- the threads, one Shop per thread, and the counters of all of them

    async def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work(*args)`` on one of this worker's threads, awaited."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, work, *args)

    def open_shops(self, timeout_s: float = 60.0) -> None:
        """Open every thread's ``Shop`` now (blocking): the shop is checked at start, once per
        thread, and never while requests write.
        """
        everyone = threading.Barrier(self.config.threads, timeout=timeout_s)

        def open_here() -> None:
            try:
                self.shop()
            except BaseException:
                everyone.abort()  # the others stop waiting for this thread
                raise
            everyone.wait()  # holds this thread, so the next task starts another one

        opened = [self.executor.submit(open_here) for _ in range(self.config.threads)]
        errors = [done.exception() for done in opened if done.exception() is not None]
        errors.sort(key=lambda error: isinstance(error, threading.BrokenBarrierError))
        if errors:
            raise errors[0]  # the shop's own error, rather than a waiter's broken barrier

    def close(self) -> None:
        """Stop the threads (waiting for the requests they serve); the shops close with them,
        and the near cache's connections after them."""
        self.executor.shutdown(wait=True)
        if self.near is not None:
            self.near.close()

    def shop(self) -> Shop:
        """This thread's own Shop (opened on first use), its clock standing at ``DATA_END``."""
        shop = getattr(self._local, "shop", None)
        if shop is None:
            shop = self._local.shop = Shop(self.config.db_path, clock=lambda: DATA_END)
            with self._lock:
                self._shops.append(shop)
        return shop

    def db_queries(self) -> int:
        """SQL statements run by every Shop of this worker."""
        with self._lock:
            return sum(shop.queries for shop in self._shops)

    def publish(self) -> None:
        """Write this worker's counters where ``/stats`` reads them."""
        if self.counters is not None:
            queries = self.db_queries()
            with self._lock:
                self.counters.publish(
                    requests=self.requests,
                    in_flight=self.in_flight,
                    db_queries=queries,
                    cache_hits=self.cache_hits,
                    cache_misses=self.cache_misses,
                )

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        """Count one request: in flight while the block runs, answered when it ends."""
        with self._lock:
            self.in_flight += 1
        self.publish()
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
                self.requests += 1
            self.publish()

    def _count(self, outcome: str) -> None:
        with self._lock:
            if outcome == "hit":
                self.cache_hits += 1
            else:
                self.cache_misses += 1

    # -- reads

    def _cached(self, key: str, load: Callable[[], Any]) -> tuple[Any, Optional[str]]:
        """Cache-aside, blocking: (the page, "hit" or "miss"); (the page, None) with no cache.
        Single-flight too (waiting on this thread: ``page`` waits without one).
        """
        if self.cache is None:
            return load(), None
        if self.near is not None:
            raise TypeError("in near mode a page is an encoded answer: serve it with near_page")
        if self.single_flight is not None:
            loaded = []
            value = self.single_flight.get_or_load(key, _noting(loaded, load), self.config.ttl)
            self._count("miss" if loaded else "hit")
            return value, "miss" if loaded else "hit"
        value = self.cache.get(key, _MISSING)
        if value is not _MISSING:
            self._count("hit")
            return value, "hit"
        self._count("miss")
        value = load()
        self.cache.set(key, value, self.config.ttl)
        return value, "miss"

    async def page(self, key: str, load: Callable[[], Any]) -> tuple[Any, Optional[str]]:
        """``_cached``, awaited: on a thread, or -- single-flight -- waiting on the event loop."""
        if self.single_flight is None:
            return await self.run(self._cached, key, load)
        loaded: list[bool] = []
        load = _noting(loaded, load)
        watch = _LockWatch()
        done, value = await self.run(self.single_flight.attempt, key, load, self.config.ttl, watch)
        if not done:
            value = await self._wait_for(key, load, watch)
        outcome = "miss" if loaded else "hit"
        self._count(outcome)
        return value, outcome

    async def _wait_for(self, key: str, load: Callable[[], Any], watch: _LockWatch) -> Any:
        """The value of ``key`` once another request has loaded it; ``TooManyWaiters`` if
        ``max_waiters`` requests of this worker already wait for it.

        The requests of this worker that wait for one key share one ``_poll`` (a task of
        its own, which no request's end cancels): one attempt at a time per key, not one
        per waiter.
        """
        if self._waiters.get(key, 0) >= self.config.max_waiters:
            raise TooManyWaiters(
                f"{self.config.max_waiters} requests already wait for this page; try again"
            )
        self._waiters[key] = self._waiters.get(key, 0) + 1
        try:
            poll = self._polls.get(key)
            if poll is None or poll.done():  # finished, its callback not run yet: its value is old
                poll = self._polls[key] = asyncio.ensure_future(self._poll(key, load, watch))
                poll.add_done_callback(lambda done: self._forget_poll(key, done))
            return await asyncio.shield(poll)
        finally:
            self._waiters[key] -= 1
            if not self._waiters[key]:
                del self._waiters[key]

    def _forget_poll(self, key: str, poll: "asyncio.Future") -> None:
        if self._polls.get(key) is poll:
            del self._polls[key]

    async def _poll(self, key: str, load: Callable[[], Any], watch: _LockWatch) -> Any:
        """Attempt again and again, pausing on the event loop, until the value comes; once
        ``wait_timeout`` runs out (its holder is alive but slow), load the page here instead.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.config.wait_timeout
        pause = _POLL_S
        while loop.time() < deadline:
            await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
            if loop.time() - started > _POLL_FAST_FOR_S:  # a long wait: fewer attempts
                pause = min(2 * pause, _POLL_MOST_S)
            done, value = await self.run(
                self.single_flight.attempt, key, load, self.config.ttl, watch
            )
            if done:
                return value
        return await self.run(load)  # not stored: the lock is another request's

    async def near_page(self, key: str, load: Callable[[], Any]) -> Response:
        """``near`` mode: the page's answer, encoded. A near hit is served here, on the event
        loop (no thread, no JSON); a Redis hit or a miss on one of this worker's threads.
        """
        kept = self.near.peek(key)
        if kept is not None:
            self._count("hit")
            return kept
        return await self.run(self._near_fetch, key, load)

    def _near_fetch(self, key: str, load: Callable[[], Any]) -> Response:
        """A Redis hit (now kept near, encoded: its answer's bytes are reused) or a miss (loaded,
        stored in Redis, encoded), on a thread."""
        kept = self.near.get(key)
        if kept is not None:
            self._count("hit")
            return Response(kept.body, headers=_headers(self.config, "hit"), media_type=_JSON)
        self._count("miss")
        value = load()
        self.near.set(key, value, self.config.ttl)
        return JSONResponse(_page_of(key, value), headers=_headers(self.config, "miss"))

    def homepage(self) -> tuple[dict, Optional[str]]:
        """The trending products, as ``{"trending": [...]}``, and how the cache answered."""
        rows, outcome = self._cached(keys.trending(), lambda: self.shop().trending())
        return {"trending": rows}, outcome

    def product(self, product_id: int) -> tuple[dict, Optional[str]]:
        """One product (``LookupError`` if there is none) and how the cache answered."""
        validate_id(product_id)
        return self._cached(keys.product(product_id), lambda: self.shop().product(product_id))

    # -- writes

    def set_price(self, product_id: int, price_cents: int) -> dict:
        """Change a price; answer the product as the database now has it."""
        validate_id(product_id)
        validate_whole_number(price_cents, "price_cents", minimum=0, maximum=_MAX_PRICE_CENTS)
        row = self.shop().set_price(product_id, price_cents)
        self._after_write(product_id)
        return row

    def sell(self, product_id: int, quantity: int) -> dict:
        """Sell ``quantity`` units (one transaction); ``OutOfStock`` if there are fewer."""
        validate_id(product_id)
        validate_whole_number(quantity, "quantity", maximum=_MAX_QUANTITY)
        row = self.shop().sell(product_id, quantity)  # OutOfStock: only the stock, nothing else
        self._after_write(product_id)
        return row

    def _after_write(self, product_id: int) -> None:
        if self.deletes_on_write:
            self.cache.delete(keys.product(product_id))
            self.cache.delete(keys.trending())


def _noting(loaded: list, load: Callable[[], Any]) -> Callable[[], Any]:
    """``load``, which also notes in ``loaded`` that it ran (so a request knows it missed)."""

    def load_and_note() -> Any:
        loaded.append(True)
        return load()

    return load_and_note


def _open_cache(config: ServiceConfig):
    if config.cache is CacheMode.NONE:
        return None
    if config.cache is CacheMode.MEMORY:
        return MemoryCache(ttl=config.ttl, max_entries=MEMORY_MAX_ENTRIES)
    from cachelab.environment.redis_server import (
        connect,  # REDIS_URL, set by whoever started the service
    )

    shared = RedisCache(connect(), prefix=config.prefix, ttl=config.ttl)
    if config.cache is not CacheMode.NEAR:
        return shared

    def encode(key: str, value: Any) -> Response:
        """What the near tier keeps of a page read from Redis: its answer, encoded once."""
        return JSONResponse(_page_of(key, value), headers=_headers(config, "near"))

    return NearCache(shared, max_entries=MEMORY_MAX_ENTRIES, ttl=config.ttl, keep=encode)


def _page_of(key: str, value: Any) -> Any:
    """The JSON answer of a cached page: a product's row as it is; the homepage's rows as
    ``{"trending": rows}``."""
    return {"trending": value} if key == keys.trending() else value


# --------------------------------------------------------------------------- HTTP


def error_response(status: int, message: str) -> JSONResponse:
    """An error as JSON: ``{"error": message}``, with ``status``."""
    return JSONResponse({"error": message}, status_code=status)


class Unprocessable(Exception):
    """A value in the request is of the wrong kind or out of range: 422, with the check's
    message.
    """


def _checked(check: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """``check(*args, **options)``, its ``TypeError`` or ``ValueError`` turned into
    ``Unprocessable``.

    Only the checks of the request's values are mapped to 422: a ``TypeError`` from
    anywhere else is a bug, and answers 500.
    """
    try:
        return check(*args, **options)
    except (TypeError, ValueError) as error:
        raise Unprocessable(str(error)) from None


def _product_id(request: Request) -> int:
    """The product id in the path, checked like every id: a whole number >= 1."""
    text = request.path_params["product_id"]
    if len(text) > _MAX_ID_CHARACTERS:  # not parsed (Python refuses 4,300+ digits), not echoed
        raise Unprocessable(f"product_id must be a whole number >= 1, got {len(text):,} characters")
    return _checked(validate_id, int(text) if text.isascii() and text.isdigit() else text)


async def _field(request: Request, name: str, example: int) -> Any:
    """The one field of the request's JSON body, ``{name: value}``; ``BadRequest`` if there is
    none (or ``ForeignOrigin``, ``NotJson``, ``TooLarge``: ``cachelab.web._edges``).
    """
    check_write_origin(request)
    body = await read_body(request)
    shape = f'a JSON object such as {{"{name}": {example}}}'
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"the body must be {shape}, got {body[:60]!r}") from None
    except RecursionError:
        raise BadRequest(f"the body must be {shape}, got JSON nested too deeply") from None
    if not isinstance(document, dict) or name not in document:
        raise BadRequest(f"the body must be {shape}, got {body[:60]!r}")
    unknown = sorted(set(document) - {name})
    if unknown:
        raise BadRequest(f"the body must be {shape}; unknown field(s): {', '.join(unknown)[:200]}")
    return document[name]


_JSON = "application/json"


def _headers(config: ServiceConfig, outcome: Optional[str]) -> dict[str, str]:
    """A page's headers: the worker, how long a cache in front may keep it, how ours answered."""
    headers = {"X-Worker": str(os.getpid())}
    if outcome is None:
        headers["Cache-Control"] = "no-cache"
    else:
        headers["Cache-Control"] = f"public, max-age={int(config.ttl)}"
        headers["X-Cache"] = outcome
    return headers


def _page(pages: ShopPages, value: Any, outcome: Optional[str]) -> JSONResponse:
    return JSONResponse(value, headers=_headers(pages.config, outcome))


def _written(row: dict) -> JSONResponse:
    return JSONResponse(row, headers={"X-Worker": str(os.getpid())})


def _is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite gave up waiting (its busy timeout) for another connection's lock."""
    return "database is locked" in str(error) or "database is busy" in str(error)


def _unavailable(message: str) -> JSONResponse:
    response = error_response(503, message)
    response.headers["Retry-After"] = "1"
    return response


_CLIENT_ERRORS = {
    BadRequest: 400,
    ForeignOrigin: 403,
    OutOfStock: 409,
    TooLarge: 413,
    NotJson: 415,
    Unprocessable: 422,
}
"""The requests the service refuses, and the status that says why (RFC 9110, section 15.5)."""


async def _answer(pages: ShopPages, work: Callable[[], Any], respond: Callable) -> Response:
    """Await ``work()`` (which reads the request, checks it, then serves it) and turn its result
    or its error into an HTTP answer.
    """
    with pages.counting():
        try:
            return respond(await work())
        except tuple(_CLIENT_ERRORS) as error:
            status = next(code for kind, code in _CLIENT_ERRORS.items() if isinstance(error, kind))
            return error_response(status, str(error))
        except (KeyError, IndexError):  # lookups inside our own code: bugs, not 404s
            raise
        except LookupError as error:  # the shop's "no product with id ... in <file name>"
            return error_response(404, str(error.args[0]) if error.args else "not found")
        except CacheUnavailable as error:
            return error_response(503, f"the shared cache is unavailable: {error}")
        except TooManyWaiters as error:
            return _unavailable(str(error))
        except WaitTimeout as error:  # not raised by page(), which loads instead; kept for safety
            return _unavailable(str(error))
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
            return _unavailable("the shop's database is busy (another process is writing it)")


async def _cached_page(pages: ShopPages, key: str, load: Callable[[], Any]) -> Response:
    """The page under ``key``, through the mode's cache, as an HTTP answer."""
    if pages.near is not None:
        return await pages.near_page(key, load)
    value, outcome = await pages.page(key, load)
    return _page(pages, _page_of(key, value), outcome)


def _as_it_is(response: Response) -> Response:
    return response


async def homepage(request: Request) -> Response:
    pages: ShopPages = request.app.state.pages

    async def work():
        return await _cached_page(pages, keys.trending(), lambda: pages.shop().trending())

    return await _answer(pages, work, _as_it_is)


async def product(request: Request) -> Response:
    pages: ShopPages = request.app.state.pages

    async def work():
        product_id = _product_id(request)
        load = lambda: pages.shop().product(product_id)  # noqa: E731
        return await _cached_page(pages, keys.product(product_id), load)

    return await _answer(pages, work, _as_it_is)


async def set_price(request: Request) -> Response:
    pages: ShopPages = request.app.state.pages

    async def work():
        product_id = _product_id(request)
        price_cents = await _field(request, "price_cents", 1299)
        _checked(
            validate_whole_number, price_cents, "price_cents", minimum=0, maximum=_MAX_PRICE_CENTS
        )
        return await pages.run(pages.set_price, product_id, price_cents)

    return await _answer(pages, work, _written)


async def sell(request: Request) -> Response:
    pages: ShopPages = request.app.state.pages

    async def work():
        product_id = _product_id(request)
        quantity = await _field(request, "quantity", 2)
        _checked(validate_whole_number, quantity, "quantity", maximum=_MAX_QUANTITY)
        return await pages.run(pages.sell, product_id, quantity)

    return await _answer(pages, work, _written)


async def worker_stats(request: Request) -> Response:
    """Every worker's counters, and their totals (this request itself is not counted)."""
    config: ServiceConfig = request.app.state.config
    pages: Optional[ShopPages] = getattr(request.app.state, "pages", None)
    if pages is not None:
        pages.publish()
    workers = stats.read_workers(config.state_dir)
    body = {
        "app": config.app,
        "cache": config.cache,
        "ttl": config.ttl,
        "workers": workers,
        "total": stats.totals(workers),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store", "X-Worker": str(os.getpid())})


async def _http_error(request: Request, error: HTTPException) -> Response:
    """Unknown paths (404) and wrong methods (405) answer JSON too."""
    message = {
        404: f"no page at {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(error.status_code, error.detail)
    return JSONResponse(
        {"error": message}, status_code=error.status_code, headers=getattr(error, "headers", None)
    )


async def _server_error(request: Request, error: Exception) -> Response:
    _log.exception("error serving %s %s", request.method, request.url.path)
    return error_response(500, f"internal error: {type(error).__name__}")


def create_app(config: ServiceConfig) -> Starlette:
    """The shop's ASGI application for one worker process (see the module docstring)."""
    if config.app == "ceiling":
        return create_ceiling_app(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        # The threads that run the shop's blocking work: at most config.threads requests of
        # this worker are served at once; the others wait their turn on the loop. Every
        # thread's Shop is opened (and the shop checked) now, before any request.
        pages = ShopPages(config)
        try:
            await asyncio.get_running_loop().run_in_executor(None, pages.open_shops)
        except BaseException:
            pages.close()
            raise
        pages.counters = stats.WorkerCounters(config.state_dir)
        app.state.pages = pages
        try:
            yield
        finally:
            pages.counters.close()
            pages.close()

    routes = [
        Route("/", homepage, methods=["GET"]),
        Route("/products/{product_id}", product, methods=["GET"]),
        Route("/products/{product_id}/price", set_price, methods=["POST"]),
        Route("/products/{product_id}/sell", sell, methods=["POST"]),
    ]
    return _starlette(config, routes, lifespan)


def create_ceiling_app(config: ServiceConfig) -> Starlette:
    """The stack alone: ``GET /`` answers the homepage's bytes, computed once at start.

    The same uvicorn, the same Starlette, the same response body as the shop's
    homepage -- but no thread pool, no cache and no query. Whatever throughput the
    cached shop reaches, this is the most it could reach on this machine.
    """
    shop = Shop(config.db_path, clock=lambda: DATA_END)
    body = json.dumps({"trending": shop.trending()}).encode()
    shop.close()
    counted = {"requests": 0}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        counters = stats.WorkerCounters(config.state_dir)
        app.state.counters = counters
        try:
            yield
        finally:
            counters.close()

    async def constant(request: Request) -> Response:
        counted["requests"] += 1  # one thread (the event loop): no lock needed
        request.app.state.counters.publish(requests=counted["requests"])
        return Response(body, media_type="application/json")

    return _starlette(config, [Route("/", constant, methods=["GET"])], lifespan)


def _starlette(config: ServiceConfig, routes: list[Route], lifespan: Callable) -> Starlette:
    """A Starlette app for ``routes`` and ``GET /stats``, with the service's JSON errors and its
    ``Host`` check (``cachelab.web._edges``); ``lifespan`` runs in each worker.
    """
    app = Starlette(
        routes=[*routes, Route("/stats", worker_stats, methods=["GET"])],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        middleware=[trusted_hosts(config.host)],
        lifespan=lifespan,
    )
    app.state.config = config
    return app
