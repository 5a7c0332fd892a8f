"""Work done between a dashboard's moves: a background thread that never competes with a move.

A slider move has to feel live, so it should find the work it needs already done. After each
move the dashboard names the small jobs its learner's likely next moves need (for lesson 07's
dashboard: simulating the curve of each neighbouring setting, one point per job), and a
``Prefetcher`` runs them in a background thread, one at a time, pausing whenever a move is being
drawn. The jobs keep their results where the next move looks for them; the prefetcher only
counts the jobs that had work to do.

>>> done = []
>>> prefetcher = Prefetcher()
>>> prefetcher.move_started()
>>> prefetcher.move_finished([lambda: done.append("a") is None, lambda: False])
>>> prefetcher.wait(timeout_s=10), done, prefetcher.simulated_points
(True, ['a'], 1)
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, Sequence

PREFETCH_DELAY_S = 0.04
"""How long after a move the prefetcher waits before working: the move's picture goes first."""

Job = Callable[[], bool]
"""One small piece of work (a few milliseconds); it returns whether it had anything to do."""


class Prefetcher:
    """Runs, in a background thread, the jobs the learner's next move is likely to need.

    ``move_finished(jobs)`` replaces what is left to do with ``jobs``, most likely first, and
    starts the thread if it is not running. The thread runs one job at a time and pauses whenever
    a move is being drawn (between ``move_started`` and ``move_finished``), so it never competes
    with a move for more than one job. It stops when nothing is left to do. ``simulated_points``
    counts the jobs that had work to do (the others found their result already kept).
    """

    def __init__(self) -> None:
        self.idle = threading.Event()
        self.idle.set()
        self._lock = threading.Lock()
        self._wanted: list[Job] = []
        self._thread: Optional[threading.Thread] = None
        self._finished_at = 0.0
        self.simulated_points = 0

    def move_started(self) -> None:
        """A move is being drawn: the thread pauses before its next job."""
        self.idle.clear()

    def move_finished(self, jobs: Sequence[Job]) -> None:
        """The move is drawn: do ``jobs`` from now on, instead of what was left."""
        self._finished_at = time.monotonic()
        with self._lock:
            self._wanted = list(jobs)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="cachelab-dashboard-prefetch", daemon=True
                )
                self._thread.start()
        self.idle.set()

    def wait(self, timeout_s: float = 60.0) -> bool:
        """Wait until the thread has nothing left to do; True if it finished."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            return not thread.is_alive()
        return True

    def _run(self) -> None:
        while True:
            self.idle.wait()  # a move is being drawn: let it have the processor
            # ... and the picture it sent be on its way (the kernel's sending thread needs the
            # interpreter too): start a little after the last move, not at once.
            time.sleep(max(0.0, self._finished_at + PREFETCH_DELAY_S - time.monotonic()))
            self.idle.wait()
            with self._lock:
                if not self._wanted:
                    self._thread = None
                    return
                job = self._wanted.pop(0)
            self.simulated_points += job()
