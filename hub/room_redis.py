"""The room's Redis locked down with ACL users: ``default`` off, one per learner, an instructor.

A room shares one Redis. Without ACL users anyone who reaches it can read and overwrite every
learner's keys, ``FLUSHALL`` it or ``CONFIG SET dir`` it. ``RoomRedis.lock_down`` makes three
ACL users and then switches ``default`` off, so a connection without a name and a password can
do nothing (``NOAUTH``):

- a private admin user for the hub itself (named ``_cachelab_hub``, which no learner name can
  be: a learner name starts with a letter or digit), with every right;
- ``instructor``: the keys and channels under ``cachelab:`` only, for
  ``python -m cachelab.environment.reset --all-learners``;
- one user per learner, made by ``learner_url``: the keys and channels under
  ``cachelab:<learner>:`` only (``ada``'s pattern ``cachelab:ada:*`` cannot match ``ada2``'s keys:
  a learner name holds no ``:``).

Learners and the instructor get ``+@all -@dangerous`` and lose, besides, the few commands that
act on the whole server without naming a key: ``SCRIPT FLUSH`` and ``SCRIPT KILL`` (they would
empty everyone's script cache or stop someone's script) and ``FUNCTION`` (functions are one
library for the whole server). ``@dangerous`` already holds ``FLUSHALL``, ``FLUSHDB``, ``KEYS``,
``CONFIG``, ``INFO``, ``ACL`` (except ``ACL WHOAMI``), ``CLIENT LIST``/``KILL``, ``MONITOR``,
``DEBUG``, ``SHUTDOWN``, ``SLOWLOG``, ``SWAPDB``, ``MIGRATE`` and ``RESTORE``.

What a learner can still see of others (checked on Valkey 9, ``tests/test_room_acl.py``): the
*names* of every key on the server through ``SCAN`` and ``RANDOMKEY``, and how many there are
through ``DBSIZE``; with ``CLIENT TRACKING ON BCAST`` and no prefix, the names of keys as others
change them (checked by hand); the server's memory totals (``MEMORY STATS``) and the names of
channels someone listens on (``PUBSUB CHANNELS``). Redis checks key patterns against the keys a
command names, and these commands name none: ``SCAN``'s ``MATCH`` is a filter on the answer, not
a key. Every command that reads, writes, deletes or expires another learner's key -- ``EVAL``
scripts included, even when the key is built inside the script -- gets ``NOPERM``; so does
``PUBLISH`` to another learner's channel, and to ``__redis__:invalidate``, where lesson 11's near
cache listens (a learner may only subscribe there: see ``_INVALIDATE_CHANNEL``). Key names in
this course are product ids and lesson names, not secrets. A learner can still fill the server's
memory with keys of their own, up to its ``maxmemory`` (``ROOM_MAXMEMORY_BYTES``, 512 MiB, as on
Kubernetes), past which writes fail with ``OOM`` (until keys expire or are deleted) and nothing
of anyone's is evicted (``noeviction``): the course's caches fail open, and the room's machine
keeps its memory.

Passwords are derived, not stored: HMAC-SHA256 of the user's name under the hub's ``secret``, so
a restarted hub gives every learner the same URL again. They travel only over the connection
(``ACL SETUSER``), never on a command line, which every user of the machine can read in
``/proc/*/cmdline``.

A private server on a unix socket (``PrivateRedisServer``) makes its socket and folder reachable
by its own user only. Once ``default`` is off, ``lock_down`` opens them to every local user (the
folder to traverse, not to list): from then on the ACL is the lock, and learners who run as Unix
users of their own can connect.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import redis

from cachelab.environment.redis_server import _url_from_options, connect
from cachelab.keys import _COURSE_PREFIX, _validate_learner_name

_ADMIN_USER = "_cachelab_hub"
"""The hub's own ACL user. A learner name starts with a letter or digit, so none can be this."""

_INSTRUCTOR_USER = "instructor"

_RESERVED_NAMES = (_ADMIN_USER, _INSTRUCTOR_USER, "default")
"""ACL user names that are not a learner's: a learner called ``default`` would switch the
password-less user back on, one called ``instructor`` would get a learner's rights in its place."""

_SERVER_WIDE_COMMANDS = ("-script|flush", "-script|kill", "-function")
"""Commands outside ``@dangerous`` that act on every user's things at once (see the docstring)."""

_INVALIDATE_CHANNEL = "__redis__:invalidate"
"""Where RESP2 clients hear ``CLIENT TRACKING`` invalidations (``REDIRECT``, lesson 11). The
server writes each one only to the client that asked for it. A learner may ``SUBSCRIBE`` there
and nothing else (an ACL selector): a ``PUBLISH`` there would reach every learner's near cache."""

_MIN_SECRET_BYTES = 16
ROOM_MAXMEMORY_BYTES = 512 * 2**20
"""The room's Redis memory: far above what a room's lessons store, far below the machine's."""


def _rights(prefix: str) -> list[str]:
    """The ``ACL SETUSER`` rules of a user confined to ``prefix``: its keys and channels, every
    command but the dangerous and server-wide ones. ``reset`` first: no earlier rule survives.
    """
    return [
        "reset",
        "on",
        f"~{prefix}*",
        f"&{prefix}*",
        f"(+subscribe &{_INVALIDATE_CHANNEL})",  # a selector: this channel, for SUBSCRIBE only
        "+@all",
        "-@dangerous",
        *_SERVER_WIDE_COMMANDS,
    ]


class RoomRedis:
    """The room's Redis locked down with ACL users: default off, one user per learner, an
    instructor.

    ``lock_down`` makes it from the server's own (``default`` user's) URL; ``learner_url`` gives
    each learner a URL of their own, ``instructor_url`` is the instructor's.
    """

    instructor_url: str
    """URL (with user and password) of the ``instructor`` ACL user: all of ``cachelab:*``,
    ``-@dangerous``, for ``reset --all-learners``."""

    def __init__(self, admin: redis.Redis, location: dict, secret: bytes) -> None:
        """Use ``lock_down``: this only keeps what it made (a client of the hub's admin user, the
        server's location as redis-py's connection options, the secret)."""
        self._admin = admin
        self._admin_url = _url_as(location, secret, _ADMIN_USER)  # the hub's own, for its tests
        self._location = location
        self._secret = secret
        self.instructor_url = _url_as(location, secret, _INSTRUCTOR_USER)

    @classmethod
    def lock_down(
        cls, admin_url: str, secret: bytes, maxmemory_bytes: int = ROOM_MAXMEMORY_BYTES
    ) -> "RoomRedis":
        """Create the hub's admin user and the ``instructor``, THEN switch ``default`` off; return
        the room.

        ``admin_url`` is the server's own URL as ``PrivateRedisServer.url`` gives it (the
        ``default`` user, no password); ``secret`` (at least 16 bytes) is the hub's, from which
        every password is derived. The order matters: ``default`` goes off only once the hub
        can get in as its own admin user. The server gets ``maxmemory_bytes`` with
        ``noeviction``: a learner who fills it stops everyone's writes, never evicts their keys.
        """
        if not isinstance(secret, bytes) or len(secret) < _MIN_SECRET_BYTES:
            got = f"{len(secret)} bytes" if isinstance(secret, bytes) else type(secret).__name__
            raise ValueError(
                f"the room's secret must be at least {_MIN_SECRET_BYTES} bytes "
                f"(secrets.token_bytes(32)), got {got}"
            )
        location = _location_of(admin_url)
        server = connect(admin_url)
        server.execute_command(
            "ACL", "SETUSER", _ADMIN_USER, "reset", "on", f">{_password(secret, _ADMIN_USER)}",
            "~*", "&*", "+@all",
        )  # fmt: skip
        admin = connect(_url_as(location, secret, _ADMIN_USER))
        admin.execute_command(
            "ACL", "SETUSER", _INSTRUCTOR_USER, *_rights(_COURSE_PREFIX),
            f">{_password(secret, _INSTRUCTOR_USER)}",
        )  # fmt: skip
        admin.config_set("maxmemory", maxmemory_bytes)
        admin.config_set("maxmemory-policy", "noeviction")
        admin.execute_command("ACL", "SETUSER", "default", "reset")  # off, no password, no rights
        server.close()
        _open_socket_to_local_users(location.get("path"))
        return cls(admin, location, secret)

    def learner_url(self, learner: str) -> str:
        """Make (or remake) ``learner``'s ACL user and return their URL: same server and
        database, ``learner:password@``.

        The user may use the keys and channels under ``cachelab:<learner>:`` and every command
        but the dangerous and server-wide ones. Its password is derived from the hub's secret
        and the name, so the URL is the same after a hub restart. A name the course would not
        accept as a learner's (``keys.learner_prefix``), or an ACL user of the room's own
        (``default``, ``instructor``, the hub's), raises ``ValueError``.
        """
        try:
            _validate_learner_name(learner)
        except (TypeError, ValueError) as error:
            raise ValueError(f"no Redis user for this learner: {error}") from None
        if learner in _RESERVED_NAMES:
            raise ValueError(
                f"no Redis user for a learner called {learner!r}: the room's Redis keeps that "
                f"name for a user of its own ({', '.join(_RESERVED_NAMES)}); choose another name"
            )
        self._admin.execute_command(
            "ACL", "SETUSER", learner, *_rights(f"{_COURSE_PREFIX}{learner}:"),
            f">{_password(self._secret, learner)}",
        )  # fmt: skip
        return _url_as(self._location, self._secret, learner)


def _location_of(url: str) -> dict:
    """Where ``url``'s server is, as redis-py's connection options (its user and password
    dropped), with ``_tls`` saying whether it is a ``rediss://`` URL."""
    pool = redis.ConnectionPool.from_url(url)
    location = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name not in ("username", "password")
    }
    location["_tls"] = issubclass(pool.connection_class, redis.SSLConnection)
    return location


def _password(secret: bytes, user: str) -> str:
    """The password of ACL user ``user``: HMAC-SHA256 of its name under ``secret``, in hex."""
    message = b"cachelab room redis user\0" + user.encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _url_as(location: dict, secret: bytes, user: str) -> str:
    """The URL of ACL user ``user`` on the server at ``location`` (see ``_location_of``)."""
    options = {name: value for name, value in location.items() if name != "_tls"}
    options.update(username=user, password=_password(secret, user))
    return _url_from_options(options, tls=location["_tls"])


def _open_socket_to_local_users(socket_path: str | None) -> None:
    """Let every local user connect to a unix socket this process owns: the socket read-write,
    its folder traversable (not listable). Only after ``default`` is off: the ACL is the lock.
    The server's other files there (its log) stay the owner's alone: a learner knows the folder's
    name from the socket's path in their URL.
    """
    if not socket_path:
        return
    socket = Path(socket_path)
    if not socket.exists() or socket.stat().st_uid != os.geteuid():
        return  # a server someone else runs: its owner decides who may reach it
    folder = socket.parent
    for entry in folder.iterdir():
        if entry != socket and entry.is_file():
            entry.chmod(0o600)
    folder.chmod(stat.S_IMODE(folder.stat().st_mode) | 0o111)
    socket.chmod(0o666)
