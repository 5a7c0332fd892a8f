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

``build_shop()`` is idempotent: a complete database already at the path is reused;
a missing, partial or corrupt one is (re)built into a temporary file and moved into
place only when it is complete, so an interrupted build never leaves half a shop.

Lessons that change prices or stock work on ``scratch_shop()``, a throw-away copy.

Run ``python -m cachelab.data [size]`` to build a shop with a progress bar.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

import sqlite_utils
from tqdm.auto import tqdm

from cachelab.validation import validate_choice
from cachelab.watchdog import is_alive, start_watchdog

__all__ = [
    "SCHEMA_VERSION",
    "APPLICATION_ID",
    "is_course_file",
    "sweep_scratch_folders",
    "verify_shop",
    "DATA_END",
    "DAY",
    "SIZES",
    "ShopSize",
    "SHOP_SIZE_VARIABLE",
    "shop_size",
    "data_dir",
    "default_path",
    "build_shop",
    "scratch_shop",
    "connect_read_only",
    "describe",
    "load_catalog",
    "generate_products",
    "generate_orders",
    "add_users",
    "generate_users",
]

SCHEMA_VERSION = 1
APPLICATION_ID = 0x434C4142
"""The course's marker in SQLite's header (``PRAGMA application_id``): "CLAB" in ASCII."""
SQLITE_MAGIC = b"SQLite format 3\x00"
DATA_END = 1782777600  # 2026-06-30 00:00:00 UTC: the shop's "now" when it is built
DAY = 86_400  # seconds

REPO_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
CATALOG_PATH = REPO_DATA_DIR / "catalog.json"


@dataclass(frozen=True)
class ShopSize:
    """How big a shop to build."""

    products: int
    orders: int
    days: int


SIZES = {
    "tiny": ShopSize(products=100, orders=10_000, days=90),
    "small": ShopSize(products=2_000, orders=100_000, days=90),
    "default": ShopSize(products=2_000, orders=1_000_000, days=90),
}
SHOP_SIZE_VARIABLE = "CACHELAB_SHOP_SIZE"


def shop_size() -> str:
    """The shop size the lessons use: ``$CACHELAB_SHOP_SIZE`` if set, else ``"default"``.

    Set ``CACHELAB_SHOP_SIZE=small`` on a slow laptop (the trending query gets about ten
    times faster) or for a quick run of every lesson; every figure a lesson states is
    computed on the shop it was given, so the lessons read correctly on either size.

    >>> shop_size() in SIZES
    True
    """
    chosen = os.environ.get(SHOP_SIZE_VARIABLE) or "default"
    if chosen not in SIZES:
        raise ValueError(
            f"{SHOP_SIZE_VARIABLE} must be one of {', '.join(map(repr, SIZES))}, got {chosen!r}; "
            f"unset it for the default shop"
        )
    return chosen


def data_dir() -> Path:
    """Where generated databases go: ``$CACHELAB_DATA_DIR`` if set, else the repository's data/."""
    return Path(os.environ.get("CACHELAB_DATA_DIR") or REPO_DATA_DIR)


def default_path(size: Optional[str] = None) -> Path:
    """The database file used when ``build_shop`` is given no path: ``data/shop-<size>.db``
    (``size`` defaults to ``shop_size()``)."""
    return data_dir() / f"shop-{size or shop_size()}.db"


def build_shop(
    path: Union[str, Path, None] = None, size: Optional[str] = None, seed: int = 42
) -> Path:
    """Return the path of a complete shop database, building it only if needed.

    ``size`` defaults to ``shop_size()`` (``$CACHELAB_SHOP_SIZE``, else ``"default"``);
    ``path`` defaults to ``data/shop-<size>.db``. A database already there is reused
    when it is whole (see ``describe``) and was built with the same ``size`` and
    ``seed``; otherwise it is rebuilt -- but only over a file the course made itself
    (``is_course_file``) or an empty one. Anything else at ``path`` (someone's notes,
    another program's database) is never overwritten: ``FileExistsError`` names it.

    >>> path = build_shop(size="tiny")
    >>> describe(path)["size"], path.name
    ('tiny', 'shop-tiny.db')
    """
    size = shop_size() if size is None else size
    validate_choice(size, "size", SIZES)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be a whole number, got {type(seed).__name__} {seed!r}")
    path = Path(path) if path is not None else default_path(size)
    wanted = {"size": size, "seed": seed, "schema_version": SCHEMA_VERSION, "complete": True}
    if describe(path) == wanted and _rows_as_built(path):
        return path
    _refuse_to_overwrite(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
    os.close(handle)
    try:
        _build_into(Path(partial), SIZES[size], size, seed)
        os.chmod(partial, 0o644)  # mkstemp makes files private; a shop is not a secret
        os.replace(partial, path)  # atomic: readers see the old file or the whole new one
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path


def _refuse_to_overwrite(path: Path) -> None:
    """Raise unless ``path`` is missing, empty, or a file the course made: never overwrite data."""
    if not os.path.lexists(path):
        return
    if path.is_dir() or not path.is_file():
        raise IsADirectoryError(
            f"{path} is a folder or a special file, not a shop database; pass another path"
        )
    if path.stat().st_size == 0 or is_course_file(path):
        return  # nothing to lose: an empty file, or a shop the course built (partial, old, damaged)
    raise FileExistsError(
        f"{path} is not a file the course made ({_what_is_there(path)}); refusing to overwrite it. "
        f"Pass another path to build_shop()."
    )


def _what_is_there(path: Path) -> str:
    """A few words on a file that is not ours, for an error message."""
    with open(path, "rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        return "it is not an SQLite database"
    try:
        connection = connect_read_only(path)
        try:
            tables = [
                name
                for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            ]
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return "an SQLite database that cannot be read"
    return (
        f"an SQLite database of something else, with tables: {', '.join(sorted(tables)) or 'none'}"
    )


def is_course_file(path: Union[str, Path]) -> bool:
    """Whether ``path`` is a database the course made: it carries the course's marker.

    The marker is SQLite's ``application_id`` header field (``APPLICATION_ID``), written
    before anything else when a shop is built, so even a partial or truncated build is
    recognised; a shop built before the marker existed is recognised by its
    ``cachelab_meta`` table. Reading the header touches nothing.
    """
    path = Path(path)
    try:
        with open(path, "rb") as file:
            header = file.read(100)
    except OSError:
        return False
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        return False
    if int.from_bytes(header[68:72], "big") == APPLICATION_ID:
        return True
    try:  # an older course shop: no marker yet, but the course's own table
        connection = connect_read_only(path)
        try:
            found = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cachelab_meta'"
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return False
    return found is not None


SCRATCH_PREFIX = "cachelab-scratch-"
"""Scratch folders are named ``cachelab-scratch-<pid>-<random>``: the pid says whose they are."""

_scratch_root: Optional[Path] = None


def scratch_shop(size: Optional[str] = None, seed: int = 42) -> Path:
    """A private copy of the shop in a temporary folder, for lessons that change prices and stock.

    The shared database stays exactly as built, so every lesson can be run again
    (and in any order) and sees the same shop. Every copy a process makes lives in
    one folder of its own, removed when Python exits -- or, if the process is killed,
    by a ``cachelab.watchdog`` within a second. Folders left by processes that died
    before the watchdog existed are swept away the next time any process makes one.
    """
    source = build_shop(size=size, seed=seed)
    handle, name = tempfile.mkstemp(prefix=source.stem + "-", suffix=".db", dir=_scratch_folder())
    os.close(handle)
    shutil.copyfile(source, name)
    return Path(name)


def _scratch_folder() -> Path:
    """This process's scratch folder, made on first use with its watchdog, after a sweep."""
    global _scratch_root
    if (
        _scratch_root is not None
        and _scratch_root.is_dir()
        and _scratch_root.name.startswith(f"{SCRATCH_PREFIX}{os.getpid()}-")
    ):
        return _scratch_root
    sweep_scratch_folders()
    _scratch_root = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
    atexit.register(shutil.rmtree, _scratch_root, ignore_errors=True)
    start_watchdog(os.getpid(), None, _scratch_root)
    return _scratch_root


def sweep_scratch_folders(folder: Union[str, Path, None] = None) -> list[Path]:
    """Remove the scratch folders of processes that are gone; return what was removed.

    Only folders named ``cachelab-scratch-<pid>-…`` are looked at, and only those whose
    pid is no longer a running process are removed.
    """
    folder = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    removed = []
    for candidate in folder.glob(SCRATCH_PREFIX + "*"):
        pid_text = candidate.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if candidate.is_dir() and pid_text.isdigit() and not is_alive(int(pid_text)):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def connect_read_only(path: Union[str, Path]) -> sqlite3.Connection:
    """Open the SQLite database at ``path`` read-only: it is never changed, and never created if
    missing.

    Read-only needs a ``file:`` URI, and in a URI ``#``, ``?`` and ``%`` mean something:
    the path is percent-encoded (``Path.as_uri``), so ``course #2/shop.db`` opens that file,
    not a file called ``course `` with the rest taken as a query.
    """
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)


def describe(path: Union[str, Path]) -> Optional[dict]:
    """What the course database at ``path`` says of itself, or None unless it is whole.

    Whole means, checked cheaply (a few milliseconds, so every lesson can ask): the
    file is as long as its SQLite header says (a truncated copy is not), and the build
    finished (``complete`` is written last). ``verify_shop`` reads every page, for when
    that is worth a second; ``build_shop`` also checks the row counts before reuse.
    """
    path = Path(path)
    if not path.is_file() or not _length_matches_header(path):
        return None
    try:
        connection = connect_read_only(path)
        try:
            rows = dict(connection.execute("SELECT key, value FROM cachelab_meta").fetchall())
        finally:
            connection.close()
    except sqlite3.DatabaseError:  # not a database, a damaged one, or no meta table
        return None
    if rows.get("complete") != "1":
        return None
    return {
        "size": rows.get("size"),
        "seed": int(rows.get("seed", -1)),
        "schema_version": int(rows.get("schema_version", -1)),
        "complete": True,
    }


def _rows_as_built(path: Path) -> bool:
    """Whether the tables hold as many rows as the build wrote (a shop written to does not)."""
    try:
        connection = connect_read_only(path)
        try:
            meta = dict(connection.execute("SELECT key, value FROM cachelab_meta").fetchall())
            for table in ("products", "orders"):  # our own table names, never user input
                expected = meta.get(f"{table}_rows")
                if expected is not None:
                    (count,) = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
                    if count != int(expected):
                        return False
        finally:
            connection.close()
    except (sqlite3.DatabaseError, ValueError):
        return False
    return True


def _length_matches_header(path: Path) -> bool:
    """Whether the file is exactly as long as its SQLite header says (page size × page count)."""
    with open(path, "rb") as file:
        header = file.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        return False
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65_536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    change_counter, valid_for = header[24:28], header[92:96]
    if pages == 0 or change_counter != valid_for:
        return True  # the header's size is not kept up to date: nothing to compare with
    return path.stat().st_size == page_size * pages


def verify_shop(path: Union[str, Path]) -> list[str]:
    """SQLite's full ``integrity_check`` of the database at ``path``: ``["ok"]`` when sound."""
    connection = connect_read_only(path)
    try:
        return [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
    finally:
        connection.close()


def load_catalog() -> dict:
    """The committed inputs: categories with their nouns, adjectives and materials."""
    if not CATALOG_PATH.exists():
        raise FileNotFoundError(
            f"{CATALOG_PATH} is missing: install the course from its repository with `pip install "
            "-e .`"
        )
    return json.loads(CATALOG_PATH.read_text(encoding="utf-8"))


def generate_products(count: int, rng: random.Random) -> list[dict]:
    """``count`` products with unique names, a category, a price in cents and some stock."""
    catalog = load_catalog()
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


def generate_orders(size: ShopSize, rng: random.Random) -> Iterator[tuple[int, int, int]]:
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


def _build_into(path: Path, size: ShopSize, size_name: str, seed: int) -> None:
    """Create the tables, insert the rows, add indexes and, last, mark the database complete."""
    rng = random.Random(seed)
    db = sqlite_utils.Database(path)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")  # first: even a partial build is ours
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
    db["products"].insert_all(generate_products(size.products, rng))
    # A million orders go in through the plain DB-API ``executemany``, 50,000 at a time:
    # sqlite-utils' ``insert_all`` inspects and converts every value of every row, which
    # for a million rows of three integers made the build about twice as slow.
    orders = generate_orders(size, rng)
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
            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
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


def generate_users(count: int, product_names: list[str], rng: random.Random) -> tuple[list, list]:
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
    ``SCHEMA_VERSION`` did not move). A shop that already has users is left as it is.
    Call it on a ``scratch_shop()`` copy: lesson 09 writes notifications.

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
    if describe(path) is None:
        raise FileNotFoundError(
            f"no complete shop database at {path}; build one first with build_shop() or "
            "scratch_shop()"
        )
    db = sqlite_utils.Database(path)
    try:
        if "users" in db.table_names():
            return path
        names = [row["name"] for row in db.query("SELECT name FROM products ORDER BY id")]
        user_rows, notification_rows = generate_users(users, names, random.Random(seed))
        with db.conn:
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
    finally:
        db.close()
    return path


if __name__ == "__main__":  # python -m cachelab.data [size]
    import sys

    chosen = sys.argv[1] if len(sys.argv) > 1 else shop_size()
    print(build_shop(size=chosen))
