"""Put the course back to its starting state -- touching only the course's own things.

``python -m cachelab.environment.reset`` (or ``make reset``) does two things and says what it did:

1. **Redis**: deletes every key under *this learner's* prefix ``cachelab:<learner>:``
   (``keys.learner_prefix()``) in the Redis named by ``REDIS_URL`` -- with SCAN and
   UNLINK, in batches, never FLUSHALL or FLUSHDB, so a server that also holds other
   data keeps it, and a room sharing one server keeps everyone else's keys. An
   instructor resets the whole room with ``--all-learners``, which deletes every key
   under ``cachelab:`` and says how many each learner had. Without ``REDIS_URL``
   there is nothing to do: each Python process (each notebook kernel) starts its own
   private server, which stores nothing on disk and dies with the process.
2. **Databases**: removes the generated shop databases (``data/shop-*.db``, or under
   ``$CACHELAB_DATA_DIR``), so the next ``make lab`` / ``build_shop()`` rebuilds them
   from the seed. Lessons that write use throw-away copies, so this is only needed
   if a database was damaged or edited by hand. A shop that another process is
   building right now (it holds ``cachelab.shop._build_lock``) is left alone, with its unfinished
   build, and reset says so: deleting a build in progress would fail it half-way. So is
   a database another process is writing (SQLite says "database is locked").

Options: ``--redis-only``, ``--databases-only``, ``--url URL`` (instead of
``REDIS_URL``), ``--learner NAME`` (another learner's keys), ``--all-learners``,
``--prefix cachelab:something:`` (any valid course prefix), ``--dry-run`` (count and
list, delete nothing).

>>> import tempfile
>>> _generated_databases(tempfile.mkdtemp())  # an empty folder: nothing of the course's
_DatabaseSweep(removed=[], skipped=[], building=[], locked=[])
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import redis

from cachelab import keys
from cachelab.cache import _delete_keys_under
from cachelab.environment.redis_server import _redact_url
from cachelab.shop._build_lock import (
    ForeignLockFile,
    build_in_progress,
    build_lock,
    is_lock_file,
    lock_path_of,
)
from cachelab.shop.data import _data_dir, _is_course_file

__all__ = ["main"]

_BATCH = 500
_NO_LEARNER = "(none)"
"""How keys under ``cachelab:`` with no learner part (``cachelab:x``) are counted."""


def _delete_course_keys(
    client: redis.Redis, prefix: Optional[str] = None, dry_run: bool = False
) -> int:
    """Delete every key under ``prefix`` (default: this learner's) and return how many.

    The work is ``cache._delete_keys_under``'s (SCAN + UNLINK in batches); keys outside
    the prefix are never touched. With ``dry_run=True`` the keys are only counted.
    """
    prefix = prefix if prefix is not None else keys.learner_prefix()
    return _delete_keys_under(client, prefix, dry_run=dry_run, batch_size=_BATCH)


def _keys_per_learner(client: redis.Redis) -> Counter:
    """How many keys each learner has under ``cachelab:`` (SCAN only; nothing is changed).

    The learner is the part between ``cachelab:`` and the next ``:``; a key with no
    second ``:`` (not a learner's) is counted under ``"(none)"``.
    """
    counts: Counter = Counter()
    for redis_key in client.scan_iter(match=keys._scan_pattern(keys._COURSE_PREFIX), count=_BATCH):
        counts[keys._learner_of(redis_key) or _NO_LEARNER] += 1
    return counts


def _delete_every_learners_keys(client: redis.Redis, dry_run: bool = False) -> Counter:
    """For the instructor: delete every key under ``cachelab:``, and return how many each learner
    had *deleted* (keys with no learner part are counted under ``_NO_LEARNER``).

    One SCAN over the course prefix, UNLINK in batches grouped by learner, so each
    count is what Redis says it deleted -- not a count taken before, which a room still
    at work would have made wrong. Keys outside ``cachelab:`` are never touched.
    """
    deleted: Counter = Counter()
    batch: dict[str, list[str]] = {}

    def flush() -> None:
        for learner, names in batch.items():
            deleted[learner] += len(names) if dry_run else client.unlink(*names)
        batch.clear()

    pending = 0
    for redis_key in client.scan_iter(match=keys._scan_pattern(keys._COURSE_PREFIX), count=_BATCH):
        batch.setdefault(keys._learner_of(redis_key) or _NO_LEARNER, []).append(redis_key)
        pending += 1
        if pending == _BATCH:
            flush()
            pending = 0
    flush()
    return +deleted  # a learner whose keys vanished meanwhile (0 deleted) is not listed


_SIDE_FILE_SUFFIXES = ("-journal", "-wal", "-shm")
"""Files SQLite keeps beside a database while it works on it."""


@dataclass
class _DatabaseSweep:
    """What ``_remove_databases`` found: the course's own files, look-alikes it left alone, the
    files of a shop that another process is building, and files another process holds
    (a database it is writing, or a shop beside a ``.lock`` that is not the course's):
    left alone too."""

    removed: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    building: list[Path] = field(default_factory=list)
    locked: list[Path] = field(default_factory=list)


def _generated_databases(folder: Union[str, Path, None] = None) -> _DatabaseSweep:
    """Sort the ``shop-*`` files in ``folder`` (default: ``_data_dir()``): the course's, and others.

    A database (``shop-*.db``) or an unfinished build (``shop-*.db.*.partial``) is the
    course's only if it carries the course's marker (``data._is_course_file``); SQLite's
    side files (``-journal``, ``-wal``, ``-shm``) go with their database, and a
    ``shop-*.db.lock`` holding the course's marker (``build_lock.is_lock_file``) is a build
    lock the course left. Everything else with such a name -- someone's
    ``shop-accounts.db``, a text file, an empty ``.lock`` -- is skipped. The files of a
    shop whose build is in progress (``build_lock.build_in_progress``) are listed in
    ``building`` without being read: the build holds SQLite's exclusive lock on its
    partial file for most of its run. A database another process keeps locked for
    longer than SQLite waits is listed in ``locked``.
    """
    folder = Path(folder) if folder is not None else _data_dir()
    sweep = _DatabaseSweep()
    if not folder.is_dir():
        return sweep
    candidates = sorted(
        {p for pattern in ("shop-*.db", "shop-*.db.*.partial") for p in folder.glob(pattern)}
    )
    for path in candidates:
        # Side files first: reading the marker may roll back (and remove) a crashed writer's
        # journal, as any SQLite reader would; it is still reported with its database.
        sides = [path.with_name(path.name + suffix) for suffix in _SIDE_FILE_SUFFIXES]
        sides = [side for side in sides if side.exists()]
        if build_in_progress(_shop_of(path)):
            found = sweep.building
        else:
            found = _sort_by_marker(path, sweep)
        found += [path, *sides]
    for lock in sorted(folder.glob("shop-*.db.lock")):
        if not is_lock_file(lock):
            sweep.skipped.append(lock)
        elif build_in_progress(_shop_of(lock)):
            sweep.building.append(lock)
        else:
            sweep.removed.append(lock)
    listed = set(sweep.removed) | set(sweep.skipped) | set(sweep.building)
    orphans = [p for suffix in _SIDE_FILE_SUFFIXES for p in folder.glob(f"shop-*.db{suffix}")]
    sweep.skipped += sorted(p for p in orphans if p not in listed)
    return sweep


def _sort_by_marker(path: Path, sweep: _DatabaseSweep) -> list[Path]:
    """Where ``path`` goes: ``removed`` if it is the course's, ``skipped`` if not, ``locked``
    if another process keeps it locked (its marker cannot be read)."""
    try:
        ours = path.is_file() and _is_course_file(path)
    except sqlite3.OperationalError:  # "database is locked": busy, not damaged
        return sweep.locked
    return sweep.removed if ours else sweep.skipped


def _shop_of(path: Path) -> Path:
    """The database a course file belongs to: ``shop-x.db`` for ``shop-x.db``,
    ``shop-x.db.k3j_9.partial`` (its unfinished build) and ``shop-x.db.lock`` (its build lock)."""
    name = path.name
    if name.endswith(".partial"):
        name = name[: -len(".partial")].rsplit(".", 1)[0]  # mkstemp's random part has no dot
    elif name.endswith(".lock"):
        name = name[: -len(".lock")]
    return path.with_name(name)


def _remove_databases(
    folder: Union[str, Path, None] = None, dry_run: bool = False
) -> _DatabaseSweep:
    """Remove the course's generated databases (see ``_generated_databases``); report the rest.

    Each shop's files are removed while holding its ``build_lock`` (not waiting for it):
    a build that starts meanwhile waits until they are gone, and one already under way
    keeps its files -- they are reported in ``building`` instead.
    """
    sweep = _generated_databases(folder)
    if dry_run:
        return sweep
    by_shop: dict[Path, list[Path]] = {}
    for path in sweep.removed:
        by_shop.setdefault(_shop_of(_database_of_side_file(path)), []).append(path)
    for shop, paths in by_shop.items():
        try:
            with build_lock(shop, wait=False) as held:
                if not held:  # a build started after the look above
                    sweep.removed = [p for p in sweep.removed if p not in paths]
                    sweep.building += paths
                    continue
                for path in paths:
                    if path != lock_path_of(shop):  # build_lock removes it when it lets go
                        path.unlink(missing_ok=True)
        except ForeignLockFile:  # a .lock beside it that is not the course's: not ours to take
            sweep.removed = [p for p in sweep.removed if p not in paths]
            sweep.locked += paths
    return sweep


def _database_of_side_file(path: Path) -> Path:
    """``shop-x.db`` for its ``-journal``, ``-wal`` and ``-shm`` side files; else ``path``."""
    for suffix in _SIDE_FILE_SUFFIXES:
        if path.name.endswith(suffix):
            return path.with_name(path.name[: -len(suffix)])
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line: ``python -m cachelab.environment.reset [--dry-run] [--all-learners]
    [--redis-only | --databases-only]``.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    prefix = _prefix_of(args, parser)
    verb = "would delete" if args.dry_run else "deleted"
    status = 0

    if not args.databases_only:
        url = args.url or os.environ.get("REDIS_URL") or None
        if url is None:
            print(
                "Redis: REDIS_URL is not set, so the course uses private Redis servers, one per "
                "Python process"
            )
            print(
                "       (each notebook kernel); they keep nothing on disk and vanish with their "
                "process."
            )
            print("       Nothing persistent to reset -- restart a kernel to empty its cache.")
        else:
            status = _reset_redis(url, prefix, args.all_learners, args.dry_run, verb)

    if not args.redis_only:
        _reset_databases(args.dry_run, verb)

    return status


def _parser() -> argparse.ArgumentParser:
    """The command line's options: which of Redis and the databases to reset, and whose keys."""
    parser = argparse.ArgumentParser(
        prog="python -m cachelab.environment.reset",
        description="Delete this learner's Redis keys (cachelab:<learner>:* only, never FLUSHALL) "
        "and the course's generated databases.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--redis-only", action="store_true", help="leave the databases alone")
    which.add_argument("--databases-only", action="store_true", help="leave Redis alone")
    parser.add_argument("--url", help="the Redis to reset (default: $REDIS_URL)")
    whose = parser.add_mutually_exclusive_group()
    whose.add_argument(
        "--learner",
        help="reset this learner's keys (default: yours, from $CACHELAB_LEARNER, "
        "$JUPYTERHUB_USER or your login name)",
    )
    whose.add_argument(
        "--all-learners",
        action="store_true",
        help="for the instructor: delete every learner's keys (all of cachelab:*) and say how many "
        "each had",
    )
    whose.add_argument("--prefix", help="delete only keys under this course prefix (cachelab:...:)")
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would be deleted, delete nothing"
    )
    return parser


def _prefix_of(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """The prefix whose keys go: every learner's, the one given, or one learner's (else usage)."""
    try:
        if args.all_learners:
            return keys._COURSE_PREFIX
        if args.prefix is not None:
            return keys._validate_prefix(args.prefix)
        return keys.learner_prefix(args.learner)
    except ValueError as error:
        parser.error(str(error))


def _reset_databases(dry_run: bool, verb: str) -> None:
    """Remove the generated databases, and say which went and why any others stayed."""
    folder = _data_dir()
    sweep = _remove_databases(folder, dry_run=dry_run)
    for path in sweep.removed:
        print(f"databases: {verb} {path}")
    if sweep.removed:
        print(
            "databases: they are rebuilt from the seed by `make lab`, `make test` or build_shop()"
        )
    else:
        print(f"databases: none to delete in {folder}")
    for path in sweep.skipped:
        print(f"databases: skipped {path}: not a file the course made")
    for path in sweep.building:
        print(
            f"databases: skipped {path}: another process is building this shop right now; "
            "run the reset again when it has finished"
        )
    for path in sweep.locked:
        print(
            f"databases: skipped {path}: another process is writing it, or holds a lock "
            "that is not the course's; run the reset again when it has finished"
        )


def _reset_redis(url: str, prefix: str, all_learners: bool, dry_run: bool, verb: str) -> int:
    """Delete the keys under ``prefix`` at ``url``, print what was done; 0 if it worked, else 1."""
    from cachelab.environment.redis_server import RedisNotFoundError, connect

    try:
        client = connect(url)
        if all_learners:
            per_learner = _delete_every_learners_keys(client, dry_run=dry_run)
            count = sum(per_learner.values())
        else:
            per_learner = None
            count = _delete_course_keys(client, prefix, dry_run=dry_run)
    except (RedisNotFoundError, ValueError, redis.RedisError) as error:
        print(f"Redis: could not reset {_redact_url(url)}: {error}", file=sys.stderr)
        return 1
    print(
        f"Redis: {verb} {count} key(s) under {prefix!r} at {_redact_url(url)}"
        " (SCAN + UNLINK; no other key was touched)"
    )
    if per_learner is not None:
        learners = sum(1 for learner in per_learner if learner != _NO_LEARNER)
        print(f"       {learners} learner(s):" if per_learner else "       no learner had keys")
        for learner, learner_keys in sorted(per_learner.items()):
            print(f"       {learner}: {learner_keys} key(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
