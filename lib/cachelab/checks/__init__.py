"""Self-checks for the exercises: they test what your code *does*, and say which property failed.

Every exercise in the lessons ends with a check cell such as::

    checks.run("03.1", TTLCache)

``run`` calls the exercise's check on your answer (the check itself may be passed instead of
its id, as the tests do) and prints one of four things:

- ✅ and what was verified, when every property holds;
- ❌ and the first property that failed, then stops "Run all" at that cell with one
  short line (no traceback through the checks' insides);
- ⏳ "not attempted yet" when your answer still raises ``NotImplementedError``;
- ⏭️ "cannot be checked here" and why, when the course's Redis cannot be reached
  (``RedisNotFoundError``: say a room's server that went away): like a ❌ it stops "Run all"
  at that cell with one short line, and it is never a pass.

A check runs with a time limit (``_time_limit_s``: generous, many times what the
reference answer takes on a slow machine), so an answer that loops forever gets a ❌
too (see ``cachelab.checks._time_limit`` for how it is stopped). An answer that calls
``sys.exit()`` or raises ``KeyboardInterrupt`` gets a ❌ rather than a traceback, and
what a ❌ shows of a wrong value is cut to a few hundred characters.

Hints are asked for, never shown in advance. A failed check names its exercise
(``03.1`` is lesson 03, exercise 1); ``checks.hint("03.1")`` then gives a hint about
*the property that failed*, and asking again gives the next, more specific one.
A hint that is not about what went wrong is no help, so fixing one property and
failing another starts that other property's hints from the beginning.

One module per lesson holds its checks and their hints, named like the lesson:
``lessons/03_memory_cache.ipynb`` ↔ ``cachelab/checks/memory_cache.py`` ↔
``lessons/solutions/03_memory_cache.py`` ↔ ``tests/test_checks_memory_cache.py``.
Each module has ``_EXERCISES`` (exercise id → check) and ``_HINTS`` (exercise id →
topic → hints, vaguest first). A check is a plain function that takes your answer,
raises ``_CheckFailed`` naming the property and its hint topic when a property does
not hold, and returns a sentence saying what it verified. The test suite runs every
check against the reference solutions and against known wrong answers, so a check
can neither reject a right answer nor accept a known wrong one.

>>> from cachelab.cache import MemoryCache
>>> from cachelab.checks.memory_cache import check_lru_eviction
>>> run(check_lru_eviction, MemoryCache)   # the library's own cache passes exercise 03.2
✅ 03.2 · lru eviction: never more than max_entries; evicts the least recently used; ...
>>> run("03.2", MemoryCache)                 # the same check, named by its exercise
✅ 03.2 · lru eviction: never more than max_entries; evicts the least recently used; ...
"""

from __future__ import annotations

import importlib
import reprlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Union

from cachelab.checks._time_limit import run_within
from cachelab.environment.redis_server import RedisNotFoundError

__all__ = ["run", "hint", "ExerciseNotPassed"]

_LESSON_MODULES = {
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
    "11": "near_cache",
    "12": "hot_keys_cluster",
    "13": "memory_and_eviction",
}
"""Lesson number → the module of ``cachelab.checks`` that holds its exercises."""

_TIME_LIMIT_S = 20.0
"""Seconds a check may take before its answer is called stuck. The reference answers of
most checks take under 0.25 s on a 2-core CI machine: 20 s is 10x that on a machine 4x
slower, with room for a first run that starts Redis or builds the tiny shop. A check
that needs longer says so in its module's ``_TIME_LIMITS_S`` (exercise id -> seconds)."""

_STOP_GRACE_S = 2.0
"""After the limit, how long to wait for a stuck answer to stop before saying it still runs."""

_SHOWN_CHARS = 300
"""At most this much of a value (its ``repr``) or an error message is shown in a ❌."""

_VERDICT_CHARS = 1_000  # and at most this much of a whole ❌, whatever a check put in it

_RUNNER_HINTS = {
    "time-limit": (
        "Your code did not return. Look for a loop whose condition never becomes false, or a "
        "wait (sleep, lock, queue, lease) with no limit on how long or how many times.",
        "Call your function by hand in a cell of its own, on the smallest input, and press "
        "Interrupt (■) after a second: the traceback shows the line it was stuck on.",
    ),
    "exit": (
        "Your code stopped the program instead of returning: sys.exit(), exit() and quit() end "
        "a whole script, and KeyboardInterrupt and SystemExit are not for signalling a result.",
        "Return the value the exercise asks for; to report a bad input, raise an ordinary "
        "exception such as ValueError.",
    ),
}
"""Hints for what the runner itself catches (a time-out, an exit), whatever the exercise."""


class _CheckFailed(AssertionError):
    """A property of the exercise does not hold. The message says which, and what was seen.

    ``topic`` names the hints that help with this property (a key of the module's ``_HINTS``).
    """

    def __init__(self, message: str, topic: str) -> None:
        super().__init__(message)
        self.topic = topic


class ExerciseNotPassed(Exception):
    """Raised by ``run`` after it has printed a ❌ (or a ⏭️), to stop "Run all" at the exercise.

    IPython shows an exception that has ``_render_traceback_`` by calling it, so the
    notebook shows this one line instead of a traceback through the checks.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"⛔ {self}"]


def _cut(text: str, limit: int = _SHOWN_CHARS) -> str:
    """``text``, or its first ``limit`` characters and how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


_repr = reprlib.Repr()
_repr.maxlevel = 6
_repr.maxstring = _repr.maxother = _SHOWN_CHARS
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdeque = 30
_repr.maxdict = 30


def _shown(value: Any) -> str:
    """``repr(value)``, cut to about ``_SHOWN_CHARS`` characters, for a ❌ to show.

    ``reprlib`` shortens long strings and containers without building their whole
    ``repr``; an object whose ``repr`` fails is shown by its type.

    >>> _shown(list(range(1_000)))[-20:]
    '26, 27, 28, 29, ...]'
    >>> len(_shown("x" * 8_000_000)) < 400
    True
    """
    try:
        text = _repr.repr(value)
    except Exception:  # a repr that raises: a bug in the answer, not in the check
        return f"<a {type(value).__name__} whose repr() fails>"
    if isinstance(value, (str, bytes)) and len(value) > _SHOWN_CHARS:
        return f"{text} ({len(value):,} characters)"  # reprlib kept its start and end
    return _cut(text)


def _same(seen: Any, expected: Any) -> bool:
    """Whether ``seen`` equals ``expected`` in type and value, all the way down.

    For values made of JSON's types (dict, list, str, int, float, bool, None). Unlike
    ``==``, it does not ask ``seen`` whether it is equal, so an object whose ``__eq__``
    says yes to everything is not ``same`` as anything; neither is ``1.0`` as ``1``, nor
    ``True`` as ``1``, nor a tuple as a list.

    >>> _same({"ids": [1, 2]}, {"ids": [1, 2]}), _same({"ids": (1, 2)}, {"ids": [1, 2]})
    (True, False)
    """
    if type(seen) is not type(expected):
        return False
    if isinstance(expected, dict):
        return dict.keys(seen) == dict.keys(expected) and all(
            _same(dict.__getitem__(seen, key), value) for key, value in expected.items()
        )
    if isinstance(expected, (list, tuple)):
        return len(seen) == len(expected) and all(map(_same, seen, expected))
    return bool(expected == seen)  # expected's own type (str, int, ...) compares


def _expect(condition: bool, property_: str, seen: Any = None, *, topic: str) -> None:
    """Raise ``_CheckFailed`` naming ``property_`` (and what was ``seen``, cut short) unless
    ``condition`` holds.
    """
    if not condition:
        detail = f" (got {_shown(seen)})" if seen is not None else ""
        raise _CheckFailed(f"{property_}{detail}", topic)


def _call(answer: Callable[..., Any], *args: Any, property_: str, topic: str) -> Any:
    """Call the learner's ``answer(*args)``; an exception from it fails ``property_``, naming the
    exception.

    The one way checks call your code. ``NotImplementedError`` passes through, so an
    untouched stub reads as "not attempted yet"; a ``_CheckFailed`` passes through too.
    """
    try:
        return answer(*args)
    except (_CheckFailed, NotImplementedError):
        raise
    except (
        Exception
    ) as error:  # your code raised: that is the property failing, not the check crashing
        raise _CheckFailed(f"{property_} (your code raised {_raised(error)})", topic) from error


def _raised(error: BaseException) -> str:
    """``"ValueError: the message"``, the message cut short; an unprintable one is left out."""
    try:
        message = str(error)
    except Exception:
        message = ""
    return f"{type(error).__name__}: {_cut(message)}" if message else type(error).__name__


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
    if lesson not in _LESSON_MODULES:
        raise ValueError(
            f"no exercises in lesson {lesson!r}; exercise ids look like '03.1' (lesson 03, "
            "exercise 1)"
        )
    return importlib.import_module(f"cachelab.checks.{_LESSON_MODULES[lesson]}")


def _check_of(exercise: str) -> Callable[..., str]:
    """The check of exercise ``exercise`` (``"03.1"``), from its lesson's ``_EXERCISES``."""
    module = _module_of(exercise)
    if exercise not in getattr(module, "_EXERCISES", {}):
        known = ", ".join(sorted(module._EXERCISES))
        raise ValueError(f"there is no exercise {exercise!r}; this lesson has {known}")
    return module._EXERCISES[exercise]


def _exercise_of(check: Callable[..., Any]) -> str:
    """The id of the exercise ``check`` grades, from its module's ``_EXERCISES``."""
    module = importlib.import_module(check.__module__)
    for exercise, graded_by in getattr(module, "_EXERCISES", {}).items():
        if graded_by is check:
            return exercise
    raise ValueError(f"{getattr(check, '__name__', check)!r} is not the check of any exercise")


def _hints_for(exercise: str, topic: str) -> tuple[str, ...]:
    hints: Mapping[str, Any] = getattr(_module_of(exercise), "_HINTS", {}).get(exercise, {})
    hints = {**_RUNNER_HINTS, **hints}
    if topic not in hints:
        raise KeyError(f"exercise {exercise} has no hints on {topic!r} (a bug in cachelab.checks)")
    return tuple(hints[topic])


def _time_limit_s(check: Callable[..., str]) -> float:
    """The seconds ``check`` may run: its module's ``_TIME_LIMITS_S`` for its exercise, else
    ``_TIME_LIMIT_S``.
    """
    limits = getattr(importlib.import_module(check.__module__), "_TIME_LIMITS_S", {})
    return float(limits.get(_exercise_of(check), _TIME_LIMIT_S))


def run(check: Union[str, Callable[..., str]], *answer: Any) -> None:
    """Run ``check(*answer)`` and print the verdict; see the module docstring.

    ``check`` is an exercise id (``"03.1"``), or the check function itself.

    It prints rather than returns, so a check cell shows just the verdict. A failed
    check records the property that failed (for ``hint``) and raises ``ExerciseNotPassed``.
    The check runs in a thread of its own, for at most ``_time_limit_s(check)`` seconds
    (``cachelab.checks._time_limit``); Ctrl-C while it runs stops it and interrupts the cell.
    An exception that is neither the answer failing a property nor an exit (a bug in a
    check, or an answer's error a check let through) is raised as it was.
    """
    if isinstance(check, str):
        check = _check_of(check)
    exercise = _exercise_of(check)
    name = check.__name__.removeprefix("check_").replace("_", " ")
    limit = _time_limit_s(check)
    outcome = run_within(
        lambda: check(*answer), limit, _STOP_GRACE_S, name=f"cachelab-check-{exercise}"
    )
    error = outcome.error
    if not outcome.finished:
        what = (
            "your code was stopped"
            if outcome.stopped
            else "your code is still running in the background: it catches the exception "
            "that stops it (a bare `except:` or `except BaseException:`), or it waits where "
            "Python cannot stop it; if the notebook slows down, restart the kernel"
        )
        failure = _CheckFailed(f"did not return within {limit:g} s ({what})", "time-limit")
    elif isinstance(error, NotImplementedError):
        print(
            f"⏳ {exercise} · {name}: not attempted yet -- replace the `raise NotImplementedError` "
            "with your code."
        )
        return
    elif isinstance(error, _CheckFailed):
        failure = error
    elif isinstance(error, RedisNotFoundError):
        print(f"⏭️ {exercise} · {name}: cannot be checked here: {str(error).splitlines()[0]}")
        raise ExerciseNotPassed(f"exercise {exercise} was not checked (see the ⏭️ above)") from None
    elif error is not None and not isinstance(error, Exception):
        failure = _CheckFailed(
            f"returns a value: your code raised {_raised(error)}, which stops a program, "
            "not a function",
            "exit",
        )
    elif error is not None:
        raise error
    else:
        _last_failure[exercise] = None
        print(f"✅ {exercise} · {name}: {outcome.value or 'all properties hold'}")
        return
    message = _cut(str(failure), _VERDICT_CHARS)
    _last_failure[exercise] = _Failure(message, failure.topic, _hints_for(exercise, failure.topic))
    print(
        f"❌ {exercise} · {name}: {message}\n   stuck? ask for a hint on this: "
        f"checks.hint({exercise!r})"
    )
    raise ExerciseNotPassed(f"exercise {exercise} does not pass yet (see the ❌ above)") from None


def hint(exercise: str) -> None:
    """Print the next hint for the property of ``exercise`` that failed last (e.g.
    ``hint("03.1")``).
    """
    if not isinstance(exercise, str):
        raise TypeError(f"exercise is an id such as '03.1', got {exercise!r}")
    _check_of(exercise)  # a clear error for an id that names no exercise
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


def _reset_hints() -> None:
    """Forget every failure and every hint shown (tests start each case from nothing)."""
    _last_failure.clear()
    _hints_given.clear()
