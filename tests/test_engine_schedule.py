"""The wall-clock scheduler: grid times, no drift, overruns recorded, stop — on a fake clock."""

from __future__ import annotations

import threading
import time

import pytest

from botcore.clock import Overrun, Scheduler, Tick, grid_ceil, next_due

MIN = 60_000
T0 = 1_710_072_000_000  # 2024-03-10 12:00 UTC, a whole minute


class FakeClock:
    """Wall clock in ms that only moves when the scheduler sleeps or the test spends time."""

    def __init__(self, now_ms: int, oversleep_ms: int = 0) -> None:
        self.now_ms = now_ms
        self.oversleep_ms = oversleep_ms
        self.sleeps: list[float] = []

    def __call__(self) -> int:
        return self.now_ms

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_ms += round(seconds * 1000) + self.oversleep_ms

    def spend(self, ms: int) -> None:
        self.now_ms += ms


def test_next_due_is_the_next_grid_time_not_yet_past_and_counts_the_skipped_ones():
    assert next_due(T0, T0 + 59_999, MIN) == (T0 + MIN, 0)
    assert next_due(T0, T0 + MIN, MIN) == (T0 + MIN, 0)  # due now is not past
    assert next_due(T0, T0 + MIN + 1, MIN) == (T0 + 2 * MIN, 1)
    assert next_due(T0, T0 + 3 * MIN, MIN) == (T0 + 3 * MIN, 2)
    assert grid_ceil(T0 + 1, MIN) == T0 + MIN and grid_ceil(T0, MIN) == T0


def test_first_cycle_is_the_next_whole_minute_and_the_scheduler_sleeps_until_it():
    clock = FakeClock(T0 + 12_345)
    ticks = list(Scheduler(MIN, cycles=1, clock=clock, sleep=clock.sleep))
    assert ticks == [Tick(T0 + MIN, 0)]
    assert clock.sleeps == [pytest.approx(47.655)]


def test_no_drift_over_many_cycles_with_steps_of_varying_length_and_late_wakeups():
    clock = FakeClock(T0 - 5_000, oversleep_ms=7)  # every sleep wakes 7 ms late
    sched = Scheduler(MIN, cycles=2_000, clock=clock, sleep=clock.sleep)
    seen = []
    for i, (t, late) in enumerate(sched):
        seen.append((t, late))
        clock.spend(1_000 + (i * 7_919) % 50_000)  # steps of 1 to 51 s, always within the cycle
    assert [t for t, _ in seen] == [T0 + i * MIN for i in range(2_000)]
    assert {late for _, late in seen} == {7}  # lateness never accumulates
    assert list(sched.overruns) == []
    assert clock.now_ms < T0 + 2_000 * MIN  # the last step ended within its own cycle


def test_an_overrun_is_recorded_with_the_missed_grid_times_and_how_late_and_the_grid_is_kept():
    clock = FakeClock(T0)
    got: list[Overrun] = []
    sched = Scheduler(MIN, first_ms=T0, cycles=4, clock=clock, sleep=clock.sleep, on_overrun=got.append)
    times = []
    for t, late in sched:
        times.append((t, late))
        if t == T0 + MIN:
            clock.spend(2 * MIN + 15_000)  # ends at T0 + 3m15s: T0+2m and T0+3m are missed
        else:
            clock.spend(2_000)
    assert times == [(T0, 0), (T0 + MIN, 0), (T0 + 4 * MIN, 0), (T0 + 5 * MIN, 0)]
    assert got == [Overrun(cycle_ms=T0 + MIN, first_missed_ms=T0 + 2 * MIN, missed=2, late_ms=75_000,
                           next_ms=T0 + 4 * MIN)]
    assert list(sched.overruns) == got


def test_a_step_ending_exactly_on_a_later_grid_time_runs_that_time_at_once():
    clock = FakeClock(T0)
    sched = Scheduler(MIN, first_ms=T0, cycles=2, clock=clock, sleep=clock.sleep)
    times = []
    for t, _late in sched:
        times.append(t)
        clock.spend(2 * MIN)
    assert times == [T0, T0 + 2 * MIN]
    assert list(sched.overruns) == [Overrun(T0, T0 + MIN, 1, MIN, T0 + 2 * MIN)]


def test_stop_ends_the_iteration_before_the_next_cycle():
    clock = FakeClock(T0)
    sched = Scheduler(MIN, first_ms=T0, clock=clock, sleep=clock.sleep)
    times = []
    for t, _late in sched:
        times.append(t)
        if len(times) == 3:
            sched.stop()
    assert times == [T0, T0 + MIN, T0 + 2 * MIN]
    assert sched.stopped and sched.ticks == 3


def test_stop_from_another_thread_wakes_the_default_sleep_at_once():
    sched = Scheduler(3_600_000)  # the next whole hour: up to an hour's sleep
    threading.Timer(0.2, sched.stop).start()
    t0 = time.monotonic()
    assert list(sched) == []
    assert time.monotonic() - t0 < 5


def test_bad_arguments_raise_naming_the_field():
    with pytest.raises(ValueError, match="period_ms"):
        Scheduler(0)
    with pytest.raises(ValueError, match="first_ms"):
        Scheduler(MIN, first_ms=T0 + 1)


def test_a_delay_wakes_after_the_grid_time_but_ticks_carry_the_grid_time():
    clock = FakeClock(T0 - 10_000)
    sched = Scheduler(MIN, cycles=3, clock=clock, sleep=clock.sleep, delay_ms=2_000)
    woke = []
    for t, late in sched:
        woke.append((t, late, clock.now_ms))
        clock.spend(30_000)
    assert woke == [(T0 + i * MIN, 0, T0 + i * MIN + 2_000) for i in range(3)]
    with pytest.raises(ValueError, match="delay_ms"):
        Scheduler(MIN, delay_ms=MIN)
