"""The compiled decision kernel agrees with the pure-Python reference on 10,000 random states."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.config import load_settings
from botcore.strategy.enums import Reason, intent_dt, trail_dt
from botcore.strategy.reference import decide_reference
from botcore.strategy.state import decide
from botcore.strategy.testing import random_case, random_params
from tests.conftest import CONFIG_DIR

N_STATES = 10_000
N_CHUNKS = 4
SETTINGS = load_settings(CONFIG_DIR)
PARAM_POOL = [random_params(np.random.default_rng(1_000 + k), SETTINGS) for k in range(40)]


def assert_records_equal(kernel: np.ndarray, reference: np.ndarray, what: str) -> None:
    """Integers exactly, floats to 1e-9 relative (NaN equal to NaN)."""
    assert kernel.shape == reference.shape, f"{what}: {kernel.shape} != {reference.shape}"
    for name in kernel.dtype.names:
        a, b = kernel[name], reference[name]
        if a.dtype.kind == "f":
            bad = ~np.isclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)
        else:
            bad = a != b
        if bad.ndim > 1:
            bad = bad.any(axis=tuple(range(1, bad.ndim)))
        assert not bad.any(), f"{what}.{name} differs at rows {np.flatnonzero(bad)[:5]}: {a[bad][:3]} vs {b[bad][:3]}"


@pytest.mark.parametrize("chunk", range(N_CHUNKS))
def test_kernel_agrees_with_reference_on_random_states(chunk):
    rng = np.random.default_rng(20_260_101 + chunk)
    kernel_trails, reference_trails, kernel_intents, reference_intents = [], [], [], []
    kernel_state, reference_state = [], []
    for k in range(N_STATES // N_CHUNKS):
        case = random_case(rng, SETTINGS, params=PARAM_POOL[int(rng.integers(len(PARAM_POOL)))])
        a, b = case.copy(), case.copy()
        dk = decide(*a)
        dr = decide_reference(*b)
        assert len(dk.intents) == len(dr.intents), f"case {k}: {len(dk.intents)} vs {len(dr.intents)} intents"
        assert np.allclose(dk.allocations, dr.allocations, rtol=1e-12), f"case {k}: allocations"
        kernel_trails.append(dk.trail)
        reference_trails.append(dr.trail)
        kernel_intents.append(dk.intents)
        reference_intents.append(dr.intents)
        kernel_state.append((a.positions, a.portfolio))
        reference_state.append((b.positions, b.portfolio))
    trail_k, trail_r = np.concatenate(kernel_trails), np.concatenate(reference_trails)
    assert_records_equal(trail_k, trail_r, "trail")
    assert_records_equal(np.concatenate(kernel_intents).astype(intent_dt),
                         np.concatenate(reference_intents).astype(intent_dt), "intents")
    for j, what in enumerate(("positions", "portfolio")):
        assert_records_equal(np.concatenate([s[j] for s in kernel_state]),
                             np.concatenate([s[j] for s in reference_state]), what)
    # the random states really visit every outcome and most gates
    assert set(np.unique(trail_k["outcome"])) == {Reason.skipped, Reason.held, Reason.entered, Reason.exited}
    seen = set(np.unique(trail_k["reason"]).tolist())
    assert len(seen) >= 30, sorted(seen)
    assert Reason.benched in seen, "random states must visit benched symbols"
    assert trail_k.dtype == trail_dt
