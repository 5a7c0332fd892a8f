"""The checks of lesson 12 accept the reference solutions and reject plausible wrong answers.

Each wrong answer is a function named after its mistake, in a table with the hint topic and the
words the check's message must hold; the table's ids are those names.
"""

from __future__ import annotations

import math

import pytest
from support import assert_fails, load_solutions, wrong_answers

from cachelab.checks.hot_keys_cluster import (
    check_copies_needed,
    check_lock_key_for,
    check_slot_of,
)


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("12_hot_keys_cluster")


# --- exercise 1: the slot of a key -------------------------------------------------


def test_check_slot_of_accepts_the_reference_solution(solutions):
    assert "CRC16" in check_slot_of(solutions.slot_of)


def _crc(key):
    return load_solutions("12_hot_keys_cluster").crc16(key.encode())


def forgets_the_modulo(key):
    return _crc(key)


def ignores_hash_tags(key):
    return _crc(key) % 16384


def hashes_an_empty_tag(key):
    start = key.find("{")
    end = key.find("}", start + 1)
    return _crc(key[start + 1 : end] if start >= 0 and end > start else key) % 16384


def takes_the_last_brace(key):
    start, end = key.find("{"), key.rfind("}")
    return _crc(key[start + 1 : end] if 0 <= start < end - 1 else key) % 16384


def uses_modulo_16383(key):
    return _crc(key) % 16383


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (forgets_the_modulo, "modulo", "0-16383"),
        (ignores_hash_tags, "tag", "user1000"),
        (hashes_an_empty_tag, "tag", "empty first tag"),
        (takes_the_last_brace, "tag", "first } after it"),
        (uses_modulo_16383, "crc", "whole key"),
    ),
)
def test_check_slot_of_rejects(answer, topic, match):
    assert_fails(check_slot_of, answer, topic=topic, match=match)


# --- exercise 2: a lock beside its value --------------------------------------------


def test_check_lock_key_for_accepts_the_reference_solution(solutions):
    assert "value's slot" in check_lock_key_for(solutions.lock_key_for)


def appends_without_a_tag(value_key):
    return value_key + ":lock"


def puts_the_lock_first(value_key):
    return "lock:{" + value_key + "}"


def returns_the_value_key(value_key):
    return value_key


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (appends_without_a_tag, "slot", "hashes to the value's slot"),
        (puts_the_lock_first, "prefix", "starts with it"),
        (returns_the_value_key, "distinct", "other than"),
    ),
)
def test_check_lock_key_for_rejects(answer, topic, match):
    assert_fails(check_lock_key_for, answer, topic=topic, match=match)


# --- exercise 3: copies of a hot key ------------------------------------------------


def test_check_copies_needed_accepts_the_reference_solution(solutions):
    assert "ceil(hot / (budget - other))" in check_copies_needed(solutions.copies_needed)


def forgets_the_other_reads(hot, other, budget, nodes):
    return max(1, math.ceil(hot / budget))


def rounds_to_nearest(hot, other, budget, nodes):
    if budget <= other or hot < 0:
        raise ValueError("impossible")
    copies = max(1, round(hot / (budget - other)))
    if copies > nodes:
        raise ValueError("too many")
    return copies


def allows_zero_copies(hot, other, budget, nodes):
    if budget <= other or hot < 0:
        raise ValueError("impossible")
    copies = math.ceil(hot / (budget - other))
    if copies > nodes:
        raise ValueError("too many")
    return copies


def never_refuses(hot, other, budget, nodes):
    return max(1, math.ceil(hot / max(budget - other, 1)))


@pytest.mark.parametrize(
    "answer, topic, match",
    wrong_answers(
        (forgets_the_other_reads, "headroom", "10,000 left per node"),
        (rounds_to_nearest, "ceil", "round up"),
        (allows_zero_copies, "minimum", "1 copy|one copy"),
        (never_refuses, "refuse", "impossible"),
    ),
)
def test_check_copies_needed_rejects(answer, topic, match):
    assert_fails(check_copies_needed, answer, topic=topic, match=match)
