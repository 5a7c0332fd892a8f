"""The checker cannot be hung, crashed, flooded or fooled by an answer (issue 18, item 8).

Each case is an answer a learner could plausibly write, or one written to probe the checker:

- an endless loop, and a wait that Python cannot interrupt: a ❌ within the time limit, the
  kernel still usable, and the verdict says whether the answer was stopped or still runs;
- ``sys.exit()``, ``raise KeyboardInterrupt``, a ``BaseException`` of its own: a ❌, not a
  traceback -- while a real Ctrl-C pressed during the check still interrupts the cell;
- a wrong value of 8 MB: a ❌ of a few hundred characters;
- an object whose ``__eq__`` says yes to everything: 04.1 and 04.2 fail;
- an answer to 06.1 that points its cache at ``cachelab:``: the check's clean-up deletes only
  what the check wrote, and another learner's keys on the same real server stay.

Every loop here ends when its test ends (it waits on an ``Event`` the test sets), so a checker
that fails to stop one leaves no thread spinning after the test.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
import time
from typing import Any, Callable

import pytest
from support import load_solutions

from cachelab import checks, keys
from cachelab.checks import ExerciseNotPassed
from cachelab.checks.invalidation import check_update_price
from cachelab.checks.redis_cache import check_get_or_load_json, check_safe_get_or_load
from cachelab.checks.repeated_work import check_percentile

VERDICT_WITHIN_S = 30.0  # far above the limits the tests set; only a hung checker reaches it
LIMIT_S = 0.5  # the time limit the tests give a check: every answer here that meets it never ends


class Endless:
    """Answers that never end -- to the check. They end when the test does (``stop`` is set)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.running = threading.Event()
        self.threads: list[threading.Thread] = []

    def loop(self, *answer_args: Any) -> None:
        """A Python loop: an exception sent to its thread stops it at once."""
        self._started()
        while not self.stop.is_set():
            pass

    def block(self, *answer_args: Any) -> None:
        """A wait in C: an exception sent to its thread lands only when it wakes."""
        self._started()
        self.stop.wait()

    def retries(self, *answer_args: Any) -> None:
        """A retry loop with a bare ``except``: it swallows the first stops, not the fourth."""
        self._started()
        for _attempt in range(3):
            try:
                while not self.stop.is_set():
                    pass
            except BaseException:  # noqa: S110 -- what the answer does: catch everything, retry
                continue
        while not self.stop.is_set():
            pass

    def swallows(self, *answer_args: Any) -> None:
        """``while True: try: ... except BaseException: pass``, with the loop inside the ``try``:
        whenever the stop lands, it is caught. Python cannot stop this one."""
        self._started()
        while not self.stop.is_set():
            try:
                while not self.stop.is_set():
                    pass
            except BaseException:  # noqa: S110
                pass

    def _started(self) -> None:
        self.threads.append(threading.current_thread())
        self.running.set()


@pytest.fixture
def endless() -> Any:
    answers = Endless()
    yield answers
    answers.stop.set()
    for thread in answers.threads:
        if thread is not threading.current_thread():  # a checker without threads ran it here
            thread.join(VERDICT_WITHIN_S)


@pytest.fixture
def short_limit(monkeypatch: pytest.MonkeyPatch) -> float:
    """Every check gets ``LIMIT_S`` (exercises with a longer limit of their own are not used here),
    and a stuck answer up to 10 s to stop once asked (waited in full only if it does not stop).
    """
    monkeypatch.setattr(checks, "_TIME_LIMIT_S", LIMIT_S, raising=False)
    monkeypatch.setattr(checks, "_STOP_GRACE_S", 10.0, raising=False)
    return LIMIT_S


def outcome_of(check: Callable[..., str], answer: Any, within_s: float = VERDICT_WITHIN_S):
    """Run ``checks.run(check, answer)`` in a thread of its own; what it raised (None if nothing),
    or the string "no verdict" when it has not returned after ``within_s``.
    """
    result: list = []

    def body() -> None:
        try:
            checks.run(check, answer)
            result.append(None)
        except BaseException as error:  # everything run lets out is part of the outcome
            result.append(error)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(within_s)
    return result[0] if result else "no verdict"


# --------------------------------------------------------------------------- a time limit


def test_an_endless_loop_gets_a_verdict_within_the_limit_and_is_stopped(
    short_limit, endless, capsys
):
    started = time.monotonic()
    outcome = outcome_of(check_percentile, endless.loop)
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert isinstance(outcome, ExerciseNotPassed), f"no ❌: {outcome!r}"
    assert out.startswith("❌ 02.1") and f"did not return within {LIMIT_S:g} s" in out, out
    assert "your code was stopped" in out, out
    assert took < VERDICT_WITHIN_S
    assert endless.running.is_set() and not endless.threads[0].is_alive(), "the loop was stopped"
    checks.hint("02.1")
    assert "hint 1" in capsys.readouterr().out, "a time-out has hints like any other failure"


def test_a_wait_python_cannot_interrupt_gets_a_verdict_saying_it_still_runs(
    short_limit, endless, monkeypatch, capsys
):
    monkeypatch.setattr(checks, "_STOP_GRACE_S", LIMIT_S)  # waited in full here
    outcome = outcome_of(check_percentile, endless.block)
    out = capsys.readouterr().out
    assert isinstance(outcome, ExerciseNotPassed), f"no ❌: {outcome!r}"
    assert f"did not return within {LIMIT_S:g} s" in out and "still running" in out, out
    assert endless.threads[0].is_alive(), "the verdict says what is true: it still runs"


def test_an_answer_that_swallows_the_first_stops_is_still_stopped(short_limit, endless, capsys):
    """``Stopped`` was raised once: a retry loop with a bare ``except`` caught it, ran on, and
    the verdict blamed a wait in C. It is raised again every 50 ms of the grace period."""
    outcome = outcome_of(check_percentile, endless.retries)
    out = capsys.readouterr().out
    assert isinstance(outcome, ExerciseNotPassed), f"no ❌: {outcome!r}"
    assert "your code was stopped" in out, out
    assert not endless.threads[0].is_alive(), "the retry loop was stopped"


def test_an_answer_that_swallows_every_stop_gets_an_honest_verdict(
    short_limit, endless, monkeypatch, capsys
):
    monkeypatch.setattr(checks, "_STOP_GRACE_S", LIMIT_S)  # waited in full here
    started = time.monotonic()
    outcome = outcome_of(check_percentile, endless.swallows)
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert isinstance(outcome, ExerciseNotPassed), f"no ❌: {outcome!r}"
    assert took < VERDICT_WITHIN_S
    if endless.threads[0].is_alive():  # the usual case: every stop was caught
        assert "still running" in out and "catches" in out, out
    else:  # a stop landed between two tries
        assert "your code was stopped" in out, out


def test_the_kernel_stays_usable_after_a_time_out(short_limit, endless, monkeypatch, capsys):
    monkeypatch.setattr(checks, "_STOP_GRACE_S", LIMIT_S)
    outcome_of(check_percentile, endless.block)
    outcome_of(check_percentile, endless.loop)
    monkeypatch.undo()  # the default limit again, for a right answer
    solutions = load_solutions("02_repeated_work")
    assert outcome_of(check_percentile, solutions.my_percentile) is None
    assert "✅ 02.1" in capsys.readouterr().out


def test_the_default_limits_are_generous():
    from cachelab.checks.capstone import check_capstone
    from cachelab.checks.stampedes import check_load_once

    assert checks._TIME_LIMIT_S >= 10
    assert checks._time_limit_s(check_percentile) == checks._TIME_LIMIT_S
    assert checks._time_limit_s(check_capstone) >= 40, "the capstone's reference takes ~1.3 s"
    assert checks._time_limit_s(check_load_once) > 40, "08.1 waits up to 30 s + 10 s on its own"


# --------------------------------------------------------------------------- exits and interrupts


class OwnBaseException(BaseException):
    pass


@pytest.mark.parametrize(
    ("raises", "named"),
    [
        (lambda: sys.exit(0), "SystemExit"),
        (lambda: sys.exit("bye"), "SystemExit"),
        (lambda: exit(), "SystemExit"),
        (lambda: (_ for _ in ()).throw(KeyboardInterrupt()), "KeyboardInterrupt"),
        (lambda: (_ for _ in ()).throw(OwnBaseException("mine")), "OwnBaseException"),
        (lambda: (_ for _ in ()).throw(GeneratorExit()), "GeneratorExit"),
    ],
)
def test_an_answer_that_exits_or_raises_a_base_exception_gets_a_verdict(raises, named, capsys):
    outcome = outcome_of(check_percentile, lambda samples, q: raises())
    out = capsys.readouterr().out
    assert isinstance(outcome, ExerciseNotPassed), f"{named} escaped the checker: {outcome!r}"
    assert out.startswith("❌ 02.1") and named in out, out
    checks.hint("02.1")
    assert "hint 1" in capsys.readouterr().out


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="a real Ctrl-C lands in the main thread",
)
def test_a_real_ctrl_c_during_a_check_still_interrupts_the_cell(endless, capsys):
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as a kernel has it

    def press_ctrl_c() -> None:
        if endless.running.wait(VERDICT_WITHIN_S):
            _thread.interrupt_main()

    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    try:
        checks.run(check_percentile, endless.loop)
        outcome: Any = None
    except BaseException as error:  # the Ctrl-C itself is the outcome
        outcome = error
    finally:
        signal.signal(signal.SIGINT, previous)
    assert isinstance(outcome, KeyboardInterrupt), f"Ctrl-C did not interrupt: {outcome!r}"
    assert "❌" not in capsys.readouterr().out, "an interrupt is not the answer's failure"
    answer = endless.threads[0]
    if answer is not threading.current_thread():
        answer.join(VERDICT_WITHIN_S)
        assert not answer.is_alive(), "the interrupted answer was stopped"


# --------------------------------------------------------------------------- bounded messages

HUGE = "x" * 8_000_000


def huge_value(samples, q):
    return [HUGE]


def huge_error(samples, q):
    raise ValueError(HUGE)


class HugeRepr:
    def __repr__(self) -> str:
        return "<" + HUGE + ">"


@pytest.mark.parametrize("answer", [huge_value, huge_error, lambda samples, q: HugeRepr()])
def test_a_huge_wrong_value_prints_a_bounded_message(answer, capsys):
    outcome = outcome_of(check_percentile, answer)
    out = capsys.readouterr().out
    assert isinstance(outcome, ExerciseNotPassed)
    assert out.startswith("❌ 02.1")
    assert len(out) < 2_000, f"a ❌ of {len(out):,} characters"
    assert "…" in out or "..." in out, "the cut is shown"


def test_a_value_whose_repr_raises_still_gets_a_verdict(capsys):
    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    outcome = outcome_of(check_percentile, lambda samples, q: BadRepr())
    assert isinstance(outcome, ExerciseNotPassed)
    assert capsys.readouterr().out.startswith("❌ 02.1")


# --------------------------------------------------------------------------- equal to everything


class EqualsEverything:
    """What a learner gets back from a mock, or writes to probe the checker."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


redis_solutions = load_solutions("04_redis_cache")


def stores_but_returns_a_liar(client, key, loader, ttl):
    redis_solutions.get_or_load_json(client, key, loader, ttl)
    return EqualsEverything()


def safe_stores_but_returns_a_liar(client, key, loader, ttl, stats):
    redis_solutions.safe_get_or_load(client, key, loader, ttl, stats)
    return EqualsEverything()


@pytest.mark.parametrize(
    ("check", "answer", "exercise"),
    [
        (check_get_or_load_json, stores_but_returns_a_liar, "04.1"),
        (check_safe_get_or_load, safe_stores_but_returns_a_liar, "04.2"),
    ],
)
def test_an_object_equal_to_everything_fails(check, answer, exercise, capsys):
    outcome = outcome_of(check, answer)
    out = capsys.readouterr().out
    assert isinstance(outcome, ExerciseNotPassed), f"passed with a liar: {out}"
    assert out.startswith(f"❌ {exercise}") and "EqualsEverything" in out, out


def test_a_value_equal_in_every_way_still_passes_04_1(capsys):
    assert outcome_of(check_get_or_load_json, redis_solutions.get_or_load_json) is None
    assert "✅ 04.1" in capsys.readouterr().out


# --------------------------------------------------------------------------- clean-up


def test_a_prefix_hijacking_answer_to_06_1_leaves_another_learners_keys(
    stoppable_redis, monkeypatch, capsys
):
    """On a server of this test's own: another learner's 50 keys, then an answer that points the
    cache it was handed at the whole course prefix.
    """
    monkeypatch.setenv("REDIS_URL", stoppable_redis.url)
    client = stoppable_redis.client()
    other = keys.learner_prefix("someone-else")
    for i in range(50):
        client.set(f"{other}product:{i}", "{}", ex=600)

    solutions = load_solutions("06_invalidation")

    def hijacks(shop, cache, product_id, price_cents):
        cache.prefix = "cachelab:"
        solutions.update_price(shop, cache, product_id, price_cents)

    outcome = outcome_of(check_update_price, hijacks)
    out = capsys.readouterr().out
    assert isinstance(outcome, ExerciseNotPassed), out
    assert "RedisCache" in out, "the hijacked cache is what fails the check"
    left = sorted(client.scan_iter(match=f"{other}*"))
    assert len(left) == 50, f"the check deleted {50 - len(left)} of another learner's 50 keys"
    mine = list(client.scan_iter(match=f"{keys.learner_prefix()}check06:*"))
    assert mine == [], f"the check left its own keys behind: {mine}"


def test_06_1_still_cleans_up_after_a_right_answer(stoppable_redis, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", stoppable_redis.url)
    client = stoppable_redis.client()
    solutions = load_solutions("06_invalidation")
    assert outcome_of(check_update_price, solutions.update_price) is None
    assert "✅ 06.1" in capsys.readouterr().out
    assert list(client.scan_iter(match="cachelab:*")) == []


def test_04_1_cleans_up_with_a_client_the_answer_never_had(stoppable_redis, monkeypatch, capsys):
    """An answer that breaks the client it was handed does not stop the clean-up."""
    monkeypatch.setenv("REDIS_URL", stoppable_redis.url)
    client = stoppable_redis.client()

    def breaks_its_client(on_client, key, loader, ttl):
        value = redis_solutions.get_or_load_json(on_client, key, loader, ttl)
        on_client.scan_iter = lambda *args, **kwargs: iter(())  # the clean-up would find nothing
        return value

    assert outcome_of(check_get_or_load_json, breaks_its_client) is None
    capsys.readouterr()
    assert list(client.scan_iter(match="cachelab:*")) == []
