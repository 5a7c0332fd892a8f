"""Checks for lesson 12's exercises: hash slots, hash tags, and copies of a hot key.

- ``check_slot_of`` (12.1): your ``slot_of(key)`` gives a key's Redis Cluster hash slot, hash
  tags included, as redis-py's own ``key_slot`` does.
- ``check_lock_key_for`` (12.2): your ``lock_key_for(value_key)`` names a lock that starts with
  its value's key, differs from it, and lands in the same slot.
- ``check_copies_needed`` (12.3): your ``copies_needed(hot, other, budget, nodes)`` gives the
  fewest copies of a hot key that keep every node within its read budget.

The lesson runs them by id (``checks.run("12.1", slot_of)``), so none is imported by name.
"""

from __future__ import annotations

import math
from typing import Callable

from redis.crc import key_slot

from cachelab.checks import _call, _expect, _shown
from cachelab.checks.under_load import _refuses  # a refusal is checked as lesson 10's are

__all__: list[str] = []

_PLAIN_KEYS = ["foo", "cachelab:ada:trending:days=7:limit=10", "product:42", "", "ü:unicode"]
"""Keys without a hash tag: the whole key is hashed."""

_TAGGED_KEYS = [
    ("{user1000}.following", "the tag {user1000} alone is hashed"),
    ("cachelab:ada:lock:{cachelab:ada:product:7}", "a tag in the middle of the key counts"),
    ("foo{{bar}}zap", "the tag runs from the first { to the first } after it: '{bar'"),
    ("foo{}{bar}", "an empty first tag {} means no tag: the whole key is hashed"),
    ("foo{bar}{zap}", "only the first tag counts: 'bar'"),
    ("foo{bar", "a { without a } after it is no tag: the whole key"),
    ("foo}bar{", "a } before the { is no tag: the whole key"),
]
"""Keys whose slot depends on the hash tag rule, with what each one tests (the first five are
the Redis Cluster specification's own examples)."""


def _slot(key: str) -> int:
    return key_slot(key.encode())


# --------------------------------------------------------------------------- 12.1


def check_slot_of(slot_of: Callable[[str], int]) -> str:
    """``slot_of(key)``: CRC16 of the key, or of its first non-empty hash tag, mod 16,384."""
    for key in _PLAIN_KEYS:
        prop = f"the slot of {key!r} is CRC16 of the whole key mod 16384 ({_slot(key)})"
        got = _call(slot_of, key, property_=prop, topic="crc")
        _expect(isinstance(got, int) and 0 <= got < 16384, prop + " -- a number 0-16383", got,
                topic="modulo")  # fmt: skip
        _expect(got == _slot(key), prop, got, topic="crc")
    for key, why in _TAGGED_KEYS:
        prop = f"the slot of {key!r} is {_slot(key)}: {why}"
        got = _call(slot_of, key, property_=prop, topic="tag")
        _expect(got == _slot(key), prop, got, topic="tag")
    return "CRC16 (XMODEM) mod 16384, of the first non-empty hash tag when there is one"


# --------------------------------------------------------------------------- 12.2


def check_lock_key_for(lock_key_for: Callable[[str], str]) -> str:
    """``lock_key_for(value_key)``: another key, starting with the value's, in the same slot."""
    values = [
        "cachelab:ada:product:7",
        "cachelab:ada:trending:days=7:limit=10",
        "cachelab:ada:{cart}:42",
    ]
    for value_key in values:
        prop = f"the lock of {value_key!r} is a string other than the value's key"
        lock = _call(lock_key_for, value_key, property_=prop, topic="distinct")
        _expect(isinstance(lock, str) and lock != value_key, prop, lock, topic="distinct")
        prop = f"the lock of {value_key!r} starts with it (it stays under the learner's prefix)"
        _expect(lock.startswith(value_key), prop, lock, topic="prefix")
        prop = (
            f"the lock of {value_key!r} hashes to the value's slot {_slot(value_key)} "
            f"(got {_shown(lock)}, slot {_slot(lock)})"
        )
        _expect(_slot(lock) == _slot(value_key), prop, topic="slot")
    locks = {
        _call(lock_key_for, v, property_="one lock per value", topic="distinct") for v in values
    }
    _expect(len(locks) == len(values), "two values get two different locks", locks,
            topic="distinct")  # fmt: skip
    return "a different key, starting with the value's, in the value's slot (tags respected)"


# --------------------------------------------------------------------------- 12.3


def _copies(hot: float, other: float, budget: float, nodes: int) -> int:
    return max(1, math.ceil(hot / (budget - other)))


def check_copies_needed(copies_needed: Callable[..., int]) -> str:
    """``copies_needed(hot, other, budget, nodes)`` = ceil(hot / (budget - other)), at least 1."""
    cases = [  # (args, property, topic)
        ((30_000, 10_000, 20_000, 6), "30,000/s hot, 10,000 other, budget 20,000: 10,000 left per "
         "node, so 3 copies", "headroom"),
        ((25_000, 10_000, 20_000, 6), "25,000/s over 10,000 left per node: 2.5 -> 3 (round up)",
         "ceil"),
        ((5_000, 10_000, 20_000, 6), "a hot key that fits one node's headroom needs 1 copy",
         "minimum"),
        ((0, 10_000, 20_000, 3), "no hot reads: still the one copy that holds the value",
         "minimum"),
        ((60_000, 0, 20_000, 3), "60,000/s with nothing else and 20,000 per node: exactly 3, "
         "the node count", "headroom"),
    ]  # fmt: skip
    for args, prop, topic in cases:
        want = _copies(*args)
        got = _call(copies_needed, *args, property_=prop, topic=topic)
        _expect(isinstance(got, int) and not isinstance(got, bool), prop + " (a whole number)",
                got, topic="ceil")  # fmt: skip
        _expect(got == want, f"{prop} ({want})", got, topic=topic)
    for args, why in (
        ((70_000, 0, 20_000, 3), "4 copies would be needed on 3 nodes"),
        ((1_000, 20_000, 20_000, 6), "the other reads already fill each node's budget"),
        ((-1, 10_000, 20_000, 6), "a negative rate"),
    ):
        _refuses(copies_needed, args, f"impossible: {why}, so ValueError {args}", "refuse")
    return "ceil(hot / (budget - other)), at least 1; more copies than nodes, no headroom refused"


_EXERCISES = {
    "12.1": check_slot_of,
    "12.2": check_lock_key_for,
    "12.3": check_copies_needed,
}

_HINTS = {
    "12.1": {
        "crc": (
            "Hash the key's bytes (key.encode()) with your crc16 from the lesson, then take the "
            "remainder of a division by 16384.",
            "crc16(key.encode()) % 16384 is the slot of a key without braces; the empty key's "
            "slot is 0.",
        ),
        "modulo": (
            "A slot is a number from 0 to 16383, and a CRC16 can be up to 65535.",
            "Take the remainder of the CRC16 divided by 16384 (the % operator), not the CRC16 "
            "as it is.",
        ),
        "tag": (
            "Find the first '{'; then the first '}' after it. Hash what is between them, but only "
            "when there is something between them.",
            "start = key.find('{'); if start >= 0: end = key.find('}', start + 1); if end > start "
            "+ 1: hash key[start + 1:end]. In every other case hash the whole key.",
            "'foo{}{bar}' hashes whole: its first tag is empty, and the rule never looks at a "
            "second one.",
        ),
    },
    "12.2": {
        "distinct": (
            "The lock must be another key than the value, and two values two locks.",
            "Returning the value's key unchanged, or one fixed name for every value, fails: add "
            "something to the value's key.",
        ),
        "prefix": (
            "The lock must start with the whole value key, so that it stays under the same "
            "learner's prefix.",
            "Build the lock by adding to the end of the value's key: value_key + something, "
            "never something + value_key.",
        ),
        "slot": (
            "Add a hash tag holding the whole value key: a key with {value_key} in it hashes "
            "only value_key.",
            "value_key + ':lock:{' + value_key + '}'. A value key that already has a tag keeps "
            "it: the first tag wins, and anything added after it is not hashed.",
        ),
    },
    "12.3": {
        "headroom": (
            "Each node has budget - other reads per second left for the hot key; the copies "
            "share the hot reads evenly.",
            "hot / copies <= budget - other, so copies >= hot / (budget - other).",
        ),
        "ceil": (
            "A number of copies is whole, and 2.5 copies' worth of reads needs 3.",
            "Round up (math.ceil), never to the nearest: round(2.5) leaves a node over budget.",
        ),
        "minimum": (
            "The value must live somewhere, even with no hot reads.",
            "With few or no hot reads the formula gives 0 copies: answer at least 1 (max(1, ...)).",
        ),
        "refuse": (
            "Each copy needs its own node: more copies than nodes is impossible, and so is a "
            "node with no headroom left.",
            "raise ValueError when budget - other <= 0, when a rate is negative, or when the "
            "copies you computed exceed nodes.",
        ),
    },
}
