"""Every cache key the course uses, built in one place.

Why one module? A cache key is a contract between the code that fills the cache
and the code that invalidates it. If ``"product:42"`` is spelled in two places,
one day it will be spelled two ways, and an invalidation will silently miss.

Three layers:

- *logical keys* such as ``product:42`` or ``trending:days=7:limit=10`` name
  what is cached. Both caches take logical keys.
- the *learner prefix*, ``cachelab:<learner>:``, says whose keys they are. A whole
  room of learners may share one Redis; each one's keys live under their own
  prefix, and a learner's reset deletes only those. The learner's name comes from
  ``$CACHELAB_LEARNER``, else ``$JUPYTERHUB_USER``, else the login name. On a shared server
  (``$REDIS_URL`` set) the login name is often everyone's (every Binder user is ``jovyan``), so
  the course then warns, once, how to set ``CACHELAB_LEARNER``.
- the *Redis key* is the logical key under a prefix: ``cachelab:alice:product:42``.
  Every prefix starts with ``_COURSE_PREFIX`` and ends with ``:``, so the course can
  only ever delete its own keys, and one prefix can never be the start of another
  learner's (``cachelab:a1`` would have covered ``cachelab:a10…``). A key that lives
  beside another (its lock, lease or refresh marker) carries a Redis Cluster hash tag,
  so that the two share a slot (``_redis_key``).

>>> product(42)
'product:42'
>>> learner_prefix("alice")
'cachelab:alice:'
>>> _redis_key(learner_prefix("alice"), product(42))
'cachelab:alice:product:42'
"""

from __future__ import annotations

import functools
import getpass
import os
import re
import warnings
from typing import Optional

from cachelab._internal.validation import validate_id, validate_whole_number

__all__ = [
    "learner_prefix",
    "lock",
    "notifications",
    "product",
    "refresh_lock",
    "trending",
    "versioned",
    "lease",
]

_COURSE_PREFIX = "cachelab:"
"""Every Redis key the course writes starts with this."""

_MAX_KEY_LENGTH = 1_000
"""The longest logical key accepted, in characters. Redis takes keys up to 512 MB; a key of
kilobytes is a bug (a whole value pasted into the key), and it would be sent on every request."""

_LEARNER_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
"""A learner name: letters, digits and ``. _ @ + -``, 1 to 64 characters, starting with a letter
or digit. No ``:`` (it would nest one learner's prefix inside another's) and no glob characters
``* ? [ ] \\`` (they would widen a SCAN pattern)."""

_GLOB_CHARACTERS = "*?[]\\"


# --------------------------------------------------------------------------- logical keys


def product(product_id: int) -> str:
    """Key of one product page: ``product:42`` (holds a product dict)."""
    return f"product:{validate_id(product_id)}"


def trending(days: int = 7, limit: int = 10) -> str:
    """Key of the homepage's trending list: ``trending:days=7:limit=10`` (holds a list of dicts)."""
    days = validate_whole_number(days, "days")
    limit = validate_whole_number(limit, "limit")
    return f"trending:days={days}:limit={limit}"


def notifications(user_id: int) -> str:
    """Key of one signed-in user's notifications: ``notifications:user=3`` (a list of dicts)."""
    return f"notifications:user={validate_id(user_id, 'user_id')}"


def versioned(key: str, version: int) -> str:
    """The same key at one *version* (generation): ``product:42:v3``.

    Readers ask for the key at the current generation, so a new generation makes every
    older entry unreachable: they are never read again and leave by their TTL.
    """
    return f"{_validate_key(key)}:v{validate_whole_number(version, 'version', minimum=0)}"


def _version_counter(key: str) -> str:
    """Key of the counter that holds the current version of ``key``: ``version:product:42``."""
    return f"version:{_validate_key(key)}"


def lease(key: str) -> str:
    """Key of the lease on ``key``: ``lease:product:42`` (holds a token; see
    ``invalidation.LeaseCache``).
    """
    return f"lease:{_validate_key(key)}"


def lock(key: str) -> str:
    """Key of the lock that lets one process at a time reload ``key``: ``lock:trending:…`` (holds a
    token).
    """
    return f"lock:{_validate_key(key)}"


def refresh_lock(key: str) -> str:
    """Key of the marker held while one process refreshes ``key`` in the background:
    ``refresh:product:42`` (holds a token; see ``stampedes.StaleWhileRevalidate``).
    """
    return f"refresh:{_validate_key(key)}"


def _early_refresh(key: str) -> str:
    """Key of ``key``'s value kept for early refresh, with its recompute time and expiry:
    ``xfetch:trending:…`` (holds ``{"value", "delta_s", "expires_at"}``; see
    ``stampedes.EarlyRefresh``).
    """
    return f"xfetch:{_validate_key(key)}"


def _stale_while_revalidate(key: str) -> str:
    """Key of ``key``'s value kept with the moment it was loaded, so it can be served stale:
    ``swr:trending:…`` (holds ``{"value", "loaded_at"}``; see ``stampedes.StaleWhileRevalidate``).
    """
    return f"swr:{_validate_key(key)}"


# --------------------------------------------------------------------------- whose keys


def _validate_learner_name(name: str) -> str:
    """Return ``name`` if it is a valid learner name (see ``_LEARNER_NAME_PATTERN``), else raise
    ``ValueError``.
    """
    if not isinstance(name, str):
        raise TypeError(f"a learner name is a string, got {type(name).__name__} {name!r}")
    if not _LEARNER_NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"a learner name is 1-64 letters, digits or . _ @ + - (no ':' and no glob characters "
            f"{_GLOB_CHARACTERS}), got {name!r}; set CACHELAB_LEARNER to a name like 'alice'"
        )
    return name


def _learner_name() -> str:
    """This learner's name: ``$CACHELAB_LEARNER``, else ``$JUPYTERHUB_USER``, else the login name.

    A name that is set but invalid is an error (it is not quietly replaced), so two
    learners never end up sharing a prefix by accident.
    """
    for variable in ("CACHELAB_LEARNER", "JUPYTERHUB_USER"):
        value = os.environ.get(variable)
        if value:
            try:
                return _validate_learner_name(value)
            except ValueError as error:
                raise ValueError(f"${variable}: {error}") from None
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers): one shared default
        login = "learner"
    try:
        name = _validate_learner_name(login)
    except ValueError as error:
        raise ValueError(f"the login name cannot be a learner name: {error}") from None
    if os.environ.get("REDIS_URL"):
        _warn_login_name_on_a_shared_server(name)
    return name


@functools.cache
def _warn_login_name_on_a_shared_server(name: str) -> None:
    """Warn (once per name in a process) that a name taken from the login may be another
    learner's too: on a room's Redis, two learners with one name share one prefix, see each
    other's keys, and one's reset deletes the other's."""
    warnings.warn(
        f"REDIS_URL is set, so your cache keys may live on a server other learners share, and "
        f"your learner name {name!r} is your login name, which others may have too (every Binder "
        f"user is 'jovyan'): learners with one name share the prefix 'cachelab:{name}:', see each "
        "other's keys, and one's reset deletes the other's. Choose a name no one else in the room "
        "has (letters, digits and . _ @ + -) and set CACHELAB_LEARNER to it: in a terminal, "
        "`export CACHELAB_LEARNER=<name>` before starting JupyterLab; or in a notebook, "
        "`import os; os.environ['CACHELAB_LEARNER'] = '<name>'`, then run the lesson from the top.",
        stacklevel=3,
    )


def learner_prefix(learner: Optional[str] = None) -> str:
    """The prefix every key of one learner lives under: ``cachelab:<learner>:`` (default: this
    learner).
    """
    name = _validate_learner_name(learner) if learner is not None else _learner_name()
    return f"{_COURSE_PREFIX}{name}:"


def _learner_of(redis_key: str) -> Optional[str]:
    """Whose key ``_redis_key`` is: the learner named after ``cachelab:``, or None.

    None for a key outside the course prefix, and for a key under it with no
    learner part (``cachelab:x``, with no second ``:``).

    >>> _learner_of("cachelab:ada:product:42"), _learner_of("cachelab:x"), _learner_of("session:1")
    ('ada', None, None)
    """
    if not isinstance(redis_key, str) or not redis_key.startswith(_COURSE_PREFIX):
        return None
    learner, colon, _ = redis_key[len(_COURSE_PREFIX) :].partition(":")
    return learner if colon and learner else None


# --------------------------------------------------------------------------- validation and Redis
# keys


def _validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is a valid course prefix, else raise ``ValueError``.

    A valid prefix starts with ``_COURSE_PREFIX`` ("cachelab:"), ends with ``:``, and holds
    no glob characters. That is what keeps ``clear()`` from ever touching keys that are
    not ours, and one prefix from covering another (``cachelab:1`` and ``cachelab:10``).
    """
    if not isinstance(prefix, str) or not prefix.startswith(_COURSE_PREFIX):
        raise ValueError(
            f"prefix must start with {_COURSE_PREFIX!r} so the course only ever touches its own "
            f"keys, got {prefix!r}; try {learner_prefix()!r}"
        )
    if not prefix.endswith(":"):
        raise ValueError(
            f"prefix must end with ':' so that it cannot be the start of another prefix "
            f"(cachelab:1 would also cover cachelab:10...), got {prefix!r}; try {prefix + ':'!r}"
        )
    if any(ch in prefix for ch in _GLOB_CHARACTERS) or any(ch.isspace() for ch in prefix):
        raise ValueError(
            f"prefix must not contain spaces or the glob characters {_GLOB_CHARACTERS}, got "
            f"{prefix!r}"
        )
    return prefix


def _validate_key(key: str) -> str:
    """Return ``key`` if it is a valid logical key, else raise ``TypeError`` / ``ValueError``.

    A key is a non-empty string of at most ``_MAX_KEY_LENGTH`` printable characters: no
    newlines, tabs or other control characters (they make logs and ``redis-cli`` output
    lie), and no braces (Redis Cluster reads ``{…}`` as a hash tag, which ``_redis_key``
    sets). Spaces, unicode letters and glob characters are fine: a key is never a pattern.
    """
    if (
        type(key) is str
        and 0 < len(key) <= _MAX_KEY_LENGTH
        and key.isprintable()
        and "{" not in key
        and "}" not in key
    ):
        return key  # the common case, checked quickly: caches call this on every operation
    if not isinstance(key, str):
        raise TypeError(f"cache keys are non-empty strings, got {type(key).__name__} {key!r}")
    if not key:
        raise ValueError("cache keys are non-empty strings, got ''")
    if len(key) > _MAX_KEY_LENGTH:
        raise ValueError(
            f"cache keys are at most {_MAX_KEY_LENGTH:,} characters, got one of {len(key):,}"
        )
    if "{" in key or "}" in key:
        raise ValueError(
            f"cache keys hold no braces: Redis Cluster reads {{...}} as a hash tag, got {key!r}"
        )
    raise ValueError(
        f"cache keys are printable characters: no newlines, tabs or control characters, got {key!r}"
    )
    return key


_COMPANIONS = ("lock:", "lease:", "refresh:", "xfetch:", "swr:")
"""Kinds of key that live beside a value key (``lock(key)``, ``lease(key)``, ...), and that
Lua scripts change together with it."""


def _redis_key(prefix: str, key: str) -> str:
    """The Redis key that stores logical ``key`` under ``prefix`` (both validated).

    A key that lives beside another -- ``lock:trending:…`` beside ``trending:…`` --
    carries a Redis Cluster *hash tag*: the other's whole Redis key, in braces. A
    Cluster hashes only what is inside the first braces of a key, and a key without
    braces whole, so both land in one slot, and the scripts that change both at once
    (fill and release a lock or a lease) run on a Cluster too instead of failing with
    ``CROSSSLOT``. Value keys, the ones learners read, are unchanged.

    >>> _redis_key("cachelab:alice:", "trending:days=7:limit=10")
    'cachelab:alice:trending:days=7:limit=10'
    >>> _redis_key("cachelab:alice:", lock("trending:days=7:limit=10"))
    'cachelab:alice:lock:{cachelab:alice:trending:days=7:limit=10}'
    >>> _redis_key("cachelab:alice:", lock(_stale_while_revalidate("home")))
    'cachelab:alice:lock:swr:{cachelab:alice:home}'
    """
    prefix, key = _validate_prefix(prefix), _validate_key(key)
    kinds, base = "", key
    while base.startswith(_COMPANIONS):
        kind, _, rest = base.partition(":")
        kinds, base = kinds + kind + ":", rest
    if not kinds or not base:
        return prefix + key
    return f"{prefix}{kinds}{{{prefix}{base}}}"


def _scan_pattern(prefix: str) -> str:
    """A ``SCAN MATCH`` pattern that matches exactly the keys under ``prefix``.

    A valid prefix holds no glob characters; they are escaped here all the same, so
    that a pattern can never match more than its prefix says.
    """
    escaped = "".join("\\" + ch if ch in _GLOB_CHARACTERS else ch for ch in prefix)
    return escaped + "*"
