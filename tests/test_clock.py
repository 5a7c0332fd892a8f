"""FakeClock: time that moves only when a lesson or a test says so."""

import math

import pytest

from cachelab.clock import FakeClock


def test_a_new_clock_reads_zero():
    assert FakeClock()() == 0.0


def test_a_clock_can_start_at_any_finite_time():
    assert FakeClock(start=1_000.5)() == 1_000.5


def test_advance_moves_time_forward_and_returns_the_new_time():
    clock = FakeClock()
    assert clock.advance(2.5) == 2.5
    assert clock.advance(0.5) == 3.0
    assert clock() == 3.0


def test_the_clock_stands_still_between_advances():
    clock = FakeClock(start=10)
    assert clock() == clock() == 10.0


def test_advancing_by_zero_is_allowed():
    clock = FakeClock(start=5)
    assert clock.advance(0) == 5.0


@pytest.mark.parametrize("seconds", [-1, -0.001, math.nan, math.inf])
def test_advance_rejects_negative_or_non_finite_steps(seconds):
    clock = FakeClock(start=7)
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(seconds)
    assert clock() == 7.0, "a rejected step must not move the clock"


@pytest.mark.parametrize("start", [math.nan, math.inf, -math.inf])
def test_a_non_finite_start_is_rejected(start):
    with pytest.raises(ValueError, match="start"):
        FakeClock(start=start)


def test_the_repr_shows_the_current_time():
    clock = FakeClock()
    clock.advance(3)
    assert repr(clock) == "FakeClock(now=3.0)"
