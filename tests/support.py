"""Helpers that several test modules import (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SOLUTIONS_DIR = Path(__file__).resolve().parents[1] / "lessons" / "solutions"


def load_solutions(lesson: str) -> ModuleType:
    """The instructor's reference solutions of one lesson: ``load_solutions("03_memory_cache")``.

    The files are named like the lessons (``03_memory_cache.py``), which Python cannot
    ``import`` by name, so they are loaded from their path.
    """
    path = SOLUTIONS_DIR / f"{lesson}.py"
    spec = importlib.util.spec_from_file_location(f"solutions_{lesson}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def failure_of(check, *answer):
    """Run ``check(*answer)`` and return its ``CheckFailed``; fail the test if the check passed."""
    import pytest

    from cachelab.checks import CheckFailed

    with pytest.raises(CheckFailed) as failed:
        check(*answer)
    return failed.value


def assert_fails(check, answer, *, topic: str, match: str) -> None:
    """``check(answer)`` fails on the property matching ``match``, whose hints are those of
    ``topic``.
    """
    import re

    failure = failure_of(check, answer)
    assert re.search(match, str(failure)), f"failed on another property: {failure}"
    assert failure.topic == topic, (
        f"the hint topic is {failure.topic!r}, not {topic!r}, for: {failure}"
    )
