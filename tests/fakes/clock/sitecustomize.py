"""An accelerated wall clock for whole-process tests of ``botcore run --feed live`` (no effect unless asked).

Put this directory first on ``PYTHONPATH`` and set ``BOTCORE_TEST_CLOCK="FAKE0_MS,REAL0_S,SPEED"``:
``time.time()`` / ``time.time_ns()`` then read ``FAKE0_MS + (real - REAL0_S) * SPEED``, and the
cycle scheduler's sleeps are shortened by ``SPEED``, so a one-minute cycle takes ``60 / SPEED`` real
seconds, the intel feeds refresh and the heartbeat beats on the same clock, and the
supervisor leaves a stopping bot its grace in real seconds. The fake servers read it too (:func:`tests.fakes.clock.make_clock`).
Everything else (the command line, the configuration, the venue) is what a user runs.
"""

import os

_spec = os.environ.get("BOTCORE_TEST_CLOCK")
if _spec:
    import time as _time

    _fake0_ms, _real0, _speed = (float(x) for x in _spec.split(","))
    _real_time = _time.time

    def _fake_time() -> float:
        return _fake0_ms / 1000.0 + (_real_time() - _real0) * _speed

    _time.time = _fake_time
    _time.time_ns = lambda: int(_fake_time() * 1e9)

    import botcore.clock as _schedule

    _init = _schedule.Scheduler.__init__

    def _scaled_init(self, *args, sleep=None, **kwargs):
        _init(self, *args, sleep=sleep, **kwargs)
        if sleep is None:
            stopped = self._stopped
            self._sleep = lambda seconds: stopped.wait(seconds / _speed)

    _schedule.Scheduler.__init__ = _scaled_init

    import botcore.intel.feeds as _feeds

    _real_monotonic = _time.monotonic
    _mono0 = _real_monotonic()
    _feeds_init = _feeds.IntelFeeds.__init__

    def _feeds_scaled_init(self, *args, clock=None, **kwargs):  # intel refresh intervals are in run time
        _feeds_init(self, *args, clock=clock or (lambda: _mono0 + (_real_monotonic() - _mono0) * _speed), **kwargs)

    _feeds.IntelFeeds.__init__ = _feeds_scaled_init

    import botcore.ops.heartbeat as _heartbeat

    _beat_init = _heartbeat.Heartbeat.__init__

    def _beat_scaled_init(self, *args, interval_s=20.0, **kwargs):  # beats every heartbeat_seconds of run time
        _beat_init(self, *args, interval_s=interval_s / _speed, **kwargs)

    _heartbeat.Heartbeat.__init__ = _beat_scaled_init

    import botcore.ops.supervisor as _supervisor

    _policy_init = _supervisor.SupervisorPolicy.__init__

    def _policy_scaled_init(self, *args, **kwargs):  # a process needs real seconds to exit, whatever the clock
        _policy_init(self, *args, **kwargs)
        object.__setattr__(self, "shutdown_grace_s", self.shutdown_grace_s * _speed)

    _supervisor.SupervisorPolicy.__init__ = _policy_scaled_init
