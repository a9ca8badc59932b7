"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "config"


def real_data_root() -> Path:
    """Where the real exchange data lives: $BOTCORE_REAL_DATA or ../shared/data/market."""
    env = os.environ.get("BOTCORE_REAL_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data" / "market"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real-data folder; skip when absent, but fail under CI=true where it must exist."""
    root = real_data_root()
    if not root.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"real data missing at {root}: CI always has ../shared/data/market")
        pytest.skip(f"real data not found at {root} (set BOTCORE_REAL_DATA)")
    return root


@pytest.fixture(scope="session")
def settings():
    from botcore.config import load_settings

    return load_settings(CONFIG_DIR)
