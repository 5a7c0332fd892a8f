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
cache cannot answer a lock or a single-flight waiter's wait runs out. Every value is
checked before anything is read or written, and a sale is one transaction, so a
refused request changes nothing.

How a worker serves: the handlers are ``async``, but the shop and the caches are
ordinary blocking code (SQLite, a Redis client), so each request's work runs on a
thread of Starlette's thread pool (``run_in_threadpool``, ``threads`` of them per
worker), with a ``Shop`` per thread (an SQLite connection belongs to the thread that
opened it). A worker therefore serves several requests at once, like a threaded
server (gunicorn's ``--threads``): SQLite runs a query without holding Python's GIL,
so the queries of one worker use every core, and when a cached page expires under
load, every request that misses meanwhile really does run the query -- the stampede
of lesson 08, over HTTP.

HTTP caching: a page the service caches for ``ttl`` seconds is sent with
``Cache-Control: public, max-age=<ttl>``, so a browser or a CDN in front may keep it
as long again (RFC 9111, section 5.2.2.1); with no cache, ``no-cache`` (a cache in
front must ask again before reusing it). Writes and errors carry no ``Cache-Control``;
``/stats`` is ``no-store``. Each answer names the worker process that served it
(``X-Worker``) and, in cached modes, whether the page came from the cache (``X-Cache:
hit`` or ``miss``) -- handy in a course, not something to expose in production.

The shop's clock stands still at ``DATA_END`` (as in lesson 02), so every visit to
the homepage asks exactly the same question, in every worker and every thread.

What one worker does, without HTTP around it:

>>> from cachelab.data import build_shop
>>> pages = ShopPages(ServiceConfig(db_path=str(build_shop(size="tiny")), state_dir=".",
...                                 cache="memory"))
>>> [pages.product(1)[1] for _ in range(2)], pages.db_queries()
(['miss', 'hit'], 1)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from typing import Any, Callable, Iterator, Optional

import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cachelab import keys
from cachelab.app import MAX_PRICE_CENTS, MAX_QUANTITY, Shop
from cachelab.cache import CacheUnavailable, MemoryCache, RedisCache
from cachelab.data import DATA_END
from cachelab.stampede import SingleFlight, WaitTimeout
from cachelab.validation import validate_id, validate_whole_number
from cachelab.web import stats
from cachelab.web.config import ENVIRONMENT_VARIABLE, ServiceConfig

__all__ = [
    "create_app",
    "create_ceiling_app",
    "app_from_environment",
    "ShopPages",
    "BadRequest",
    "Unprocessable",
    "OutOfStock",
    "MAX_BODY_BYTES",
    "MEMORY_MAX_ENTRIES",
]

MAX_BODY_BYTES = 4_096
"""The largest request body the service reads; a price or a quantity needs a few dozen bytes."""

MEMORY_MAX_ENTRIES = 10_000
"""How many pages each worker's MemoryCache holds at most (the default shop has 2,000 products)."""

_MISSING = object()
_log = logging.getLogger("cachelab.web")


class BadRequest(Exception):
    """The request's body is not what the endpoint reads (not JSON, not an object): 400."""


class OutOfStock(Exception):
    """A sale asked for more units than the product has: 409, and nothing was written."""


# --------------------------------------------------------------------------- one worker's pages


class ShopPages:
    """One worker's shop behind its cache: what the endpoints call, from pool threads.

    Reads are cache-aside through the mode's cache (none, a ``MemoryCache`` of this
    worker's own, or the shared ``RedisCache``). Writes go to the database; in the
    ``memory`` and ``redis-delete-on-write`` modes they then delete the keys they made
    stale (the product's page and the homepage, which shows prices and stock) --
    in ``memory`` mode from this worker's cache only, the one it can reach. In
    ``redis-single-flight`` mode a miss goes through lesson 08's ``SingleFlight``.
    """

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.cache = _open_cache(config)
        self.single_flight = (
            SingleFlight(self.cache, lock_ttl=config.lock_ttl, wait_timeout=config.wait_timeout)
            if config.cache == "redis-single-flight"
            else None
        )
        self.deletes_on_write = config.cache in ("memory", "redis-delete-on-write")
        self._local = threading.local()
        self._shops: list[Shop] = []
        self._lock = threading.Lock()
        self.requests = self.in_flight = self.cache_hits = self.cache_misses = 0
        self.counters: Optional[stats.WorkerCounters] = None

    # -- one Shop per thread, and the counters of all of them

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
                    self.requests, self.in_flight, queries, self.cache_hits, self.cache_misses
                )

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        """Count one request: in flight while the block runs, answered when it ends."""
        with self._lock:
            self.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
                self.requests += 1
            self.publish()

    # -- reads

    def _cached(self, key: str, load: Callable[[], Any]) -> tuple[Any, Optional[str]]:
        """Cache-aside: (the page, "hit" or "miss"); (the page, None) with no cache."""
        if self.cache is None:
            return load(), None
        if self.single_flight is not None:
            return self._single_flight(key, load)
        value = self.cache.get(key, _MISSING)
        if value is not _MISSING:
            with self._lock:
                self.cache_hits += 1
            return value, "hit"
        with self._lock:
            self.cache_misses += 1
        value = load()
        self.cache.set(key, value, self.config.ttl)
        return value, "miss"

    def _single_flight(self, key: str, load: Callable[[], Any]) -> tuple[Any, str]:
        """Lesson 08's ``SingleFlight``: of the requests that miss at once, one loads and the
        others wait for its value (a "hit": it came from the cache). ``WaitTimeout`` if it
        does not come within ``wait_timeout``.
        """
        loaded = []

        def load_and_note() -> Any:
            loaded.append(True)
            return load()

        value = self.single_flight.get_or_load(key, load_and_note, self.config.ttl)
        outcome = "miss" if loaded else "hit"
        with self._lock:
            if loaded:
                self.cache_misses += 1
            else:
                self.cache_hits += 1
        return value, outcome

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
        validate_whole_number(price_cents, "price_cents", minimum=0, maximum=MAX_PRICE_CENTS)
        row = self.shop().set_price(product_id, price_cents)
        self._after_write(product_id)
        return row

    def sell(self, product_id: int, quantity: int) -> dict:
        """Sell ``quantity`` units (one transaction); ``OutOfStock`` if there are fewer."""
        validate_id(product_id)
        validate_whole_number(quantity, "quantity", maximum=MAX_QUANTITY)
        try:
            row = self.shop().sell(product_id, quantity)
        except ValueError as error:  # the arguments were valid, so this is the stock
            raise OutOfStock(str(error)) from None
        self._after_write(product_id)
        return row

    def _after_write(self, product_id: int) -> None:
        if self.deletes_on_write:
            self.cache.delete(keys.product(product_id))
            self.cache.delete(keys.trending())


def _open_cache(config: ServiceConfig):
    if config.cache == "none":
        return None
    if config.cache == "memory":
        return MemoryCache(ttl=config.ttl, max_entries=MEMORY_MAX_ENTRIES)
    from cachelab.redis_server import connect  # REDIS_URL, set by whoever started the service

    return RedisCache(connect(), prefix=config.prefix, ttl=config.ttl)


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
    return _checked(validate_id, int(text) if text.isascii() and text.isdigit() else text)


async def _field(request: Request, name: str, example: int) -> Any:
    """The one field of the request's JSON body, ``{name: value}``; ``BadRequest`` if there is
    none.
    """
    body = await request.body()
    shape = f'a JSON object such as {{"{name}": {example}}}'
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"the body must be {shape}, got {len(body):,} bytes")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"the body must be {shape}, got {body[:60]!r}") from None
    if not isinstance(document, dict) or name not in document:
        raise BadRequest(f"the body must be {shape}, got {json.dumps(document)[:60]}")
    unknown = sorted(set(document) - {name})
    if unknown:
        raise BadRequest(f"the body must be {shape}; unknown field(s): {', '.join(unknown)}")
    return document[name]


def _page(pages: ShopPages, value: Any, outcome: Optional[str]) -> JSONResponse:
    headers = {"X-Worker": str(os.getpid())}
    if outcome is None:
        headers["Cache-Control"] = "no-cache"
    else:
        headers["Cache-Control"] = f"public, max-age={int(pages.config.ttl)}"
        headers["X-Cache"] = outcome
    return JSONResponse(value, headers=headers)


def _written(row: dict) -> JSONResponse:
    return JSONResponse(row, headers={"X-Worker": str(os.getpid())})


async def _answer(pages: ShopPages, work: Callable[[], Any], respond: Callable) -> Response:
    """Await ``work()`` (which reads the request, checks it, then serves it) and turn its result
    or its error into an HTTP answer.
    """
    with pages.counting():
        try:
            return respond(await work())
        except BadRequest as error:
            return error_response(400, str(error))
        except Unprocessable as error:
            return error_response(422, str(error))
        except OutOfStock as error:
            return error_response(409, str(error))
        except (KeyError, IndexError):  # lookups inside our own code: bugs, not 404s
            raise
        except LookupError as error:  # the shop's "no product with id ..."
            return error_response(404, str(error.args[0]) if error.args else "not found")
        except CacheUnavailable as error:
            return error_response(503, f"the shared cache is unavailable: {error}")
        except WaitTimeout as error:  # single-flight: another worker's load did not land in time
            response = error_response(503, str(error))
            response.headers["Retry-After"] = "1"
            return response


async def homepage(request: Request) -> Response:
    pages: ShopPages = request.app.state.pages

    async def work():
        return await run_in_threadpool(pages.homepage)

    return await _answer(pages, work, lambda result: _page(pages, *result))


async def product(request: Request) -> Response:
    pages: ShopPages = request.app.state.pages

    async def work():
        product_id = _product_id(request)
        return await run_in_threadpool(pages.product, product_id)

    return await _answer(pages, work, lambda result: _page(pages, *result))


async def set_price(request: Request) -> Response:
    pages: ShopPages = request.app.state.pages

    async def work():
        product_id = _product_id(request)
        price_cents = await _field(request, "price_cents", 1299)
        _checked(
            validate_whole_number, price_cents, "price_cents", minimum=0, maximum=MAX_PRICE_CENTS
        )
        return await run_in_threadpool(pages.set_price, product_id, price_cents)

    return await _answer(pages, work, _written)


async def sell(request: Request) -> Response:
    pages: ShopPages = request.app.state.pages

    async def work():
        product_id = _product_id(request)
        quantity = await _field(request, "quantity", 2)
        _checked(validate_whole_number, quantity, "quantity", maximum=MAX_QUANTITY)
        return await run_in_threadpool(pages.sell, product_id, quantity)

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
        # The thread pool that runs the shop's blocking work: at most config.threads requests
        # of this worker are being served at once; the others wait their turn on the loop.
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.threads
        pages = ShopPages(config)
        pages.counters = stats.WorkerCounters(config.state_dir)
        app.state.pages = pages
        try:
            yield
        finally:
            pages.counters.close()

    app = Starlette(
        routes=[
            Route("/", homepage, methods=["GET"]),
            Route("/products/{product_id}", product, methods=["GET"]),
            Route("/products/{product_id}/price", set_price, methods=["POST"]),
            Route("/products/{product_id}/sell", sell, methods=["POST"]),
            Route("/stats", worker_stats, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.config = config
    return app


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

    app = Starlette(
        routes=[
            Route("/", constant, methods=["GET"]),
            Route("/stats", worker_stats, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.config = config
    return app


def app_from_environment() -> Starlette:
    """uvicorn's app factory in each worker: the app for the config in ``CACHELAB_WEB_CONFIG``."""
    text = os.environ.get(ENVIRONMENT_VARIABLE)
    if not text:
        raise RuntimeError(
            f"{ENVIRONMENT_VARIABLE} is not set: start the service with python -m cachelab.web "
            "or cachelab.web.WebService, which set it for the workers"
        )
    return create_app(ServiceConfig.from_json(text))
