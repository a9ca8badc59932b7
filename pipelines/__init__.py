"""papermill pipelines: run a notebook with parameters, keep the executed copy, render HTML.

``run_notebook(notebook, parameters, run_dir) -> RunResult`` is the runner
(:mod:`pipelines.runner`); ``PIPELINE_NOTEBOOKS`` names the pipeline
notebooks under ``notebooks/pipelines/``. ``botcore review`` and
``botcore cycle-report`` run them from the shell.
"""

from pathlib import Path

from pipelines.runner import DEFAULT_KERNEL, PipelineError, RunResult, new_run_dir, notebook_parameters, render_html, run_notebook

#: ``notebooks/pipelines/`` of this repository.
NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks" / "pipelines"
#: pipeline name -> notebook
PIPELINE_NOTEBOOKS = {
    "review": NOTEBOOKS_DIR / "review.ipynb",
    "cycle_report": NOTEBOOKS_DIR / "cycle_report.ipynb",
    "learning": NOTEBOOKS_DIR / "learning.ipynb",
}

__all__ = [
    "DEFAULT_KERNEL", "NOTEBOOKS_DIR", "PIPELINE_NOTEBOOKS", "PipelineError", "RunResult", "new_run_dir",
    "notebook_parameters", "render_html", "run_notebook",
]
