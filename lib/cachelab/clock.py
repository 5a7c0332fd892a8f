"""A fake clock, so that lessons and tests can move time forward by hand.

Caches in this course never call ``time.monotonic()`` themselves: they call the
``clock`` they were given. Give them a ``FakeClock`` and a TTL of 60 seconds
passes the moment you call ``clock.advance(60)`` -- no ``sleep``, no flaky timing.
"""

import math

__all__ = ["FakeClock"]


class FakeClock:
    """A clock that stands still until you advance it.

    Call it like ``time.monotonic``: ``clock()`` returns the current time in seconds.

    >>> clock = FakeClock()
    >>> clock()
    0.0
    >>> clock.advance(2.5)
    2.5
    >>> clock()
    2.5
    """

    def __init__(self, start: float = 0.0) -> None:
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite number of seconds, got {start!r}")
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` and return the new time.

        Time never runs backwards, so a negative step is an error.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self.now += seconds
        return self.now

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now})"
