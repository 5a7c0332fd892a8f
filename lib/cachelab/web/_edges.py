"""What a request must be before the shop sees it: this machine's host, JSON writes from
this service's own origin, a small body.

The service listens on 127.0.0.1 only, but that is not enough: any page a learner's
browser shows may send requests to 127.0.0.1 as well. A ``text/plain`` POST is one
a browser sends to another site without asking it first (a CORS "simple request"),
so a write must be ``application/json``, which a browser sends cross-site only after
a preflight this service never answers; a write whose ``Origin`` is another site's
is refused outright; and a ``Host`` that is not a name of this machine (a foreign
name that resolves to 127.0.0.1: DNS rebinding) is refused by Starlette's
``TrustedHostMiddleware``. Bodies are read up to ``MAX_BODY_BYTES``, never further.

>>> MAX_BODY_BYTES, LOCAL_HOSTS
(4096, ('localhost', '127.0.0.1', '[::1]'))
"""

from __future__ import annotations

import ipaddress

from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request

__all__ = [
    "MAX_BODY_BYTES",
    "LOCAL_HOSTS",
    "TooLarge",
    "NotJson",
    "ForeignOrigin",
    "trusted_hosts",
    "check_write_origin",
    "read_body",
]

MAX_BODY_BYTES = 4_096
"""The largest request body the service reads; a price or a quantity needs a few dozen bytes."""

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
"""The ``Host`` names every service answers to: this machine's. Not Starlette's test client's
``testserver``: no test uses the TestClient, and any name is one a DNS server can point here."""


class TooLarge(Exception):
    """The request's body is larger than ``MAX_BODY_BYTES``: 413, and it is not read further."""


class NotJson(Exception):
    """A write not sent as ``application/json``: 415."""


class ForeignOrigin(Exception):
    """A write sent by a page of another site (its ``Origin``): 403."""


def trusted_hosts(listening_on: str) -> Middleware:
    """Starlette's ``TrustedHostMiddleware`` for ``LOCAL_HOSTS`` and the address the service
    listens on (an IPv6 address as a ``Host`` header spells it, in brackets).
    """
    host = listening_on
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:  # a name, such as localhost
        pass
    return Middleware(TrustedHostMiddleware, allowed_hosts=sorted({*LOCAL_HOSTS, host}))


def check_write_origin(request: Request) -> None:
    """A write must come from this service's own origin if it names one (``Origin``, which
    browsers send), else ``ForeignOrigin``; and be JSON (``Content-Type``), else ``NotJson``.
    """
    origin = request.headers.get("origin")
    own = f"http://{request.headers.get('host', '')}"
    if origin is not None and origin.lower() != own.lower():
        raise ForeignOrigin(
            f"a write must come from this service's own pages, not from {origin[:80]!r}"
        )
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise NotJson(f"a write must be sent as application/json, got {media_type[:60]!r}")


async def read_body(request: Request) -> bytes:
    """The request's body, at most ``MAX_BODY_BYTES``: ``TooLarge`` from its declared length,
    before anything is read, or as soon as a chunked body goes past it.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLarge(f"the body may have at most {MAX_BODY_BYTES:,} bytes, got {int(declared):,}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge(f"the body may have at most {MAX_BODY_BYTES:,} bytes")
    return bytes(body)
