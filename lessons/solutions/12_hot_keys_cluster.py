"""Reference solutions for lesson 12 · Hot keys and a real cluster.

For instructors. Each function answers one exercise; the test suite runs the
lesson's checks against them.
"""

from __future__ import annotations

import math


def crc16(data: bytes) -> int:
    """CRC16-CCITT, XMODEM flavour (polynomial 0x1021, initial value 0), as in the lesson."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def _hash_tag(key: str) -> str | None:
    """What is between the first ``{`` and the first ``}`` after it, when that is not empty."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return None


def slot_of(key: str) -> int:
    """Exercise 1: the hash slot of ``key``, CRC16 of its hash tag (or of all of it) mod 16384.

    Only the first ``{`` counts, and the first ``}`` after it; an empty tag (``{}``) is no tag,
    and the whole key is hashed.
    """
    tag = _hash_tag(key)
    return crc16((key if tag is None else tag).encode()) % 16384


def lock_key_for(value_key: str) -> str:
    """Exercise 2: a lock key that starts with ``value_key`` and lands in its slot.

    A key that already has a hash tag keeps it: its first tag decides its slot, and anything
    added after it is not hashed. Otherwise the lock carries the whole value key as its tag,
    as the course's ``keys`` module names its locks.
    """
    if _hash_tag(value_key) is not None:
        return value_key + ":lock"
    return value_key + ":lock:{" + value_key + "}"


def copies_needed(
    hot_reads_per_s: float, other_reads_per_s: float, node_budget_per_s: float, nodes: int
) -> int:
    """Exercise 3: the fewest copies of a hot key, one per node, that keep each node in budget.

    Each copy gets ``hot / copies`` reads per second, on top of the node's other reads, so
    ``other + hot / copies <= budget``: ``copies >= hot / (budget - other)``, rounded up, one
    at least. Impossible when a node has no headroom left or when more copies than nodes are
    needed.
    """
    if min(hot_reads_per_s, other_reads_per_s, node_budget_per_s) < 0:
        raise ValueError("read rates and budgets must be >= 0")
    headroom = node_budget_per_s - other_reads_per_s
    if headroom <= 0:
        raise ValueError(
            f"each node's other reads ({other_reads_per_s}/s) already fill its budget "
            f"({node_budget_per_s}/s)"
        )
    copies = max(1, math.ceil(hot_reads_per_s / headroom))
    if copies > nodes:
        raise ValueError(f"{copies} copies are needed, but there are only {nodes} nodes")
    return copies
