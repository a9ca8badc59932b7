"""Everything the learning system does in one call, and the papermill run of its notebook.

:func:`run_learning` runs, in order: the learning cycle (weights and
thresholds), symbol benching, the autonomy controller (health, drift,
capital multiplier) and, once a day, the intelligence learner (pattern
proposals). :func:`run_learning_notebook` runs ``notebooks/pipelines/learning.ipynb``
(which calls :func:`run_learning` and shows every table and reason) through
:func:`pipelines.run_notebook`; the executed notebook is the audit record.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from botcore.config.models import Settings
from botcore.learning.autonomy import AutonomyReport, evaluate_autonomy
from botcore.learning.benching import BenchingReport, evaluate_benching
from botcore.learning.config import LearningConfig
from botcore.learning.cycle import CycleReport, run_learning_cycle
from botcore.learning.patterns import PatternReport, patterns_due, run_pattern_learner
from botcore.ledger import Ledger
from botcore.ledger import now_ms as wall_now_ms

logger = logging.getLogger(__name__)

__all__ = ["LEARNING_NOTEBOOK", "LearningRun", "changes_since", "last_version", "run_learning", "run_learning_notebook"]

#: The pipeline notebook of the learning system.
LEARNING_NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "pipelines" / "learning.ipynb"

PatternMode = Literal["due", "always", "never"]


@dataclass
class LearningRun:
    """The reports of one learning run and the parameter versions it stored."""

    ts_ms: int
    dry_run: bool
    cycle: CycleReport
    benching: BenchingReport
    autonomy: AutonomyReport
    patterns: PatternReport | None

    def versions(self) -> list[int]:
        """Return the parameter versions this run stored, in order."""
        out = [self.cycle.prior_version, self.cycle.version, self.benching.version, self.autonomy.version,
               None if self.patterns is None else self.patterns.version]
        return [v for v in out if v is not None]

    def summary(self) -> dict[str, Any]:
        """Return a JSON-able summary (what the CLI prints and ``learning_run.json`` holds)."""
        return {
            "ts_ms": self.ts_ms, "dry_run": self.dry_run, "versions": self.versions(),
            "cycle": self.cycle.to_dict(),
            "benching": {"benched": self.benching.benched, "returned": self.benching.returned,
                         "reasons": self.benching.reasons, "version": self.benching.version,
                         "on_bench": sorted(self.benching.state.get("symbols", {}))},
            "autonomy": self.autonomy.to_dict(),
            "patterns": None if self.patterns is None else {
                "version": self.patterns.version, "n_tested": self.patterns.n_tested,
                "n_discoveries": int(len(self.patterns.discoveries)), "reasons": self.patterns.reasons},
        }


def run_learning(
    ledger: Ledger,
    settings: Settings,
    *,
    cfg: LearningConfig | None = None,
    store: Any = None,
    now_ms: int | None = None,
    dry_run: bool = False,
    patterns: PatternMode = "due",
    backtest_trades: pd.DataFrame | None = None,
    reference_scores: np.ndarray | None = None,
    recent_scores: np.ndarray | None = None,
) -> LearningRun:
    """Run the cycle, benching, autonomy and (when due, daily) the pattern learner; return their reports.

    ``dry_run`` computes everything and writes nothing. ``patterns``:
    ``due`` (once a day), ``always`` or ``never``.
    """
    cfg = cfg or LearningConfig()
    now = int(wall_now_ms() if now_ms is None else now_ms)
    cycle = run_learning_cycle(ledger, settings, cfg=cfg, store=store, now_ms=now, dry_run=dry_run)
    bench = evaluate_benching(ledger, settings, cfg=cfg, now_ms=now, store=store, dry_run=dry_run)
    auto = evaluate_autonomy(ledger, settings, cfg=cfg, now_ms=now, store=store, reference_scores=reference_scores,
                             recent_scores=recent_scores, backtest_trades=backtest_trades, dry_run=dry_run)
    pat = None
    if patterns == "always" or (patterns == "due" and patterns_due(ledger, now)):
        pat = run_pattern_learner(ledger, settings, cfg=cfg, now_ms=now, store=store, dry_run=dry_run)
    return LearningRun(now, dry_run, cycle, bench, auto, pat)


def run_learning_notebook(
    ledger_path: str | os.PathLike | None,
    *,
    out: str | os.PathLike = "runs",
    data_dir: str | os.PathLike | None = None,
    config_dir: str | os.PathLike | None = None,
    learning_config: str | os.PathLike | None = None,
    backtest_ledger: str | os.PathLike | None = None,
    now_ms: int = 0,
    dry_run: bool = False,
    patterns: PatternMode = "due",
    **runner_kwargs: Any,
) -> Any:
    """Run the learning notebook through papermill into ``<out>/learning/<UTC timestamp>/``; return the RunResult.

    ``ledger_path`` None or empty: the notebook writes and learns on a
    SYNTHETIC demo ledger in its run directory. Raises
    :class:`pipelines.PipelineError` when a cell fails (the partial notebook is kept).
    """
    from pipelines import run_notebook

    def s(p: Any) -> str:
        return str(Path(p).resolve()) if p else ""

    params = {"ledger_path": s(ledger_path), "data_dir": s(data_dir), "config_dir": s(config_dir),
              "learning_config": s(learning_config), "backtest_ledger": s(backtest_ledger),
              "now_ms": int(now_ms or 0), "dry_run": bool(dry_run), "patterns": str(patterns)}
    return run_notebook(LEARNING_NOTEBOOK, params, runs_root=out, name="learning", **runner_kwargs)


def changes_since(ledger: Ledger, version: int | None) -> pd.DataFrame:
    """Return the parameter versions stored after ``version`` (all when None): kind, time, active, parent, reason."""
    params = ledger.list_params()
    if version is not None and len(params):
        params = params[params["version"] > int(version)]
    out = params[["version", "kind", "created_ts_ms", "active", "parent_version", "reason"]].copy()
    out["created"] = pd.to_datetime(out["created_ts_ms"], unit="ms", utc=True)
    return out[["version", "kind", "created", "active", "parent_version", "reason"]].reset_index(drop=True)


def last_version(ledger: Ledger) -> int | None:
    """Return the newest parameter version number (None for none)."""
    params = ledger.list_params()
    return int(params["version"].max()) if len(params) else None
