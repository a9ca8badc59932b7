"""Parameter sweeps and walk-forward folds as independent backtest tasks on Dask.

A **task** (:class:`Task`) is one backtest of the production engine
(:func:`botcore.engine.backtest.run_backtest`) over one window with one set of
``params_overrides`` (keys as :func:`botcore.strategy.build_params` takes
them: ``"field"`` or ``"field.strategy_name"``); :func:`run_task` is a pure
function of the task and the data: same task, same numbers.

- A **grid** (:func:`parse_grid`, ``"min_conviction.trend_conservative=0.2,0.3"``)
  is the cartesian product of its values.
- **Walk-forward** (:func:`walk_forward_folds`): fold ``k`` trains on
  ``[s + k * test, s + k * test + train)`` and tests on the ``test`` days after
  it (rolling, non-overlapping test windows). Every grid point runs on every
  train and every test window (all independent tasks); the best point in
  sample (by ``metric``, ties to the earlier grid point) is then read out of
  sample, beside its in-sample score and beside every other point's, so
  overfitting shows (:attr:`SweepResult.folds`).
- Without folds, the grid runs once over the whole window (segment ``full``).

Tasks run on a Dask ``LocalCluster`` (one in-process worker by default,
``processes=False``) or on the scheduler at ``scheduler`` (``"tcp://host:8786"``;
its workers need botcore and the data path), or serially (``scheduler="serial"``)
— the results are identical (``tests/test_research_sweep.py``).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from botcore.config.models import Settings
from botcore.engine.inputs import BAR_MS
from botcore.errors import DataError

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000
METRICS = ("total_return", "sharpe", "sortino", "profit_factor", "win_rate", "expectancy_usd", "max_drawdown_pct",
           "fees_usd", "funding_usd", "n_trades", "trades_per_day", "exposure")


def _value(text: str) -> Any:
    text = text.strip()
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            continue
    return text


def parse_grid(specs: Sequence[str] | str) -> dict[str, list[Any]]:
    """Parse ``"key=v1,v2"`` specs (several, or one string joined by ``;``) into ``{key: [values]}``."""
    if isinstance(specs, str):
        specs = [s for s in specs.split(";") if s.strip()]
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ValueError(f"grid: {spec!r} is not 'key=v1,v2,...'")
        if key in grid:
            raise ValueError(f"grid: {key!r} given twice")
        grid[key] = [_value(v) for v in values.split(",") if v.strip()]
    return grid


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Return the cartesian product of the grid as override dicts (in the grid's order)."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))] if keys else [{}]


def walk_forward_folds(start_ms: int, end_ms: int, n_folds: int, train_days: float, test_days: float) -> list[tuple[int, int, int, int]]:
    """Return ``(train_start, train_end, test_start, test_end)`` cycle times (inclusive) of each fold; refuse what does not fit."""
    train, test = int(round(train_days * DAY_MS / BAR_MS)) * BAR_MS, int(round(test_days * DAY_MS / BAR_MS)) * BAR_MS
    if n_folds < 1 or train < BAR_MS or test < BAR_MS:
        raise ValueError(f"folds: need folds >= 1 and train/test days of at least a minute, got {n_folds}, "
                         f"{train_days}, {test_days}")
    out = []
    for k in range(n_folds):
        tr0 = start_ms + k * test
        te0 = tr0 + train
        te1 = te0 + test - BAR_MS
        if te1 > end_ms:
            raise DataError(f"folds: fold {k + 1} of {n_folds} ends after the data ({te1} > {end_ms}); "
                            "use fewer folds or shorter windows")
        out.append((tr0, te0 - BAR_MS, te0, te1))
    return out


@dataclass(frozen=True)
class Task:
    """One backtest: a window and a set of overrides."""

    task_id: str
    fold: int  # -1: no folds
    segment: str  # "full", "train" or "test"
    point: int  # index of the grid point
    overrides: tuple[tuple[str, Any], ...]
    start_ms: int
    end_ms: int


def make_tasks(points: Sequence[Mapping[str, Any]], window: tuple[int, int],
               folds: Sequence[tuple[int, int, int, int]] = ()) -> list[Task]:
    """Return the tasks: every grid point on every train and test window (or once on ``window``)."""
    tasks = []
    for p, point in enumerate(points):
        ov = tuple(point.items())
        if not folds:
            tasks.append(Task(f"full-p{p}", -1, "full", p, ov, window[0], window[1]))
        for k, (tr0, tr1, te0, te1) in enumerate(folds):
            tasks.append(Task(f"f{k}-train-p{p}", k, "train", p, ov, tr0, tr1))
            tasks.append(Task(f"f{k}-test-p{p}", k, "test", p, ov, te0, te1))
    return tasks


def run_task(task: Task, data: str, settings: Settings, out_root: str, *, warmup_bars: int, run_seed: int,
             symbols: Sequence[str] | None = None) -> dict[str, Any]:
    """Run one task's backtest; return its metrics (a pure function of the task, the data and the settings)."""
    from botcore.engine.backtest import run_backtest

    out = Path(out_root) / "tasks" / task.task_id
    result = run_backtest(data, settings, out, start_ms=task.start_ms, end_ms=task.end_ms, symbols=symbols,
                          warmup_bars=warmup_bars, run_seed=run_seed, params_overrides=dict(task.overrides),
                          trail="changes")
    s = result.summary
    row: dict[str, Any] = {"task_id": task.task_id, "fold": task.fold, "segment": task.segment, "point": task.point,
                           "params": json.dumps(dict(task.overrides), sort_keys=True), "start_ms": task.start_ms,
                           "end_ms": task.end_ms, "n_bars": s.get("n_bars")}
    for m in METRICS:
        v = s.get(m)
        row[m] = float(v) if isinstance(v, (int, float)) and v is not None else math.nan
    row["invariant_ok"] = bool(s.get("invariant_ok"))
    return row


class _Runner:
    """Runs tasks serially, on a LocalCluster, or on a scheduler; a context manager owning what it started."""

    def __init__(self, scheduler: Any = None, n_workers: int = 1, threads_per_worker: int = 2) -> None:
        self.scheduler, self.client, self.cluster = scheduler, None, None
        if scheduler == "serial":
            return
        from dask.distributed import Client, LocalCluster

        if scheduler is None or scheduler == "local":
            self.cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=False,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        elif isinstance(scheduler, str):
            self.client = Client(scheduler)
        else:  # an existing Client
            self.client = scheduler
            self.scheduler = "client"

    def map(self, fn: Callable[..., dict[str, Any]], tasks: Sequence[Task], **kwargs: Any) -> list[dict[str, Any]]:
        if self.client is None:
            return [fn(t, **kwargs) for t in tasks]
        futures = [self.client.submit(fn, t, key=f"botcore-sweep-{t.task_id}-{id(tasks)}", pure=False, **kwargs)
                   for t in tasks]
        return self.client.gather(futures)

    def close(self) -> None:
        if self.scheduler != "client" and self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> "_Runner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@dataclass
class SweepResult:
    """Every task's metrics (``results``) and, with folds, each fold's pick in sample vs out of sample (``folds``)."""

    results: pd.DataFrame
    folds: pd.DataFrame
    metric: str
    grid: dict[str, list[Any]] = field(default_factory=dict)

    def write(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``results.csv``, ``folds.csv`` and ``sweep.json``; return their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"results": out / "results.csv", "folds": out / "folds.csv", "json": out / "sweep.json"}
        self.results.to_csv(paths["results"], index=False)
        self.folds.to_csv(paths["folds"], index=False)
        doc = {"metric": self.metric, "grid": self.grid,
               "results": json.loads(self.results.to_json(orient="records")),
               "folds": json.loads(self.folds.to_json(orient="records"))}
        paths["json"].write_text(json.dumps(doc, indent=2))
        return paths


def pick_folds(results: pd.DataFrame, metric: str, maximize: bool = True) -> pd.DataFrame:
    """Per fold: the best grid point in sample, its in-sample and out-of-sample ``metric``, and the test mean over all points."""
    rows = []
    for k, g in results[results["fold"] >= 0].groupby("fold", sort=True):
        train = g[g["segment"] == "train"].sort_values("point", kind="stable")
        test = g[g["segment"] == "test"].set_index("point")
        score = train[metric].fillna(-math.inf if maximize else math.inf)
        best = train.loc[score.idxmax() if maximize else score.idxmin()]
        p = int(best["point"])
        rows.append({"fold": int(k), "best_point": p, "params": best["params"],
                     "train_start_ms": int(best["start_ms"]), "test_start_ms": int(test.loc[p, "start_ms"]),
                     f"in_sample_{metric}": float(best[metric]), f"out_of_sample_{metric}": float(test.loc[p, metric]),
                     f"out_of_sample_mean_{metric}": float(test[metric].mean()),
                     "in_sample_trades": float(best["n_trades"]), "out_of_sample_trades": float(test.loc[p, "n_trades"])})
    return pd.DataFrame(rows)


def run_sweep(
    data: str | os.PathLike[str],
    settings: Settings,
    grid: Mapping[str, Sequence[Any]] | Sequence[str] | str,
    out_dir: str | os.PathLike[str],
    *,
    folds: int = 0,
    train_days: float = 1.0,
    test_days: float = 0.5,
    start_ms: int | None = None,
    end_ms: int | None = None,
    symbols: Sequence[str] | None = None,
    warmup_bars: int = 1_440,
    run_seed: int = 0,
    metric: str = "total_return",
    scheduler: Any = None,
    n_workers: int = 1,
) -> SweepResult:
    """Run a grid (and walk-forward folds) as independent backtest tasks; see the module docstring.

    ``scheduler``: None or ``"local"`` (a LocalCluster), ``"serial"``, an address, or a ``dask.distributed.Client``.
    """
    from botcore.engine.backtest import resolve_window, restrict_settings
    from botcore.market.store import Store

    if metric not in METRICS:
        raise ValueError(f"metric: must be one of {', '.join(METRICS)}, got {metric!r}")
    g = dict(grid) if isinstance(grid, Mapping) else parse_grid(grid)
    points = grid_points(g)
    store = Store(data)
    if not store.root.is_dir():
        raise DataError(f"data: {store.root} is not a directory")
    syms = [a.symbol for a in restrict_settings(settings, symbols).universe.enabled]
    window = resolve_window(store, syms, start_ms, end_ms, warmup_bars)
    fold_windows = walk_forward_folds(window.start_ms, window.end_ms, folds, train_days, test_days) if folds else []
    tasks = make_tasks(points, (window.start_ms, window.end_ms), fold_windows)
    logger.info("sweep: %d grid points x %s = %d tasks", len(points), f"{folds} folds x 2" if folds else "1 window",
                len(tasks))
    with _Runner(scheduler, n_workers=n_workers) as runner:
        rows = runner.map(run_task, tasks, data=str(store.root), settings=settings, out_root=str(out_dir),
                          warmup_bars=warmup_bars, run_seed=run_seed, symbols=symbols)
    results = pd.DataFrame(rows)
    maximize = metric not in ("max_drawdown_pct", "fees_usd")
    fold_table = pick_folds(results, metric, maximize) if folds else pd.DataFrame()
    return SweepResult(results, fold_table, metric, {k: list(v) for k, v in g.items()})


__all__ = ["METRICS", "SweepResult", "Task", "grid_points", "make_tasks", "parse_grid", "pick_folds", "run_sweep",
           "run_task", "walk_forward_folds"]
