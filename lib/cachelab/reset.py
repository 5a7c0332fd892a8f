"""Put the course back to its starting state -- touching only the course's own things.

``python -m cachelab.reset`` (or ``make reset``) does two things and says what it did:

1. **Redis**: deletes every key under the course prefix ``cachelab:`` in the Redis
   named by ``REDIS_URL`` -- with SCAN and UNLINK, in batches, never FLUSHALL or
   FLUSHDB, so a server that also holds other data keeps it. Without ``REDIS_URL``
   there is nothing to do: each Python process (each notebook kernel) starts its own
   private server, which stores nothing on disk and dies with the process.
2. **Databases**: removes the generated shop databases (``data/shop-*.db``, or under
   ``$CACHELAB_DATA_DIR``), so the next ``make lab`` / ``build_shop()`` rebuilds them
   from the seed. Lessons that write use throw-away copies, so this is only needed
   if a database was damaged or edited by hand.

Options: ``--redis-only``, ``--databases-only``, ``--url URL`` (instead of
``REDIS_URL``), ``--prefix cachelab:something:`` (a narrower prefix; it must start
with ``cachelab:``), ``--dry-run`` (count and list, delete nothing).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence, Union

import redis

from cachelab import keys
from cachelab.cache import delete_keys_under
from cachelab.data import data_dir

BATCH = 500


def delete_course_keys(client: redis.Redis, prefix: str = keys.COURSE_PREFIX, dry_run: bool = False) -> int:
    """Delete every key under ``prefix`` (default: all of ``cachelab:``) and return how many.

    The work is ``cache.delete_keys_under``'s (SCAN + UNLINK in batches); keys outside
    the prefix are never touched. With ``dry_run=True`` the keys are only counted.
    """
    return delete_keys_under(client, prefix, dry_run=dry_run, batch_size=BATCH)


def generated_databases(folder: Union[str, Path, None] = None) -> list[Path]:
    """The generated shop databases in ``folder`` (default: ``data_dir()``), with their side files.

    Only files the course makes are listed: ``shop-<size>.db`` and its ``-journal``,
    ``-wal``, ``-shm`` and unfinished ``.partial`` files. Anything else is left alone.
    """
    folder = Path(folder) if folder is not None else data_dir()
    if not folder.is_dir():
        return []
    patterns = ("shop-*.db", "shop-*.db-journal", "shop-*.db-wal", "shop-*.db-shm", "shop-*.db.*.partial")
    found = {path for pattern in patterns for path in folder.glob(pattern) if path.is_file()}
    return sorted(found)


def remove_databases(folder: Union[str, Path, None] = None, dry_run: bool = False) -> list[Path]:
    """Remove the generated shop databases (see ``generated_databases``) and return their paths."""
    paths = generated_databases(folder)
    if not dry_run:
        for path in paths:
            path.unlink(missing_ok=True)
    return paths


def _safe_url(url: str) -> str:
    from cachelab.redis_server import _safe

    return _safe(url)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line: ``python -m cachelab.reset [--dry-run] [--redis-only | --databases-only]``."""
    parser = argparse.ArgumentParser(
        prog="python -m cachelab.reset",
        description="Delete the course's Redis keys (cachelab:* only, never FLUSHALL) and its generated databases.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--redis-only", action="store_true", help="leave the databases alone")
    which.add_argument("--databases-only", action="store_true", help="leave Redis alone")
    parser.add_argument("--url", help="the Redis to reset (default: $REDIS_URL)")
    parser.add_argument("--prefix", default=keys.COURSE_PREFIX,
                        help="delete only keys under this prefix; must start with 'cachelab:' (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    args = parser.parse_args(argv)
    try:
        keys.check_prefix(args.prefix)
    except ValueError as error:
        parser.error(str(error))

    verb = "would delete" if args.dry_run else "deleted"
    status = 0

    if not args.databases_only:
        url = args.url or os.environ.get("REDIS_URL") or None
        if url is None:
            print("Redis: REDIS_URL is not set, so the course uses private Redis servers, one per Python process")
            print("       (each notebook kernel); they keep nothing on disk and vanish with their process.")
            print("       Nothing persistent to reset -- restart a kernel to empty its cache.")
        else:
            from cachelab.redis_server import RedisNotFoundError, connect

            try:
                client = connect(url)
                count = delete_course_keys(client, args.prefix, dry_run=args.dry_run)
            except (RedisNotFoundError, ValueError, redis.RedisError) as error:
                print(f"Redis: could not reset {_safe_url(url)}: {error}", file=sys.stderr)
                status = 1
            else:
                print(f"Redis: {verb} {count} key(s) under {args.prefix!r} at {_safe_url(url)}"
                      " (SCAN + UNLINK; no other key was touched)")

    if not args.redis_only:
        folder = data_dir()
        paths = remove_databases(folder, dry_run=args.dry_run)
        if paths:
            for path in paths:
                print(f"databases: {verb} {path}")
            print("databases: they are rebuilt from the seed by `make lab`, `make test` or build_shop()")
        else:
            print(f"databases: none to delete in {folder}")

    return status


if __name__ == "__main__":
    sys.exit(main())
