"""Self-checks for the exercises: they test what your code *does*, and say which property failed.

Every exercise in the lessons ends with a check cell such as::

    checks.run(check_cache_contract, MyCache)

``run`` calls the check on your answer and prints one of three things:

- ✅ and what was verified, when every property holds;
- ❌ and the first property that failed, with the next hint, raising ``CheckFailed``
  (so "Run all" stops at the exercise that needs work);
- ⏳ "not attempted yet" when your answer still raises ``NotImplementedError``.

A check is a plain function that takes your answer and raises ``CheckFailed``
(with a message naming the property) when a property does not hold. Checks for
one idea live together: ``checks.caching`` (lessons 03–04), and more as the course
grows. The instructor's reference solutions are in ``lessons/solutions/``; the
test suite runs every check against them, and against wrong answers, so a check
can neither reject a right answer nor accept a known wrong one.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence


class CheckFailed(AssertionError):
    """A property of the exercise does not hold. The message says which, and what was seen."""


def expect(condition: bool, property_: str, seen: Any = None) -> None:
    """Raise ``CheckFailed`` naming ``property_`` (and what was ``seen``) unless ``condition`` holds."""
    if not condition:
        detail = f" (got {seen!r})" if seen is not None else ""
        raise CheckFailed(f"{property_}{detail}")


def run(check: Callable[..., str], *answer: Any, hints: Sequence[str] = ()) -> None:
    """Run ``check(*answer)`` and print the verdict; see the module docstring.

    It prints rather than returns, so a check cell shows just the verdict. A failed
    check prints the next hint (one more each time it fails) and raises ``CheckFailed``.
    """
    name = getattr(check, "__name__", "check").removeprefix("check_").replace("_", " ")
    try:
        verified = check(*answer)
    except NotImplementedError:
        print(f"⏳ {name}: not attempted yet -- replace the `raise NotImplementedError` with your code.")
        return
    except CheckFailed as failure:
        hint = _next_hint(check, hints)
        message = f"❌ {name}: {failure}"
        if hint:
            message += f"\n   hint: {hint}"
        print(message)
        raise
    print(f"✅ {name}: {verified or 'all properties hold'}")


_hints_shown: dict[str, int] = {}


def _next_hint(check: Callable, hints: Sequence[str]) -> str:
    """Graded hints: each failure of the same check shows the next, more specific, hint."""
    if not hints:
        return ""
    name = getattr(check, "__qualname__", repr(check))
    shown = _hints_shown.get(name, 0)
    _hints_shown[name] = shown + 1
    return hints[min(shown, len(hints) - 1)]
