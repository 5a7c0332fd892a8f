"""Build the course's shop database: products and orders in SQLite, made with sqlite-utils.

The same ``seed`` always gives the same rows, so every learner's shop is the same
shop and every figure in a lesson can be checked. Three sizes:

- ``"tiny"``: 100 products and 10,000 orders -- built in well under a second, for tests;
- ``"small"``: the same 2,000 products with a tenth of the orders (100,000), so the
  trending query is about ten times faster -- for slow laptops, quick runs, and for
  ``make test`` to stand in for a machine ten times faster than this one;
- ``"default"``: 2,000 products and 1,000,000 orders over 90 days -- big enough that
  the homepage's trending query costs tens of milliseconds, which is the whole point.

``build_shop()`` with no size builds the size named by ``$CACHELAB_SHOP_SIZE``
(``small`` or ``default``; ``default`` when unset): see ``shop_size``.

``build_shop()`` is idempotent: a complete database already at the path is reused --
also one the course's own writes changed (a sale adds orders: the shop is kept, with a
warning); a missing, partial or damaged one is (re)built into a temporary file and
moved into place only when it is complete, so an interrupted build never leaves half a
shop. One process builds a path at a time (``cachelab.shop._build_lock``), and ``make
reset`` leaves a build in progress alone.

Nothing here opens a database file with ``open()``: on POSIX, closing *any*
descriptor of a file releases every lock the process holds on it -- SQLite's locks of
other connections included ("How To Corrupt An SQLite Database File", section 2.2).
Headers, sizes and copies go through SQLite itself, which shares one set of locks per
file in a process.

Lessons that change prices or stock work on ``scratch_shop()``, a throw-away copy.

Run ``python -m cachelab.shop.data [size]`` to build a shop with a progress bar.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import random
import shutil
import sqlite3
import tempfile
import warnings
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, TypeVar, Union

import sqlite_utils
from tqdm.auto import tqdm

from cachelab._internal.validation import validate_choice
from cachelab._internal.watchdog import is_alive, start_watchdog
from cachelab.shop._build_lock import build_lock

__all__ = ["DATA_END", "DAY", "build_shop", "scratch_shop", "shop_size", "add_users"]

_T = TypeVar("T")

_SCHEMA_VERSION = 1
_APPLICATION_ID = 0x434C4142
"""The course's marker in SQLite's header (``PRAGMA application_id``): "CLAB" in ASCII."""
DATA_END = 1782777600  # 2026-06-30 00:00:00 UTC: the shop's "now" when it is built
DAY = 86_400  # seconds

_REPO_DATA_DIR = Path(__file__).resolve().parents[3] / "data"
_CATALOG_PATH = _REPO_DATA_DIR / "catalog.json"


@dataclass(frozen=True)
class _ShopSize:
    """How big a shop to build."""

    products: int
    orders: int
    days: int


_SIZES = {
    "tiny": _ShopSize(products=100, orders=10_000, days=90),
    "small": _ShopSize(products=2_000, orders=100_000, days=90),
    "default": _ShopSize(products=2_000, orders=1_000_000, days=90),
}
_SHOP_SIZE_VARIABLE = "CACHELAB_SHOP_SIZE"


def shop_size() -> str:
    """The shop size the lessons use: ``$CACHELAB_SHOP_SIZE`` if set, else ``"default"``.

    Set ``CACHELAB_SHOP_SIZE=small`` on a slow laptop (the trending query gets about ten
    times faster) or for a quick run of every lesson; every figure a lesson states is
    computed on the shop it was given, so the lessons read correctly on either size.

    >>> shop_size() in _SIZES
    True
    """
    chosen = os.environ.get(_SHOP_SIZE_VARIABLE) or "default"
    if chosen not in _SIZES:
        raise ValueError(
            f"{_SHOP_SIZE_VARIABLE} must be one of {', '.join(map(repr, _SIZES))}, got {chosen!r}; "
            f"unset it for the default shop"
        )
    return chosen


def _data_dir() -> Path:
    """Where generated databases go: ``$CACHELAB_DATA_DIR`` if set, else the repository's data/."""
    return Path(os.environ.get("CACHELAB_DATA_DIR") or _REPO_DATA_DIR)


def _default_path(size: Optional[str] = None) -> Path:
    """The database file used when ``build_shop`` is given no path: ``data/shop-<size>.db``
    (``size`` defaults to ``shop_size()``)."""
    return _data_dir() / f"shop-{size or shop_size()}.db"


def build_shop(
    path: Union[str, Path, None] = None, size: Optional[str] = None, seed: int = 42
) -> Path:
    """Return the path of a complete shop database, building it only if needed.

    ``size`` defaults to ``shop_size()`` (``$CACHELAB_SHOP_SIZE``, else ``"default"``);
    ``path`` defaults to ``data/shop-<size>.db``. What is already at ``path`` decides:

    - a whole shop of this ``size`` and ``seed`` with its rows as built: reused;
    - the same, changed by the course's own writes (a sale adds an order, so it has
      every product and *more* orders than it was built with): reused as it is, with a
      warning -- rebuilding it would pull the file from under the process that wrote it
      (a running web service). ``make reset`` gives back the shop as built;
    - anything else the course made (partial, truncated, damaged, fewer rows, another
      size or seed) or an empty file: rebuilt, and replacing a file that was there says
      so (a warning), since a process that has the old file open keeps reading it;
    - a file the course did not make (someone's notes, another program's database): never
      overwritten; ``FileExistsError`` names it.

    A build holds ``build_lock(path)``: a second process that needs the same shop waits
    for the first and then reuses what it built, and ``make reset`` skips it meanwhile.
    The build goes into a temporary file beside ``path`` and replaces it in one atomic
    ``os.replace``: readers see the old file or the whole new one.

    >>> path = build_shop(size="tiny")
    >>> _describe(path)["size"], path.name
    ('tiny', 'shop-tiny.db')
    """
    size = shop_size() if size is None else size
    validate_choice(size, "size", _SIZES)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be a whole number, got {type(seed).__name__} {seed!r}")
    path = Path(path) if path is not None else _default_path(size)
    if _reusable(path, size, seed):  # the common case takes no lock: a read-only folder is fine
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(path):
        if _reusable(path, size, seed):  # another process built it while this one waited
            return path
        _refuse_to_overwrite(path)
        replaced = _check_built(path, size, seed)[0] if _has_content(path) else None
        handle, partial = tempfile.mkstemp(
            prefix=path.name + ".", suffix=".partial", dir=path.parent
        )
        os.close(handle)
        try:
            _build_into(Path(partial), _SIZES[size], size, seed)
            os.chmod(partial, 0o644)  # mkstemp makes files private; a shop is not a secret
            os.replace(partial, path)  # atomic: readers see the old file or the whole new one
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    if replaced:
        warnings.warn(
            f"build_shop replaced {path}: {replaced}. A process that had the old file open "
            "(a web service, another notebook) keeps reading the old copy until it opens the "
            "shop again.",
            stacklevel=2,
        )
    return path


def _has_content(path: Path) -> bool:
    return os.path.lexists(path) and path.is_file() and path.stat().st_size > 0


def _reusable(path: Path, size: str, seed: int) -> bool:
    """Whether the shop at ``path`` can be handed out as it is; warn if the course changed it."""
    reason, added = _check_built(path, size, seed)
    if reason is not None:
        return False
    if added:
        warnings.warn(
            f"{path} has {added:,} order(s) more than it was built with: the course's own "
            "writes (a sale) changed it, and it is kept as it is. `make reset` (or deleting "
            "the file) gives back the shop as built.",
            stacklevel=3,
        )
    return True


def _check_built(path: Path, size: str, seed: int) -> tuple[Optional[str], int]:
    """(None, orders added since the build) if the shop at ``path`` is whole, of this size and
    seed, with every row it was built with; else (why not, in a few words; 0)."""
    found = _describe(path)
    if found is None:
        return "it was partial, truncated or damaged", 0
    if (found["size"], found["seed"], found["schema_version"]) != (size, seed, _SCHEMA_VERSION):
        return (
            f"it was built with size={found['size']!r}, seed={found['seed']}, "
            f"schema {found['schema_version']}"
        ), 0
    added = _orders_added(path)
    if added is None:
        return "it had fewer rows than it was built with (damaged or edited by hand)", 0
    return None, added


def _orders_added(path: Path) -> Optional[int]:
    """How many orders the shop has beyond those it was built with -- the course's own writes
    only ever add orders -- or None when rows it was built with are missing (damaged).

    The products must all be there; orders may only have been added. (A new price changes
    no count, so it is not told apart from the shop as built: it damages nothing.)
    """
    try:
        connection = _connect_read_only(path)
        try:
            meta = dict(connection.execute("SELECT key, value FROM cachelab_meta").fetchall())
            counts = {
                table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("products", "orders")  # our own table names, never user input
            }
        finally:
            connection.close()
        built = {table: int(meta.get(f"{table}_rows", counts[table])) for table in counts}
    except sqlite3.OperationalError as error:
        if _is_busy(error):
            raise
        return None
    except (sqlite3.DatabaseError, ValueError):
        return None
    if counts["products"] != built["products"] or counts["orders"] < built["orders"]:
        return None
    return counts["orders"] - built["orders"]


def _is_busy(error: sqlite3.Error) -> bool:
    """Whether SQLite gave up waiting for another connection's lock (not a damaged file)."""
    return "locked" in str(error) or "busy" in str(error)


def _refuse_to_overwrite(path: Path) -> None:
    """Raise unless ``path`` is missing, empty, or a file the course made: never overwrite data."""
    if not os.path.lexists(path):
        return
    if path.is_dir() or not path.is_file():
        raise IsADirectoryError(
            f"{path} is a folder or a special file, not a shop database; pass another path"
        )
    if path.stat().st_size == 0 or _is_course_file(path):
        return  # nothing to lose: an empty file, or a shop the course built (partial, old, damaged)
    raise FileExistsError(
        f"{path} is not a file the course made ({_what_is_there(path)}); refusing to overwrite it. "
        f"Pass another path to build_shop()."
    )


def _what_is_there(path: Path) -> str:
    """A few words on a file that is not ours, for an error message (read through SQLite)."""
    try:
        connection = _connect_read_only(path)
        try:
            tables = [
                name
                for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            ]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error):
            return "it is not an SQLite database"
        return "an SQLite database that cannot be read"
    return (
        f"an SQLite database of something else, with tables: {', '.join(sorted(tables)) or 'none'}"
    )


def _is_course_file(path: Union[str, Path]) -> bool:
    """Whether ``path`` is a database the course made: it carries the course's marker.

    The marker is SQLite's ``application_id`` header field (``_APPLICATION_ID``), written
    before anything else when a shop is built, so even a partial or truncated build is
    recognised; a shop built before the marker existed is recognised by its
    ``cachelab_meta`` table. It is read through SQLite (read-only, with
    ``writable_schema`` so that a damaged file's header still reads), never ``open()``:
    see the module's note on locks. A database locked by a writer for longer than
    SQLite waits raises ``sqlite3.OperationalError`` rather than guess.
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size < 100:  # shorter than SQLite's header
        return False

    def marked(connection: sqlite3.Connection) -> bool:
        connection.execute("PRAGMA writable_schema = ON")  # read past a damaged page count
        (application_id,) = connection.execute("PRAGMA application_id").fetchone()
        return application_id == _APPLICATION_ID or bool(
            connection.execute(  # an older course shop: no marker, but the course's table
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cachelab_meta'"
            ).fetchone()
        )

    try:
        with closing(_connect_read_only(path)) as connection:
            return marked(connection)
    except sqlite3.OperationalError as error:
        if _is_busy(error):
            raise
        if "readonly" not in str(error):
            return False
    except sqlite3.DatabaseError:
        return False
    # A crashed writer's "hot" journal, which a read-only connection may not roll back: the
    # marker is read as the file stands (``immutable``: no journal, no locks), without
    # writing to a file that may be someone else's. That connection's close() is a plain
    # close(), but SQLite calls a journal hot only when no process holds a lock on the file
    # (any reader rolls it back first), so this process has no lock on it to lose.
    try:
        immutable = path.resolve().as_uri() + "?mode=ro&immutable=1"
        with closing(sqlite3.connect(immutable, uri=True)) as connection:
            return marked(connection)
    except sqlite3.DatabaseError:
        return False


_SCRATCH_PREFIX = "cachelab-scratch-"
"""Scratch folders are named ``cachelab-scratch-<pid>-<random>``: the pid says whose they are."""

_scratch_root: Optional[Path] = None


def scratch_shop(size: Optional[str] = None, seed: int = 42) -> Path:
    """A private copy of the shop in a temporary folder, for lessons that change prices and stock.

    The shared database stays exactly as built, so every lesson can be run again
    (and in any order) and sees the same shop. Every copy a process makes lives in
    one folder of its own, removed when Python exits -- or, if the process is killed,
    by a ``cachelab._internal.watchdog`` within a second. Folders left by processes that died
    before the watchdog existed are swept away the next time any process makes one.

    The copy is made with SQLite's backup API, not by copying the file: it holds only
    committed data even while another process writes, and the shared file is never
    opened with ``open()`` (see the module's note on locks).
    """
    source = build_shop(size=size, seed=seed)
    handle, name = tempfile.mkstemp(prefix=source.stem + "-", suffix=".db", dir=_scratch_folder())
    os.close(handle)
    reader, copy = _connect_read_only(source), sqlite3.connect(name)
    try:
        copy.execute("PRAGMA journal_mode = OFF")  # a fresh throw-away file: nothing to roll back
        copy.execute("PRAGMA synchronous = OFF")
        reader.backup(copy)
    finally:
        copy.close()
        reader.close()
    return Path(name)


def _scratch_folder() -> Path:
    """This process's scratch folder, made on first use with its watchdog, after a sweep."""
    global _scratch_root
    if (
        _scratch_root is not None
        and _scratch_root.is_dir()
        and _scratch_root.name.startswith(f"{_SCRATCH_PREFIX}{os.getpid()}-")
    ):
        return _scratch_root
    _sweep_scratch_folders()
    _scratch_root = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-"))
    atexit.register(shutil.rmtree, _scratch_root, ignore_errors=True)
    start_watchdog(os.getpid(), None, _scratch_root)
    return _scratch_root


def _sweep_scratch_folders(folder: Union[str, Path, None] = None) -> list[Path]:
    """Remove the scratch folders of processes that are gone; return what was removed.

    Only folders named ``cachelab-scratch-<pid>-…`` are looked at, and only those whose
    pid is no longer a running process are removed.
    """
    folder = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    removed = []
    for candidate in folder.glob(_SCRATCH_PREFIX + "*"):
        pid_text = candidate.name[len(_SCRATCH_PREFIX) :].split("-", 1)[0]
        if candidate.is_dir() and pid_text.isdigit() and not is_alive(int(pid_text)):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def _connect_read_only(path: Union[str, Path]) -> sqlite3.Connection:
    """Open the SQLite database at ``path`` read-only: it is never changed, and never created if
    missing.

    Read-only needs a ``file:`` URI, and in a URI ``#``, ``?`` and ``%`` mean something:
    the path is percent-encoded (``Path.as_uri``), so ``course #2/shop.db`` opens that file,
    not a file called ``course `` with the rest taken as a query.
    """
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)


def _read(path: Path, read: Callable[[sqlite3.Connection], _T]) -> _T:
    """``read(connection)`` on a read-only connection to ``path``, closed after.

    A writer that crashed mid-transaction leaves a "hot" journal, which SQLite must roll
    back before anyone reads, and a read-only connection cannot: then, if the file is the
    course's (``_is_course_file``), ``read`` runs on a read-write connection (never
    creating the file), which rolls the unfinished transaction back as any SQLite reader
    would. Nothing else is ever written, and nobody else's file at all.
    """
    try:
        with closing(_connect_read_only(path)) as connection:
            return read(connection)
    except sqlite3.OperationalError as error:
        if "readonly" not in str(error) or not _is_course_file(path):
            raise
    with closing(
        sqlite3.connect(Path(path).resolve().as_uri() + "?mode=rw", uri=True)
    ) as connection:
        return read(connection)


def _describe(path: Union[str, Path]) -> Optional[dict]:
    """What the course database at ``path`` says of itself, or None unless it is whole.

    Whole means, checked cheaply (a few milliseconds, so every lesson can ask): the
    file is as long as its SQLite header says (a truncated copy is not), and the build
    finished (``complete`` is written last). ``_verify_shop`` reads every page, for when
    that is worth a second; ``build_shop`` also checks the row counts before reuse.

    Everything is read through one read-only SQLite connection, inside one read
    transaction -- so a writer cannot change the file between the header and the size --
    and never with ``open()`` (see the module's note on locks): it is safe in a process
    whose other connections are writing to the same file. A database that stays locked
    by a writer for longer than SQLite waits raises ``sqlite3.OperationalError``
    ("database is locked"): busy is not damaged.
    """
    path = Path(path)
    if not path.is_file():
        return None

    def snapshot(connection: sqlite3.Connection) -> tuple[dict, int, int, str, int]:
        connection.execute("BEGIN")  # one snapshot: the header, the rows and the size agree
        rows = dict(connection.execute("SELECT key, value FROM cachelab_meta").fetchall())
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
        (pages,) = connection.execute("PRAGMA page_count").fetchone()
        (journal_mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        length = path.stat().st_size
        connection.execute("COMMIT")
        return rows, page_size, pages, journal_mode, length

    try:
        rows, page_size, pages, journal_mode, length = _read(path, snapshot)
    except sqlite3.OperationalError as error:
        if _is_busy(error):
            raise
        return None
    except (sqlite3.DatabaseError, OSError):  # not a database, a damaged one, no meta table
        return None
    # SQLite itself refuses a file shorter than its header's page count by a page or more;
    # this also catches a cut inside the last page. In WAL mode pages may live in the -wal
    # file, so the database file's length says nothing.
    if journal_mode != "wal" and length != page_size * pages:
        return None
    if rows.get("complete") != "1":
        return None
    return {
        "size": rows.get("size"),
        "seed": int(rows.get("seed", -1)),
        "schema_version": int(rows.get("schema_version", -1)),
        "complete": True,
    }


def _verify_shop(path: Union[str, Path]) -> list[str]:
    """SQLite's full ``integrity_check`` of the database at ``path``: ``["ok"]`` when sound."""
    connection = _connect_read_only(path)
    try:
        return [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
    finally:
        connection.close()


def _load_catalog() -> dict:
    """The committed inputs: categories with their nouns, adjectives and materials."""
    if not _CATALOG_PATH.exists():
        raise FileNotFoundError(
            f"{_CATALOG_PATH} is missing: install the course from its repository with `pip install "
            "-e .`"
        )
    return json.loads(_CATALOG_PATH.read_text(encoding="utf-8"))


def _generate_products(count: int, rng: random.Random) -> list[dict]:
    """``count`` products with unique names, a category, a price in cents and some stock."""
    catalog = _load_catalog()
    names = [
        (category, f"{adjective} {material} {noun}")
        for category, nouns in catalog["categories"].items()
        for noun in nouns
        for adjective in catalog["adjectives"]
        for material in catalog["materials"]
    ]
    chosen = rng.sample(names, count)
    return [
        {
            "id": product_id,
            "name": name,
            "category": category,
            # prices between $2.99 and about $250, most of them under $50, always ending in 99
            "price_cents": int(min(25_000, rng.lognormvariate(7.8, 0.8))) // 100 * 100 + 99,
            "stock": rng.randint(0, 200),
            "updated_at": DATA_END,
        }
        for product_id, (category, name) in enumerate(chosen, start=1)
    ]


def _generate_orders(size: _ShopSize, rng: random.Random) -> Iterator[tuple[int, int, int]]:
    """Yield ``(product_id, quantity, ordered_at)`` in time order.

    Popularity follows a Zipf law (a few products sell a lot, most sell little),
    and over the last 14 days a handful of "rising" products sell three times as
    fast -- so this week's trending list differs from the all-time best sellers.
    """
    product_ids = list(range(1, size.products + 1))
    rng.shuffle(product_ids)
    weights = [1.0 / rank**1.1 for rank in range(1, size.products + 1)]
    rising = set(rng.sample(product_ids[size.products // 10 :], k=max(1, size.products // 100)))
    recent_weights = [w * 3 if pid in rising else w for pid, w in zip(product_ids, weights)]
    start = DATA_END - size.days * DAY
    recent_start = DATA_END - 14 * DAY
    timestamps = sorted(rng.randrange(start, DATA_END) for _ in range(size.orders))
    recent_from = next((i for i, t in enumerate(timestamps) if t >= recent_start), len(timestamps))
    products = rng.choices(product_ids, weights=weights, k=recent_from)
    products += rng.choices(product_ids, weights=recent_weights, k=size.orders - recent_from)
    quantities = rng.choices([1, 2, 3, 4], weights=[70, 20, 7, 3], k=size.orders)
    return zip(products, quantities, timestamps)


def _build_into(path: Path, size: _ShopSize, size_name: str, seed: int) -> None:
    """Create the tables, insert the rows, add indexes and, last, mark the database complete."""
    rng = random.Random(seed)
    db = sqlite_utils.Database(path)
    db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")  # first: even a partial build is ours
    db.execute("PRAGMA journal_mode = OFF")  # a fresh file: nothing to roll back to
    db.execute("PRAGMA synchronous = OFF")
    db["cachelab_meta"].create({"key": str, "value": str}, pk="key")
    db["products"].create(
        {
            "id": int,
            "name": str,
            "category": str,
            "price_cents": int,
            "stock": int,
            "updated_at": int,
        },
        pk="id",
        not_null={"name", "category", "price_cents", "stock", "updated_at"},
    )
    db["orders"].create(
        {"id": int, "product_id": int, "quantity": int, "ordered_at": int},
        pk="id",
        foreign_keys=[("product_id", "products", "id")],
        not_null={"product_id", "quantity", "ordered_at"},
    )
    db["products"].insert_all(_generate_products(size.products, rng))
    # A million orders go in through the plain DB-API ``executemany``, 50,000 at a time:
    # sqlite-utils' ``insert_all`` inspects and converts every value of every row, which
    # for a million rows of three integers made the build about twice as slow.
    orders = _generate_orders(size, rng)
    insert_order = "INSERT INTO orders (product_id, quantity, ordered_at) VALUES (?, ?, ?)"
    with tqdm(
        total=size.orders,
        desc=f"building the {size_name} shop",
        unit=" orders",
        disable=size.orders < 100_000,
        mininterval=0.5,
    ) as progress:
        while chunk := list(itertools.islice(orders, 50_000)):
            db.conn.executemany(insert_order, chunk)
            progress.update(len(chunk))
    db["orders"].create_index(["ordered_at"], index_name="orders_by_time")
    db["products"].create_index(["category"], index_name="products_by_category")
    db.execute("ANALYZE")
    db["cachelab_meta"].insert_all(
        [
            {"key": "schema_version", "value": str(_SCHEMA_VERSION)},
            {"key": "size", "value": size_name},
            {"key": "seed", "value": str(seed)},
            {"key": "data_end", "value": str(DATA_END)},
            {"key": "products_rows", "value": str(size.products)},
            {"key": "orders_rows", "value": str(size.orders)},
            {"key": "complete", "value": "1"},  # written last: its presence means "whole"
        ]
    )
    db.conn.commit()
    db.close()


# --------------------------------------------------------------------------- users (lesson 09)

_FIRST_NAMES = (
    "Ada",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Frances",
    "Alan",
    "Radia",
    "Edsger",
    "Katherine",
    "Donald",
    "Hedy",
    "Tim",
    "Sophie",
    "Guido",
    "Shafi",
    "John",
    "Lynn",
)
_NOTICES = (
    "Your order of {product} has shipped",
    "Price drop: {product} is on sale",
    "{product} is back in stock",
    "Someone answered your question about {product}",
    "Your review of {product} was published",
)


def _generate_users(count: int, product_names: list[str], rng: random.Random) -> tuple[list, list]:
    """``count`` users, and a few notifications each (0 to 8, from the 30 days before the data
    ends), naming products from ``product_names``. Returns (users, notifications) as rows."""
    users = [
        {"id": user_id, "name": f"{rng.choice(_FIRST_NAMES)} {user_id}"}
        for user_id in range(1, count + 1)
    ]
    notifications = []
    for user in users:
        for _ in range(rng.randint(0, 8)):
            notifications.append(
                {
                    "user_id": user["id"],
                    "message": rng.choice(_NOTICES).format(product=rng.choice(product_names)),
                    "created_at": DATA_END - rng.randrange(30 * DAY),
                }
            )
    notifications.sort(key=lambda row: row["created_at"])
    return users, notifications


def add_users(path: Union[str, Path], users: int = 200, seed: int = 42) -> Path:
    """Give the shop at ``path`` signed-in users and their notifications (lesson 09), once.

    Adds two tables, ``users (id, name)`` and ``notifications (id, user_id, message,
    created_at)``, with rows drawn from ``seed`` -- the same rows every time. The
    ``products`` and ``orders`` tables are not touched: their rows stay exactly as
    ``build_shop`` made them, and the schema every other lesson reads is unchanged (so
    ``_SCHEMA_VERSION`` did not move). A shop that already has users is left as it is.
    Call it on a ``scratch_shop()`` copy: lesson 09 writes notifications.

    Everything is added in one ``BEGIN IMMEDIATE`` transaction (sqlite-utils 4 would
    commit each statement on its own): a failure leaves no half-made tables that a
    later call would take for users already there, and two processes adding users at
    once add them once.

    >>> path = add_users(scratch_shop("tiny"), users=20)
    >>> import sqlite3
    >>> sqlite3.connect(path).execute("SELECT COUNT(*) FROM users").fetchone()
    (20,)
    """
    path = Path(path)
    if isinstance(users, bool) or not isinstance(users, int) or not 1 <= users <= 1_000_000:
        raise ValueError(f"users must be a whole number between 1 and 1,000,000, got {users!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be a whole number, got {seed!r}")
    if _describe(path) is None:
        raise FileNotFoundError(
            f"no complete shop database at {path}; build one first with build_shop() or "
            "scratch_shop()"
        )
    db = sqlite_utils.Database(path)
    try:
        db.conn.execute("BEGIN IMMEDIATE")  # taken first: a second caller waits, then sees users
        try:
            if "users" not in db.table_names():
                _add_user_tables(db, users, seed)
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")
    finally:
        db.close()
    return path


def _add_user_tables(db: sqlite_utils.Database, users: int, seed: int) -> None:
    """Create and fill the users and notifications tables (inside the caller's transaction)."""
    names = [row["name"] for row in db.query("SELECT name FROM products ORDER BY id")]
    user_rows, notification_rows = _generate_users(users, names, random.Random(seed))
    db["users"].create({"id": int, "name": str}, pk="id", not_null={"name"})
    db["notifications"].create(
        {"id": int, "user_id": int, "message": str, "created_at": int},
        pk="id",
        foreign_keys=[("user_id", "users", "id")],
        not_null={"user_id", "message", "created_at"},
    )
    db["users"].insert_all(user_rows)
    db["notifications"].insert_all(notification_rows)
    db["notifications"].create_index(["user_id"], index_name="notifications_by_user")
    db["cachelab_meta"].insert_all(
        [{"key": "users", "value": str(users)}, {"key": "users_seed", "value": str(seed)}]
    )


if __name__ == "__main__":  # python -m cachelab.shop.data [size]
    import sys

    chosen = sys.argv[1] if len(sys.argv) > 1 else shop_size()
    print(build_shop(size=chosen))
