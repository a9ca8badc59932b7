"""Run a notebook with parameters through papermill, keep the executed copy, render it to HTML.

Every run gets its own directory, ``<runs_root>/<name>/<UTC timestamp>/``,
holding:

- ``<name>.ipynb``: the executed notebook, the audit record of the run
  (papermill saves it after every cell, so a failed run keeps everything up
  to the failing cell, with the error);
- ``<name>.html``: the same rendered for readers without Jupyter (report
  mode: code hidden, outputs, tables and figures embedded);
- ``run.json``: what ran, with which parameters, when, for how long, the
  outcome and the botcore version and git commit.

A failed cell fails the run: :func:`run_notebook` still renders the partial
notebook to HTML and writes ``run.json``, then raises :class:`PipelineError`
naming the cell, the error and both files.

The same notebooks run with the plain ``papermill`` command; this module
adds the run directory, the parameter check, the HTML and the record.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_KERNEL", "PipelineError", "RunResult", "new_run_dir", "notebook_parameters", "render_html",
           "run_notebook"]

#: The kernel spec the notebooks name (installed by ``python -m ipykernel install --sys-prefix --name botcore``).
DEFAULT_KERNEL = "botcore"


@dataclass(frozen=True)
class RunResult:
    """One pipeline run: where its files are and how it went."""

    name: str
    notebook: Path
    run_dir: Path
    executed: Path
    html: Path | None
    parameters: dict[str, Any]
    ok: bool
    started_utc: str
    seconds: float
    error: str | None = None
    failed_cell: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("notebook", "run_dir", "executed", "html"):
            d[key] = None if d[key] is None else str(d[key])
        return d


class PipelineError(RuntimeError):
    """A pipeline run failed; ``result`` points at the partial executed notebook and its HTML."""

    def __init__(self, message: str, result: RunResult | None = None) -> None:
        super().__init__(message)
        self.result = result


def _utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def new_run_dir(runs_root: str | os.PathLike, name: str) -> Path:
    """Create and return ``<runs_root>/<name>/<UTC timestamp>/`` (``-2``, ``-3``... when taken)."""
    base = Path(runs_root) / name
    base.mkdir(parents=True, exist_ok=True)
    stamp = _utc_stamp()
    for i in range(1, 1000):
        candidate = base / (stamp if i == 1 else f"{stamp}-{i}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise PipelineError(f"cannot create a run directory under {base}")


def notebook_parameters(notebook: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Return the parameters a notebook declares in its ``parameters`` cell (name -> type, default, help).

    Raises
    ------
    PipelineError
        When the notebook has no cell tagged ``parameters``.
    """
    import nbformat
    import papermill

    nb = nbformat.read(str(notebook), as_version=4)
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise PipelineError(f"{notebook}: no cell tagged 'parameters'; papermill cannot parameterise it")
    return dict(papermill.inspect_notebook(str(notebook)))


def _check_kernel(kernel_name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise PipelineError(
            f"Jupyter kernel {kernel_name!r} is not installed; install it into this environment with "
            f"`python -m ipykernel install --sys-prefix --name {kernel_name}` (scripts/_setup.sh does)"
        ) from None


#: nbconvert's ``lab`` template without the scripts it loads from a CDN (RequireJS, MathJax): the
#: reports have neither widgets nor formulas, and must open offline without a failed request.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
"""


def render_html(executed: str | os.PathLike, html_path: str | os.PathLike | None = None, *,
                report_mode: bool = True, title: str | None = None) -> Path:
    """Render an executed notebook to one self-contained HTML file; return its path.

    ``report_mode`` hides code cells and prompts (outputs, tables and figures
    stay; figures are embedded as data URIs). Nothing is fetched from the
    network when the page opens.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    executed = Path(executed)
    html_path = Path(html_path) if html_path is not None else executed.with_suffix(".html")
    nb = nbformat.read(str(executed), as_version=4)
    nb.metadata["title"] = title or executed.stem
    exporter = HTMLExporter(exclude_input=report_mode, exclude_input_prompt=report_mode,
                            exclude_output_prompt=report_mode,
                            extra_loaders=[jinja2.DictLoader({"botcore_report.html.j2": OFFLINE_TEMPLATE})],
                            template_file="botcore_report.html.j2")
    body, _ = exporter.from_notebook_node(nb)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_notebook(
    notebook: str | os.PathLike,
    parameters: Mapping[str, Any] | None = None,
    run_dir: str | os.PathLike | None = None,
    *,
    runs_root: str | os.PathLike = "runs",
    name: str | None = None,
    kernel_name: str = DEFAULT_KERNEL,
    report_mode: bool = True,
    inject_out_dir: bool = True,
    cwd: str | os.PathLike | None = None,
    progress_bar: bool = False,
    log_output: bool = False,
    start_timeout: int = 60,
    execution_timeout: int | None = None,
) -> RunResult:
    """Execute ``notebook`` with ``parameters``; keep the executed copy and its HTML in a run directory.

    Parameters
    ----------
    notebook : path
        The source notebook (kept unchanged).
    parameters : mapping, optional
        Overrides of the notebook's ``parameters`` cell; a name the cell does
        not declare is an error (papermill alone would only warn).
    run_dir : path, optional
        The run directory to use as is; default a new ``<runs_root>/<name>/<UTC timestamp>/``.
    runs_root : path
        Root of the run directories (``runs`` in the current directory by default).
    name : str, optional
        Pipeline name (default the notebook's stem); names the files.
    kernel_name : str
        Jupyter kernel (default ``botcore``).
    report_mode : bool
        Hide code in the rendered HTML (and mark it hidden in the executed notebook).
    inject_out_dir : bool
        When the notebook declares ``out_dir`` and ``parameters`` does not set
        it, pass the run directory (so the notebook's own files sit beside the record).
    cwd : path, optional
        Working directory of the kernel; default the run directory.
    progress_bar, log_output : bool
        papermill's progress bar and cell-output logging.
    start_timeout, execution_timeout : int
        Seconds to wait for the kernel to start / for one cell (None: no limit).

    Returns
    -------
    RunResult
        With ``ok`` True.

    Raises
    ------
    PipelineError
        When the kernel is missing, a parameter is unknown, or a cell fails
        (then ``err.result`` has the partial notebook and its HTML, both kept).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook)
    if not notebook.is_file():
        raise PipelineError(f"notebook {notebook} does not exist")
    name = name or notebook.stem
    params = dict(parameters or {})
    declared = notebook_parameters(notebook)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise PipelineError(f"{notebook.name}: unknown parameters {unknown}; it declares {sorted(declared)}")
    _check_kernel(kernel_name)
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(runs_root, name)
    run_dir.mkdir(parents=True, exist_ok=True)
    if inject_out_dir and "out_dir" in declared and "out_dir" not in params:
        params["out_dir"] = str(run_dir.resolve())
    executed = run_dir / f"{name}.ipynb"
    html_path = run_dir / f"{name}.html"
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    error: str | None = None
    failed_cell: int | None = None
    logger.info("pipeline %s: running %s into %s", name, notebook, run_dir)
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=params, kernel_name=kernel_name, progress_bar=progress_bar,
            log_output=log_output, report_mode=report_mode, cwd=str(cwd or run_dir), start_timeout=start_timeout,
            execution_timeout=execution_timeout,
        )
    except PapermillExecutionError as exc:
        failed_cell = exc.exec_count
        error = f"cell [{exc.exec_count}] raised {exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel death, timeout, bad notebook: still a failed run with its record
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - t0
    html: Path | None = None
    if executed.exists():
        try:
            html = render_html(executed, html_path, report_mode=report_mode, title=name)
        except Exception as exc:  # the executed notebook is the record; a rendering failure must not hide it
            logger.error("pipeline %s: HTML rendering failed: %s", name, exc)
            error = error or f"HTML rendering failed: {type(exc).__name__}: {exc}"
    result = RunResult(
        name=name, notebook=notebook.resolve(), run_dir=run_dir.resolve(), executed=executed.resolve(),
        html=None if html is None else html.resolve(), parameters=params, ok=error is None,
        started_utc=started.isoformat(timespec="seconds"), seconds=round(seconds, 3), error=error,
        failed_cell=failed_cell,
    )
    record = {**result.to_dict(), "botcore_version": _botcore_version(), "git_commit": _git_commit(),
              "kernel": kernel_name}
    (run_dir / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    if error is not None:
        kept = f"partial notebook kept at {executed}" if executed.exists() else "no notebook was written"
        where = f"; HTML at {html}" if html is not None else ""
        logger.error("pipeline %s failed: %s (%s%s)", name, error, kept, where)
        raise PipelineError(f"pipeline {name} failed: {error}; {kept}{where}", result)
    logger.info("pipeline %s: done in %.1f s; HTML at %s", name, seconds, html)
    return result


def _botcore_version() -> str | None:
    try:
        import botcore
    except ImportError:  # pragma: no cover - the runner ships with botcore
        return None
    return botcore.__version__
