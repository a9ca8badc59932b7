"""Every notebook under notebooks/ is stored clean, is parameterised for papermill, and runs (nbval) on small data.

A notebook ``notebooks/<dir>/<name>.ipynb`` with its own test module
``tests/test_notebooks_<dir>_<name>.py`` is run there; the others run here, in
one nbval session (one pytest process, one kernel per notebook) with their
small defaults. The pipeline and Kelly notebooks default to the SYNTHETIC demo
ledger, built once into a temporary cache for the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


def own_test(notebook: Path) -> Path:
    rel = notebook.relative_to(REPO / "notebooks")
    return REPO / "tests" / f"test_notebooks_{'_'.join(rel.with_suffix('').parts)}.py"


RUN_HERE = [p for p in NOTEBOOKS if not own_test(p).exists()]


def test_the_notebooks_of_this_issue_exist():
    names = {p.relative_to(REPO / "notebooks").as_posix() for p in NOTEBOOKS}
    assert {"pipelines/review.ipynb", "pipelines/cycle_report.ipynb", "pipelines/learning.ipynb",
            "research/regime.ipynb", "research/kelly.ipynb", "research/strategy.ipynb",
            "research/signals.ipynb"} <= names


@pytest.mark.parametrize("notebook", RUN_HERE, ids=lambda p: p.relative_to(REPO).as_posix())
def test_notebook_is_stored_without_outputs_with_one_parameters_cell_and_the_botcore_kernel(notebook):
    import papermill

    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks without outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    assert nb.metadata.get("kernelspec", {}).get("name") == "botcore"
    # papermill understands every assignment of the cell (a line it cannot parse is silently not a parameter)
    assignments = [line for line in params[0].source.splitlines() if line and not line.startswith("#")]
    assert len(papermill.inspect_notebook(str(notebook))) == len(assignments)
    assert all("#" in line for line in assignments), "comment every parameter"


def test_every_notebook_is_run_here_or_by_its_own_test_module():
    for notebook in NOTEBOOKS:
        assert notebook in RUN_HERE or own_test(notebook).exists()


@pytest.mark.slow
def test_every_notebook_runs_under_nbval(tmp_path):
    from botcore.analytics.demo import demo_ledger

    assert RUN_HERE, "nothing to run"
    cache = tmp_path / "cache"
    demo_ledger(cache_dir=cache)  # built once here, shared read-only by the notebooks' kernels
    env = {**os.environ, "BOTCORE_CACHE": str(cache), "MPLBACKEND": "Agg"}
    groups = [RUN_HERE[i::2] for i in range(2)]  # two nbval sessions side by side: kernels mostly wait
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
             *map(str, group)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for group in groups if group
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, out[-4000:] + err[-2000:]
        assert " passed" in out
