"""Every check of an argument, in one place, with one style of message.

Bad input gets a clear, specific error that names the argument, says what it must
be, and shows what it got -- before anything is read, written or loaded::

    ValueError: ttl must be a number of seconds > 0 and <= 31,536,000, got -5

Two kinds of error, as in the rest of Python: a ``TypeError`` when the value is of
the wrong kind (a string where a number belongs), a ``ValueError`` when it is of the
right kind but out of range (a negative TTL). A ``bool`` is never taken for a number,
although Python lets ``True`` stand for 1: ``shop.product(True)`` is a mistake.

>>> validate_whole_number(3, "quantity")
3
>>> validate_ttl(None) is None
True
>>> validate_ttl(float("nan"))
Traceback (most recent call last):
...
ValueError: ttl must be a finite number of seconds > 0 and <= 31,536,000, got nan
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Collection, Optional

__all__ = [
    "MAX_TTL_S",
    "SQLITE_MAX_INTEGER",
    "validate_whole_number",
    "validate_number",
    "validate_ttl",
    "validate_choice",
    "validate_id",
]

MAX_TTL_S = 365 * 86_400
"""The longest TTL either cache accepts: one year. Data that must outlive that should not expire at
all (pass ``ttl=None``). Redis itself refuses expiry times past about 292 million years, with an
error that names no argument; this bound is far below that, and the same for ``MemoryCache``."""

SQLITE_MAX_INTEGER = 2**63 - 1
"""The largest whole number SQLite stores; anything bigger raises ``OverflowError`` inside sqlite3.
"""


def _is_whole_number(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def validate_whole_number(
    value: Any, name: str, minimum: int = 1, maximum: int = SQLITE_MAX_INTEGER
) -> int:
    """Return ``value`` as an ``int`` if it is a whole number in ``[minimum, maximum]``, else raise.

    A float is refused even when it is whole (``2.0``): a count or an id that arrives
    as a float has usually been computed wrongly somewhere.

    >>> validate_whole_number(2.5, "quantity")
    Traceback (most recent call last):
    ...
    TypeError: quantity must be a whole number >= 1, got float 2.5
    """
    if not _is_whole_number(value):
        raise TypeError(
            f"{name} must be a whole number {_range(minimum, maximum)}, "
            f"got {type(value).__name__} {_shown(value)}"
        )
    if not minimum <= value <= maximum:
        raise ValueError(
            f"{name} must be a whole number {_range(minimum, maximum)}, got {_shown(value)}"
        )
    return int(value)


def validate_number(
    value: Any,
    name: str,
    *,
    minimum: Optional[float] = None,
    above: Optional[float] = None,
    maximum: Optional[float] = None,
    unit: str = "",
) -> float:
    """Return ``value`` as a ``float`` if it is a finite number within the bounds, else raise.

    ``minimum`` is an inclusive lower bound (``>=``), ``above`` an exclusive one (``>``),
    ``maximum`` an inclusive upper bound. ``unit`` ("seconds", "reads per second") is
    named in the message. NaN and infinity are always refused: no rate or time is NaN.

    >>> validate_number(-1, "read_rate", minimum=0, unit="reads per second")
    Traceback (most recent call last):
    ...
    ValueError: read_rate must be a finite number of reads per second >= 0, got -1
    """
    what = f"a finite number{' of ' + unit if unit else ''}"
    bounds = " and ".join(
        part
        for part in (
            f">= {minimum:,.10g}" if minimum is not None else "",
            f"> {above:,.10g}" if above is not None else "",
            f"<= {maximum:,.10g}" if maximum is not None else "",
        )
        if part
    )
    expected = f"{what} {bounds}".rstrip()
    if not _is_real_number(value):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int too big for a float, such as 10**400
        raise ValueError(
            f"{name} must be {expected}, got a number of {len(str(value))} digits"
        ) from None
    if (
        not math.isfinite(number)
        or (minimum is not None and number < minimum)
        or (above is not None and number <= above)
        or (maximum is not None and number > maximum)
    ):
        raise ValueError(f"{name} must be {expected}, got {_shown(value)}")
    return number


def validate_ttl(ttl: Any, name: str = "ttl") -> Optional[float]:
    """Return ``ttl`` if it is ``None`` (never expires) or a finite number of seconds in (0,
    ``MAX_TTL_S``].

    The one rule for every TTL in the course: both caches, every strategy, the simulation.

    >>> validate_ttl(60)
    60
    """
    if ttl is None:
        return None
    validate_number(ttl, name, above=0, maximum=MAX_TTL_S, unit="seconds")
    return ttl


def validate_choice(value: Any, name: str, choices: Collection[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` that lists them.

    >>> validate_choice("lru", "strategy", ("ttl", "delete_on_write"))
    Traceback (most recent call last):
    ...
    ValueError: strategy must be one of 'ttl', 'delete_on_write', got 'lru'
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}, got {_shown(value)}"
        )
    return value


def validate_id(value: Any, name: str = "product_id") -> int:
    """Return ``value`` if it is a product id: a whole number >= 1 (not a bool, a float or a
    string).

    The shop and the cache keys share this rule, so ``keys.product(1.9)`` cannot name
    product 1 while ``shop.product(1.9)`` refuses it.

    >>> validate_id("1")
    Traceback (most recent call last):
    ...
    TypeError: product_id must be a whole number >= 1, got str '1'
    """
    return validate_whole_number(value, name, minimum=1)


_SHOWN_CHARS = 120
"""At most this much of a refused value's ``repr`` goes into an error message."""


def _shown(value: Any) -> str:
    """``repr(value)``, cut to ``_SHOWN_CHARS`` with its full length said: a 4 KB list posted as a
    price should not come back whole in the error."""
    text = repr(value)
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{text[: _SHOWN_CHARS - 20]}... ({len(text):,} characters)"


def _range(minimum: int, maximum: int) -> str:
    if maximum == SQLITE_MAX_INTEGER:
        return f">= {minimum}"
    return f"between {minimum} and {maximum}"
