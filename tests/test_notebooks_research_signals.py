"""The signals research notebook runs end to end (nbval, outputs not compared) on small data."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "research" / "signals.ipynb"


def test_notebook_is_stored_without_outputs_and_has_a_parameters_cell():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1


@pytest.mark.slow
def test_signals_notebook_runs_under_nbval():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", str(NOTEBOOK)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
