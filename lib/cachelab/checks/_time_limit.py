"""Run a check in a thread of its own, and stop waiting for it after a time limit.

An answer that loops forever must get a ❌ like any other wrong answer, and leave
the learner's kernel usable. Python cannot kill a thread, so two ways were weighed:

- a **subprocess** could be killed, but it cannot run these answers: they are
  functions and classes defined in the notebook (pickle sends them by name, and a
  new process does not have them), and the checks look at what the answer did to
  objects in *this* process;
- a **thread**, which is what this module does. The check runs in a daemon thread
  and the kernel waits for it at most ``seconds``. At the limit the thread is asked
  to stop: ``Stopped`` is raised inside it (CPython's ``PyThreadState_SetAsyncExc``).
  It lands at the thread's next Python instruction, so an endless Python loop ends
  at once and the check's ``finally`` clean-ups run. An answer with a bare ``except``
  may catch it, so it is sent again every ``RESEND_S`` for ``grace_s`` seconds. A
  thread blocked inside C (a ``time.sleep(3600)``, a lock or socket read with no
  timeout) gets it only when it wakes, and one that catches every stop (its loop
  inside the ``try``) never ends: either keeps running in the background, and
  ``Outcome.stopped`` says so, so the verdict can tell the learner the truth.
  It is sent only while the thread has not finished (``_Guard``): a thread's id is
  reused once it has ended.

Ctrl-C: Jupyter's "Interrupt" raises ``KeyboardInterrupt`` in the main thread, the
one waiting here. The check is stopped the same way and the ``KeyboardInterrupt``
goes on, so the cell is interrupted as any cell is. A ``KeyboardInterrupt`` that the
*answer* raises happens in the check's thread instead, and is handed back as what
the answer did (``Outcome.error``).
"""

from __future__ import annotations

import contextvars
import ctypes
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

__all__ = ["Outcome", "Stopped", "run_within"]

POLL_S = 0.1
"""The wait is cut into slices this long, so that Ctrl-C lands between them on every OS."""

RESEND_S = 0.05
"""While a stopped thread runs on, ``Stopped`` is sent to it again this often: an answer with a
bare ``except`` (or ``except BaseException``) may swallow the first ones."""


class Stopped(BaseException):
    """Raised inside a check's thread to stop it. A ``BaseException``: ``except Exception``
    in an answer or a check does not swallow it.
    """


@dataclass
class Outcome:
    """What became of ``function()``: its value or the exception it raised, or that it did not
    return in time (and then whether its thread ended when asked to stop).
    """

    value: Any = None
    error: Optional[BaseException] = None
    finished: bool = True
    stopped: bool = True


def run_within(
    function: Callable[[], Any], seconds: float, grace_s: float, name: str = "cachelab-check"
) -> Outcome:
    """Call ``function()`` in a daemon thread named ``name`` and wait at most ``seconds``.

    If it has not returned by then, ask it to stop and wait ``grace_s`` more for it to
    end. ``KeyboardInterrupt`` in the waiting thread stops it too, then is raised again.
    The thread runs in a copy of the caller's ``contextvars`` context (so what it prints
    in a notebook goes to the cell that ran the check).

    >>> run_within(lambda: 6 * 7, seconds=5, grace_s=1)
    Outcome(value=42, error=None, finished=True, stopped=True)
    >>> def spins():
    ...     while True:
    ...         pass
    >>> outcome = run_within(spins, seconds=0.2, grace_s=5)
    >>> outcome.finished, outcome.stopped
    (False, True)
    """
    result: list[Outcome] = []
    context = contextvars.copy_context()
    guard = _Guard()

    def body() -> None:
        try:
            try:
                result.append(Outcome(value=context.run(function)))
            except Stopped:
                pass
            except BaseException as error:  # all of it is the answer's doing, handed back
                result.append(Outcome(error=error))
        except Stopped:  # sent as the answer's error was being recorded: it is too late
            pass
        finally:
            while True:  # a stop sent just before the end may land in finish(): finish again
                try:
                    guard.finish()
                    break
                except Stopped:
                    pass

    thread = threading.Thread(target=body, name=name, daemon=True)
    deadline = time.monotonic() + seconds
    try:
        thread.start()  # a Ctrl-C may land while start() waits for the thread to run
        while thread.is_alive() and (left := deadline - time.monotonic()) > 0:
            thread.join(min(POLL_S, left))
    except KeyboardInterrupt:
        _stop(thread, guard, grace_s)
        raise
    if thread.is_alive():
        return Outcome(finished=False, stopped=_stop(thread, guard, grace_s))
    thread.join()
    return result[0] if result else Outcome(finished=False, stopped=True)


class _Guard:
    """Whether a check's thread has finished its work, under a lock that the stopper takes too.

    ``Stopped`` is sent to a thread by its id, and an id is reused once its thread has
    ended: sent after the end, it would land in an unrelated thread. The thread marks
    itself done under ``lock`` (clearing any ``Stopped`` still pending for it), and the
    stopper sends only under the same lock while it is not done -- so the id is still
    the check's own.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False

    def finish(self) -> None:
        """Called by the check's thread as its last work: no ``Stopped`` is sent to it after
        this, and one sent just before is dropped."""
        with self.lock:
            self.done = True
            _raise_in(threading.get_ident(), None)

    def raise_in(self, thread: threading.Thread) -> None:
        """Send ``Stopped`` to ``thread`` unless it has finished (then its id may be another's)."""
        with self.lock:
            if not self.done and thread.ident is not None:
                _raise_in(thread.ident, Stopped)


def _stop(thread: threading.Thread, guard: _Guard, grace_s: float) -> bool:
    """Raise ``Stopped`` in ``thread``, again every ``RESEND_S`` (an answer's bare ``except``
    may catch some); True if it has ended within ``grace_s``."""
    deadline = time.monotonic() + grace_s
    while thread.is_alive():
        guard.raise_in(thread)
        left = deadline - time.monotonic()
        if left <= 0:
            break
        thread.join(min(RESEND_S, left))
    return not thread.is_alive()


def _raise_in(ident: int, exception_type: Optional[type[BaseException]]) -> None:
    """Raise ``exception_type`` in the thread ``ident`` at its next Python instruction, or with
    None drop one pending there (CPython only; elsewhere nothing happens)."""
    set_async_exc = getattr(getattr(ctypes, "pythonapi", None), "PyThreadState_SetAsyncExc", None)
    if set_async_exc is None:
        return  # not CPython: the thread runs on, and the verdict says so
    exception = None if exception_type is None else ctypes.py_object(exception_type)  # NULL: drop
    changed = set_async_exc(ctypes.c_ulong(ident), exception)
    if changed > 1:  # cannot happen for one id; undo rather than hit other threads
        set_async_exc(ctypes.c_ulong(ident), None)
