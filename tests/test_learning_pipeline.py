"""``botcore learn`` through the papermill notebook (the audit record) and ``botcore params`` as a user runs them."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.learning import active_overrides
from botcore.learning.pipeline import LEARNING_NOTEBOOK
from botcore.learning.synthetic import write_demo_learning_ledger
from botcore.ledger import Ledger
from botcore.signals.engine import weights_array

runner = CliRunner()


@pytest.fixture()
def demo(tmp_path):
    path, end_ms = write_demo_learning_ledger(tmp_path / "ledger.db")
    return path, end_ms


def notebook_text(path) -> str:
    """All text the executed notebook shows (markdown, plain text, HTML, streams)."""
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            for key in ("text/markdown", "text/plain", "text/html"):
                value = out.get("data", {}).get(key)
                if value:
                    parts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(parts)


def test_notebook_is_stored_without_outputs_with_one_parameters_cell():
    from pipelines import notebook_parameters

    nb = nbformat.read(LEARNING_NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert set(notebook_parameters(LEARNING_NOTEBOOK)) == {
        "ledger_path", "data_dir", "config_dir", "learning_config", "backtest_ledger", "now_ms", "dry_run",
        "patterns", "out_dir"}


def test_learn_runs_the_notebook_and_every_change_appears_with_its_reason(demo, tmp_path):
    path, end_ms = demo
    result = runner.invoke(app, ["learn", "--ledger", str(path), "--out", str(tmp_path / "runs"),
                                 "--now", str(end_ms), "--patterns", "always"])
    assert result.exit_code == 0, result.output
    run_dir = next((tmp_path / "runs" / "learning").iterdir())
    executed, summary = run_dir / "learning.ipynb", json.loads((run_dir / "learning_run.json").read_text())
    assert executed.exists() and (run_dir / "learning.html").exists()
    assert f"notebook: {executed}" in result.output and "trend raised" in result.output
    with Ledger.open(path, readonly=True) as ledger:
        versions = ledger.list_params()
    assert set(versions["kind"]) == {"learning", "benched_symbols", "autonomy", "patterns"}
    assert sorted(summary["versions"]) == versions["version"].tolist()
    text = notebook_text(executed)
    for row in versions.itertuples(index=False):
        assert f"{row.kind} v{row.version}" in text
        assert row.reason in text, f"reason of {row.kind} v{row.version} missing from the notebook"
    assert "DOGE/USDT:USDT benched" in text and "trend raised" in text and "social_sentiment lowered" in text


def test_dry_run_in_process_writes_nothing(demo):
    path, end_ms = demo
    result = runner.invoke(app, ["learn", "--ledger", str(path), "--no-notebook", "--dry-run", "--now", str(end_ms),
                                 "--patterns", "never"])
    assert result.exit_code == 0, result.output
    assert "[dry run: nothing written]" in result.output and "trend raised" in result.output
    assert "no parameter version stored" in result.output
    with Ledger.open(path, readonly=True) as ledger:
        assert ledger.list_params().empty


def test_learn_refuses_an_unusable_ledger(tmp_path):
    result = runner.invoke(app, ["learn", "--ledger", str(tmp_path / "missing.db"), "--no-notebook"])
    assert result.exit_code == 2 and "ledger unusable" in result.output


def test_params_list_show_activate_and_rollback(demo, settings):
    path, end_ms = demo
    assert runner.invoke(app, ["learn", "--ledger", str(path), "--no-notebook", "--now", str(end_ms),
                               "--patterns", "always"]).exit_code == 0
    with Ledger.open(path, readonly=True) as ledger:
        versions = ledger.list_params().set_index("version")
        before_weights, before_overrides = active_overrides(ledger, settings, capital=False, patterns=False)
        learned = int(versions[(versions["kind"] == "learning") & (versions["active"] == 1)].index[0])
        prior = int(versions.loc[learned, "parent_version"])
        proposal = int(versions[versions["kind"] == "patterns"].index[0])

    listed = runner.invoke(app, ["params", "list", "--ledger", str(path)])
    assert listed.exit_code == 0
    for kind in ("learning", "benched_symbols", "autonomy", "patterns"):
        assert kind in listed.output
    assert "proposed" in listed.output and "active" in listed.output

    shown = runner.invoke(app, ["params", "show", str(learned), "--ledger", str(path)])
    assert shown.exit_code == 0
    assert "learning v" in shown.output and "trend raised" in shown.output and "signal weights" in shown.output
    assert '"strategy_overrides"' in shown.output and '"weights"' in shown.output
    active = runner.invoke(app, ["params", "show", "--kind", "benched_symbols", "--ledger", str(path)])
    assert active.exit_code == 0 and "DOGE/USDT:USDT" in active.output

    approved = runner.invoke(app, ["params", "activate", str(proposal), "--ledger", str(path)])
    assert approved.exit_code == 0 and f"v{proposal} active" in approved.output

    rolled = runner.invoke(app, ["params", "rollback", "learning", "--ledger", str(path), "--reason",
                                 "live drawdown after the reweighting"])
    assert rolled.exit_code == 0 and f"v{learned} -> v{prior}" in rolled.output
    # every activation and rollback is in the ledger with when, from, to and why
    with Ledger.open(path, readonly=True) as ledger:
        log = ledger.params_history("learning")
    last = log.iloc[-1]
    assert (last["action"], last["from_version"], last["to_version"]) == ("rollback", learned, prior)
    assert last["reason"].startswith("live drawdown after the reweighting (") and last["ts_ms"] > 0
    assert (log["to_version"] == learned).any()  # the learning cycle's own activation
    shown_log = runner.invoke(app, ["params", "history", "--ledger", str(path), "--kind", "learning"])
    assert shown_log.exit_code == 0 and "rollback" in shown_log.output and "live drawdown" in shown_log.output
    with Ledger.open(path, readonly=True) as ledger:
        weights, overrides = active_overrides(ledger, settings, capital=False, patterns=False)
        assert np.array_equal(weights, weights_array(settings.signals))
        assert overrides == {}
        assert not np.array_equal(weights, before_weights)
    # back again to the learned version: exactly what was active before
    assert runner.invoke(app, ["params", "activate", str(learned), "--ledger", str(path)]).exit_code == 0
    with Ledger.open(path, readonly=True) as ledger:
        weights, overrides = active_overrides(ledger, settings, capital=False, patterns=False)
    assert np.array_equal(weights, before_weights) and overrides == before_overrides

    assert runner.invoke(app, ["params", "show", "999", "--ledger", str(path)]).exit_code == 1
    assert runner.invoke(app, ["params", "rollback", "nothing", "--ledger", str(path)]).exit_code == 1
    assert runner.invoke(app, ["params", "list", "--ledger", str(path) + ".missing"]).exit_code == 2
