"""Self-checks for the exercises: they test what your code *does*, and say which property failed.

Every exercise in the lessons ends with a check cell such as::

    checks.run(check_cache_contract, TTLCache)

``run`` calls the check on your answer and prints one of three things:

- ✅ and what was verified, when every property holds;
- ❌ and the first property that failed, then stops "Run all" at that cell with one
  short line (no traceback through the checks' insides);
- ⏳ "not attempted yet" when your answer still raises ``NotImplementedError``.

Hints are asked for, never shown in advance. A failed check names its exercise
(``03.1`` is lesson 03, exercise 1); ``checks.hint("03.1")`` then gives a hint about
*the property that failed*, and asking again gives the next, more specific one.
A hint that is not about what went wrong is no help, so fixing one property and
failing another starts that other property's hints from the beginning.

One module per lesson holds its checks and their hints, named like the lesson:
``lessons/03_memory_cache.ipynb`` ↔ ``cachelab/checks/memory_cache.py`` ↔
``lessons/solutions/03_memory_cache.py`` ↔ ``tests/test_checks_memory_cache.py``.
Each module has ``EXERCISES`` (exercise id → check) and ``HINTS`` (exercise id →
topic → hints, vaguest first). A check is a plain function that takes your answer,
raises ``CheckFailed`` naming the property and its hint topic when a property does
not hold, and returns a sentence saying what it verified. The test suite runs every
check against the reference solutions and against known wrong answers, so a check
can neither reject a right answer nor accept a known wrong one.

>>> from cachelab.cache import MemoryCache
>>> from cachelab.checks.memory_cache import check_lru_eviction
>>> run(check_lru_eviction, MemoryCache)   # the library's own cache passes exercise 03.2
✅ 03.2 · lru eviction: never more than max_entries; evicts the least recently used; ...
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

__all__ = [
    "LESSON_MODULES",
    "CheckFailed",
    "ExerciseNotPassed",
    "expect",
    "call",
    "run",
    "hint",
    "reset_hints",
]

LESSON_MODULES = {
    "01": "the_app",
    "02": "repeated_work",
    "03": "memory_cache",
    "04": "redis_cache",
    "05": "stale_reads",
    "06": "invalidation",
    "07": "ttl_tuning",
    "08": "stampedes",
    "09": "capstone",
    "10": "under_load",
}
"""Lesson number → the module of ``cachelab.checks`` that holds its exercises."""


class CheckFailed(AssertionError):
    """A property of the exercise does not hold. The message says which, and what was seen.

    ``topic`` names the hints that help with this property (a key of the module's ``HINTS``).
    """

    def __init__(self, message: str, topic: str) -> None:
        super().__init__(message)
        self.topic = topic


class ExerciseNotPassed(Exception):
    """Raised by ``run`` after it has printed a ❌, to stop "Run all" at the exercise.

    IPython shows an exception that has ``_render_traceback_`` by calling it, so the
    notebook shows this one line instead of a traceback through the checks.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"⛔ {self}"]


def expect(condition: bool, property_: str, seen: Any = None, *, topic: str) -> None:
    """Raise ``CheckFailed`` naming ``property_`` (and what was ``seen``) unless ``condition``
    holds.
    """
    if not condition:
        detail = f" (got {seen!r})" if seen is not None else ""
        raise CheckFailed(f"{property_}{detail}", topic)


def call(answer: Callable[..., Any], *args: Any, property_: str, topic: str) -> Any:
    """Call the learner's ``answer(*args)``; an exception from it fails ``property_``, naming the
    exception.

    The one way checks call your code. ``NotImplementedError`` passes through, so an
    untouched stub reads as "not attempted yet"; a ``CheckFailed`` passes through too.
    """
    try:
        return answer(*args)
    except (CheckFailed, NotImplementedError):
        raise
    except (
        Exception
    ) as error:  # your code raised: that is the property failing, not the check crashing
        raise CheckFailed(
            f"{property_} (your code raised {type(error).__name__}: {error})", topic
        ) from error


# --------------------------------------------------------------------------- running and hints


@dataclass
class _Failure:
    """The last failure of one exercise: what failed, and the hints that belong to it."""

    property_: str
    topic: str
    hints: tuple[str, ...]


_last_failure: dict[
    str, Optional[_Failure]
] = {}  # exercise id -> its last failure (None: it passed)
_hints_given: dict[tuple[str, str], int] = {}  # (exercise id, topic) -> how many hints were shown


def _module_of(exercise: str) -> Any:
    lesson = exercise.split(".", 1)[0]
    if lesson not in LESSON_MODULES:
        raise ValueError(
            f"no exercises in lesson {lesson!r}; exercise ids look like '03.1' (lesson 03, "
            "exercise 1)"
        )
    return importlib.import_module(f"cachelab.checks.{LESSON_MODULES[lesson]}")


def _exercise_of(check: Callable[..., Any]) -> str:
    """The id of the exercise ``check`` grades, from its module's ``EXERCISES``."""
    module = importlib.import_module(check.__module__)
    for exercise, graded_by in getattr(module, "EXERCISES", {}).items():
        if graded_by is check:
            return exercise
    raise ValueError(f"{getattr(check, '__name__', check)!r} is not the check of any exercise")


def _hints_for(exercise: str, topic: str) -> tuple[str, ...]:
    hints: Mapping[str, Any] = getattr(_module_of(exercise), "HINTS", {}).get(exercise, {})
    if topic not in hints:
        raise KeyError(f"exercise {exercise} has no hints on {topic!r} (a bug in cachelab.checks)")
    return tuple(hints[topic])


def run(check: Callable[..., str], *answer: Any) -> None:
    """Run ``check(*answer)`` and print the verdict; see the module docstring.

    It prints rather than returns, so a check cell shows just the verdict. A failed
    check records the property that failed (for ``hint``) and raises ``ExerciseNotPassed``.
    """
    exercise = _exercise_of(check)
    name = check.__name__.removeprefix("check_").replace("_", " ")
    try:
        verified = check(*answer)
    except NotImplementedError:
        print(
            f"⏳ {exercise} · {name}: not attempted yet -- replace the `raise NotImplementedError` "
            "with your code."
        )
        return
    except CheckFailed as failure:
        _last_failure[exercise] = _Failure(
            str(failure), failure.topic, _hints_for(exercise, failure.topic)
        )
        print(
            f"❌ {exercise} · {name}: {failure}\n   stuck? ask for a hint on this: "
            f"checks.hint({exercise!r})"
        )
        raise ExerciseNotPassed(
            f"exercise {exercise} does not pass yet (see the ❌ above)"
        ) from None
    _last_failure[exercise] = None
    print(f"✅ {exercise} · {name}: {verified or 'all properties hold'}")


def hint(exercise: str) -> None:
    """Print the next hint for the property of ``exercise`` that failed last (e.g.
    ``hint("03.1")``).
    """
    if not isinstance(exercise, str):
        raise TypeError(f"exercise is an id such as '03.1', got {exercise!r}")
    module = _module_of(exercise)
    if exercise not in getattr(module, "EXERCISES", {}):
        known = ", ".join(sorted(module.EXERCISES))
        raise ValueError(f"there is no exercise {exercise!r}; this lesson has {known}")
    if exercise not in _last_failure:
        print(
            f"💡 {exercise}: run its check cell first -- a hint belongs to the property that fails."
        )
        return
    failure = _last_failure[exercise]
    if failure is None:
        print(f"✅ {exercise} passes: no hint needed.")
        return
    given = _hints_given.get((exercise, failure.topic), 0)
    level = min(given, len(failure.hints) - 1)
    _hints_given[(exercise, failure.topic)] = level + 1
    print(
        f"💡 {exercise} · hint {level + 1} of {len(failure.hints)} on: {failure.property_}\n   "
        f"{failure.hints[level]}"
    )
    if level + 1 < len(failure.hints):
        print(f"   ask again for a more specific one: checks.hint({exercise!r})")
    else:
        lesson = exercise.split(".")[0]
        print(
            f"   that was the last hint; a reference answer is in lessons/solutions/{lesson}_*.py"
        )


def reset_hints() -> None:
    """Forget every failure and every hint shown (tests start each case from nothing)."""
    _last_failure.clear()
    _hints_given.clear()
