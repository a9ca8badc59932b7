"""The papermill runner: the executed notebook is kept, HTML rendered, a failed cell fails the run and keeps its record."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from pipelines import PipelineError, new_run_dir, notebook_parameters, render_html, run_notebook

KERNEL = {"kernelspec": {"name": "botcore", "display_name": "Python (botcore)", "language": "python"},
          "language_info": {"name": "python"}}


def write_notebook(path, *cells):
    params = new_code_cell('greeting: str = "hello"  # what to print\nrepeat: int = 2  # how many times\nout_dir: str = ""  # run directory')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell("# Tiny pipeline"), params, *cells], metadata=KERNEL)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def ok_notebook(tmp_path):
    return write_notebook(
        tmp_path / "tiny.ipynb",
        new_code_cell('secret_code_marker = 1\nprint(" ".join([greeting] * repeat))'),
        new_code_cell('from pathlib import Path\nPath(out_dir, "made.txt").write_text(greeting)'),
    )


@pytest.fixture
def failing_notebook(tmp_path):
    return write_notebook(
        tmp_path / "broken.ipynb",
        new_code_cell('print("before the failure")'),
        new_code_cell('raise ValueError("boom: " + greeting)'),
        new_code_cell('print("never reached")'),
    )


def test_run_keeps_the_executed_notebook_and_renders_html(ok_notebook, tmp_path):
    result = run_notebook(ok_notebook, {"greeting": "salut", "repeat": 3}, runs_root=tmp_path / "runs")
    assert result.ok and result.error is None
    assert result.run_dir.parent == (tmp_path / "runs" / "tiny").resolve()
    executed = nbformat.read(result.executed, as_version=4)
    outputs = [o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert "salut salut salut\n" in outputs
    # the out_dir parameter was given the run directory, so the notebook's files sit beside the record
    assert (result.run_dir / "made.txt").read_text() == "salut"
    html = result.html.read_text()
    assert "salut salut salut" in html
    assert "secret_code_marker" not in html  # report mode: code hidden from readers
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["ok"] is True and record["parameters"]["greeting"] == "salut"
    assert record["botcore_version"]
    source = nbformat.read(ok_notebook, as_version=4)
    assert all(not c.get("outputs") for c in source.cells if c.cell_type == "code")  # the source is untouched


def test_failed_cell_raises_and_keeps_the_partial_notebook_and_its_html(failing_notebook, tmp_path):
    with pytest.raises(PipelineError, match=r"ValueError: boom: hello.*partial notebook kept") as info:
        run_notebook(failing_notebook, {}, runs_root=tmp_path / "runs")
    result = info.value.result
    assert not result.ok
    executed = nbformat.read(result.executed, as_version=4)
    (failed,) = [c for c in executed.cells if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert failed.execution_count == result.failed_cell and "raise ValueError" in failed.source
    texts = [o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert "before the failure\n" in texts
    assert errors and errors[0]["ename"] == "ValueError"
    assert "never reached\n" not in texts
    html = result.html.read_text()
    assert "boom: hello" in html and "before the failure" in html
    assert json.loads((result.run_dir / "run.json").read_text())["ok"] is False


def test_unknown_parameter_is_refused_before_running(ok_notebook, tmp_path):
    with pytest.raises(PipelineError, match=r"unknown parameters \['colour'\]"):
        run_notebook(ok_notebook, {"colour": "red"}, runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_missing_kernel_names_the_install_command(ok_notebook, tmp_path):
    with pytest.raises(PipelineError, match="ipykernel install --sys-prefix --name no-such-kernel"):
        run_notebook(ok_notebook, runs_root=tmp_path / "runs", kernel_name="no-such-kernel")


def test_notebook_without_parameters_cell_is_refused(tmp_path):
    path = tmp_path / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1")], metadata=KERNEL), path)
    with pytest.raises(PipelineError, match="no cell tagged 'parameters'"):
        notebook_parameters(path)


def test_run_dirs_are_unique_per_run(tmp_path):
    a, b = new_run_dir(tmp_path, "x"), new_run_dir(tmp_path, "x")
    assert a != b and a.parent == b.parent == tmp_path / "x"


def test_render_html_of_a_stored_notebook(ok_notebook, tmp_path):
    html = render_html(ok_notebook, tmp_path / "source.html", report_mode=False)
    assert "secret_code_marker" in html.read_text()  # not report mode: code shown
