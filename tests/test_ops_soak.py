"""Accelerated soak with a short span: the paper loop with heartbeats and kill-switch reads keeps memory flat.

The 30-day run is ``python -m benchmarks soak`` (a benchmark, not a timed test).
"""

from __future__ import annotations

import pytest

from benchmarks.soak import run_soak
from botcore.engine.testing import ACTIVE_OVERRIDES


@pytest.mark.slow
def test_a_short_soak_reports_rss_and_stays_flat(tmp_path):
    result = run_soak(0.25, symbols=3, warmup_bars=1_440, settle_cycles=60, sample_every=60,
                      ledger_path=tmp_path / "soak.db", params_overrides=dict(ACTIVE_OVERRIDES))

    assert result.cycles == 360 and result.symbols == 3
    assert result.fills > 0  # the paths of orders, fills and positions ran
    assert result.rss_start_mb > 0 and result.rss_end_mb > 0
    assert len(result.samples) >= 5
    assert result.growth < 0.10 and result.growth_from_min < 0.10, result.samples
    assert result.rss_min_mb <= result.rss_start_mb
