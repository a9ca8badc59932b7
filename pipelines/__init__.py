"""papermill pipelines: run a notebook with parameters, keep the executed copy, render HTML.

``run_notebook(notebook, parameters, run_dir) -> RunResult`` is the runner
(:mod:`pipelines.runner`); ``PIPELINE_NOTEBOOKS`` names the pipeline
notebooks under ``notebooks/pipelines/``. ``botcore review`` and
``botcore cycle-report`` run them from the shell.
"""

from pathlib import Path
from typing import Any

from botcore.clock import utc
from pipelines.runner import (
    DEFAULT_KERNEL,
    PipelineError,
    RunResult,
    new_run_dir,
    notebook_parameters,
    render_html,
    run_notebook,
)

#: ``notebooks/pipelines/`` of this repository.
NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks" / "pipelines"
#: pipeline name -> notebook
PIPELINE_NOTEBOOKS = {
    "review": NOTEBOOKS_DIR / "review.ipynb",
    "cycle_report": NOTEBOOKS_DIR / "cycle_report.ipynb",
    "learning": NOTEBOOKS_DIR / "learning.ipynb",
}



def run_review(ledger_path: str, days: float, end_ms: int, runs_root: str | Path, config_dir: str | None = None,
               data_dir: str = "") -> RunResult:
    """Run the review pipeline as ``botcore review`` does, over ``days`` ending at ``end_ms`` (the scheduled reports)."""
    params: dict[str, Any] = {"ledger_path": str(ledger_path), "days": float(days), "end": utc(end_ms, suffix=False),
                              "config_dir": config_dir or "", "data_dir": data_dir}
    return run_notebook(PIPELINE_NOTEBOOKS["review"], params, runs_root=runs_root)


__all__ = [
    "DEFAULT_KERNEL", "NOTEBOOKS_DIR", "PIPELINE_NOTEBOOKS", "PipelineError", "RunResult", "new_run_dir",
    "notebook_parameters", "render_html", "run_notebook", "run_review",
]
