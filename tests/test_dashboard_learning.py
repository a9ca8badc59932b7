"""The dashboard shows the weights the learning cycle writes (kind ``learning``), version by version."""

from __future__ import annotations

import json

from botcore.config import SIGNAL_NAMES
from botcore.dashboard.data import weights_frame
from botcore.learning.cycle import KIND, prior_body
from botcore.ledger import Ledger


def test_weights_over_time_read_the_learning_cycles_versions(tmp_path, settings):
    with Ledger.open(tmp_path / "ledger.sqlite", starting_cash_usd=10_000.0, mode="paper") as ledger:
        prior = prior_body(settings)
        ledger.put_params(KIND, prior, reason="config prior", activate=True, ts_ms=1_000)
        learned = json.loads(json.dumps(prior))
        learned["weights"]["trend"] = 1.25
        learned["weights"]["social_sentiment"] = 0.4
        ledger.put_params(KIND, learned, reason="learning cycle: 30+ trades attributed", activate=True, ts_ms=2_000)
        params = ledger.table("parameters")

    frame = weights_frame(params, settings)

    assert list(frame["version"]) == [1, 2]
    assert list(frame["active"]) == [False, True]
    assert frame.loc[1, "trend"] == 1.25 and frame.loc[1, "social_sentiment"] == 0.4
    assert frame.loc[0, "trend"] == settings.signals.weights["trend"]
    assert set(SIGNAL_NAMES) <= set(frame.columns)
