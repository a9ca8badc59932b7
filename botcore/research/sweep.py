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
  sample (by ``metric``) is then read out of sample, beside its in-sample
  score and beside every other point's, so overfitting shows
  (:attr:`SweepResult.folds`).
- Without folds, the grid runs once over the whole window (segment ``full``).
- **Ties** are broken explicitly (:func:`rank_points`): on an equal ``metric``
  the point with more closed trades wins (more evidence), then the earlier
  grid point; the tied points and the rule are written beside the pick.
- **Overfitting statistics** (:func:`grid_statistics`) over each point's
  hourly returns (the full window, or the test windows joined): the deflated
  Sharpe ratio of every point and of the best one (``vectorbt``'s
  ``deflated_sharpe_ratio``: the probability that its Sharpe beats the
  expected maximum of as many trials with no skill), and the probability of
  backtest overfitting by combinatorially symmetric cross-validation
  (:func:`pbo_cscv`, Bailey et al. 2015) when the series splits into
  :data:`CSCV_BLOCKS` blocks of at least :data:`CSCV_MIN_BLOCK_HOURS` hours;
  otherwise the reason is reported.

Tasks run in worker processes: a Dask ``LocalCluster`` with ``processes=True``
(``n_workers`` processes, one thread each: the kernels hold the GIL), the
scheduler at ``scheduler`` (``"tcp://host:8786"``; its workers need botcore
and the data path), or serially (``scheduler="serial"``) — the results are
identical (``tests/test_research_sweep.py``). Each task is a pure call of
:func:`run_task`: the worker reads the store from its path and ships back one
row of metrics and a short vector of hourly returns, never market data.
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

import numpy as np
import pandas as pd
from scipy import stats as sps
from vectorbt.returns import metrics as vbt_metrics

from botcore.analytics.metrics import equity_frame
from botcore.clock import DAY_MS, HOUR_MS
from botcore.config.models import Settings
from botcore.engine.backtest import resolve_window, restrict_settings, run_backtest
from botcore.engine.inputs import BAR_MS
from botcore.errors import DataError
from botcore.ledger import Ledger
from botcore.market.store import Store

logger = logging.getLogger(__name__)

CSCV_BLOCKS = 8
#: Hours each CSCV block needs (fewer: no PBO, and the report says why).
CSCV_MIN_BLOCK_HOURS = 6
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


def hourly_returns(equity: pd.DataFrame, starting_cash: float, start_ms: int, end_ms: int) -> np.ndarray:
    """Return the simple returns of the equity's last snapshot of each hour of ``[start_ms, end_ms]``.

    ``starting_cash`` is the value before the first hour; hours without a snapshot carry the previous close.
    """
    n = int((end_ms - start_ms) // HOUR_MS) + 1
    eq = equity_frame(equity)["equity_usd"] if len(equity) else pd.Series(dtype=float)
    closes = np.full(n, np.nan)
    if len(eq):
        hours = (eq.index.to_numpy(np.int64) - start_ms) // HOUR_MS
        keep = (hours >= 0) & (hours < n)
        h, v = hours[keep], eq.to_numpy()[keep]
        last = np.flatnonzero(np.r_[h[1:] != h[:-1], True]) if len(h) else h  # ascending: each hour's last
        closes[h[last]] = v[last]
    values = pd.Series(np.concatenate([[float(starting_cash)], closes])).ffill().to_numpy()
    return values[1:] / values[:-1] - 1.0


def run_task(task: Task, data: str, settings: Settings, out_root: str, *, warmup_bars: int, run_seed: int,
             symbols: Sequence[str] | None = None) -> dict[str, Any]:
    """Run one task's backtest; return its metrics (a pure function of the task, the data and the settings).

    The row's ``hourly_returns`` (an array) is what :func:`grid_statistics` reads; :func:`run_sweep` takes it
    out of the results table.
    """
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
    with Ledger.open(result.ledger_path, readonly=True) as ledger:
        row["hourly_returns"] = hourly_returns(ledger.equity(), float(s["starting_equity_usd"]), task.start_ms,
                                               task.end_ms)
    return row


class _Runner:
    """Runs tasks serially, on a process LocalCluster, or on a scheduler; a context manager owning what it started."""

    def __init__(self, scheduler: Any = None, n_workers: int = 1, threads_per_worker: int = 1,
                 processes: bool = True) -> None:
        self.scheduler, self.client, self.cluster = scheduler, None, None
        if scheduler == "serial":
            return
        from dask.distributed import Client, LocalCluster

        if scheduler is None or scheduler == "local":
            self.cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                        processes=processes, dashboard_address=None)
            self.client = Client(self.cluster)
        elif isinstance(scheduler, str):
            self.client = Client(scheduler)
        else:  # an existing Client
            self.client = scheduler
            self.scheduler = "client"

    def map(self, fn: Callable[..., dict[str, Any]], tasks: Sequence[Task],
            progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        """Run ``fn(task, **kwargs)`` for every task; results in task order; ``progress(done, total)`` as they end."""
        report = progress or (lambda done, total: None)
        if self.client is None:
            out = []
            for t in tasks:
                out.append(fn(t, **kwargs))
                report(len(out), len(tasks))
            return out
        from dask.distributed import as_completed

        futures = [self.client.submit(fn, t, key=f"botcore-sweep-{t.task_id}-{id(tasks)}", pure=False, **kwargs)
                   for t in tasks]
        for done, _ in enumerate(as_completed(futures), start=1):
            report(done, len(tasks))
        return self.client.gather(futures)

    def close(self) -> None:
        if self.scheduler != "client" and self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> _Runner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- ties and overfitting


TIE_RULE = "equal metric: more closed trades, then the earlier grid point"


def rank_points(rows: pd.DataFrame, metric: str, maximize: bool = True) -> pd.DataFrame:
    """Order grid points best first by ``metric`` (NaN last), ties broken by :data:`TIE_RULE`.

    Returns ``rows`` sorted, with ``rank`` (1 = best) and ``tied_with`` (the other points with the same
    ``metric`` value, comma-separated; empty when none).
    """
    r = rows.copy()
    score = r[metric].astype(float)
    key = (score if maximize else -score).fillna(-math.inf)
    r["_key"] = key
    r = r.sort_values(["_key", "n_trades", "point"], ascending=[False, False, True], kind="stable")
    r["rank"] = np.arange(1, len(r) + 1)
    ties = r.groupby("_key")["point"].apply(lambda p: [int(x) for x in p])
    r["tied_with"] = [",".join(str(p) for p in ties[k] if p != pt) for k, pt in zip(r["_key"], r["point"])]
    return r.drop(columns="_key")


def pbo_cscv(returns: np.ndarray, n_blocks: int = CSCV_BLOCKS) -> dict[str, float]:
    """Probability of backtest overfitting by combinatorially symmetric cross-validation (Bailey et al. 2015).

    ``returns`` is ``(T, N)``: N strategies (grid points) over the same T periods. The rows split into
    ``n_blocks`` contiguous blocks; for every half of the blocks as in-sample (the rest out of sample), the
    in-sample best by Sharpe is ranked out of sample; its relative rank ``w`` gives the logit
    ``log(w / (1 - w))``. PBO is the share of combinations with logit <= 0 (the IS best is at or below the
    OOS median). Returns ``pbo``, ``n_combinations`` and the mean logit.
    """
    x = np.asarray(returns, dtype=np.float64)
    t, n = x.shape
    blocks = np.array_split(np.arange(t - t % n_blocks), n_blocks)

    def sharpe(rows: np.ndarray) -> np.ndarray:
        sd = x[rows].std(axis=0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sd > 0, x[rows].mean(axis=0) / np.where(sd > 0, sd, 1.0), 0.0)

    logits = []
    for combo in itertools.combinations(range(n_blocks), n_blocks // 2):
        is_rows = np.concatenate([blocks[b] for b in combo])
        oos_rows = np.concatenate([blocks[b] for b in range(n_blocks) if b not in combo])
        best = int(np.argmax(sharpe(is_rows)))  # ties: the earlier point, as rank_points on an equal score
        oos = sharpe(oos_rows)
        w = float(sps.rankdata(oos)[best]) / (n + 1)
        logits.append(math.log(w / (1.0 - w)))
    lg = np.asarray(logits)
    return {"pbo": float(np.mean(lg <= 0)), "n_combinations": int(lg.size), "mean_logit": float(lg.mean())}


def grid_statistics(returns: np.ndarray, points: Sequence[int], best_point: int) -> dict[str, Any]:
    """Deflated Sharpe ratio of every point and of ``best_point``, and the PBO, from ``(T, N)`` hourly returns.

    DSR: ``vectorbt.returns.metrics.deflated_sharpe_ratio`` with the per-hour Sharpe of each point, the
    variance of the points' Sharpe ratios and N trials. PBO: :func:`pbo_cscv` when the series has
    :data:`CSCV_BLOCKS` blocks of :data:`CSCV_MIN_BLOCK_HOURS` hours and there are two points or more;
    otherwise ``pbo`` is NaN and ``pbo_note`` says why.
    """
    x = np.asarray(returns, dtype=np.float64)
    t, n = x.shape
    out: dict[str, Any] = {"n_points": n, "n_hours": t, "dsr": {}, "dsr_best": math.nan, "dsr_note": "",
                           "pbo": math.nan, "pbo_note": ""}
    sd = x.std(axis=0, ddof=1) if t > 1 else np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        sr = np.where(sd > 0, x.mean(axis=0) / sd, np.nan)
    if n < 2 or t < 3 or np.isnan(sr).sum() > n - 2:
        out["dsr_note"] = (f"needs 2 grid points with varying returns over 3 hours or more "
                           f"(have {n} points, {t} hours, {int(np.isfinite(sr).sum())} with a Sharpe ratio)")
    else:
        dsr = vbt_metrics.deflated_sharpe_ratio(
            est_sharpe=sr, var_sharpe=float(np.nanvar(sr, ddof=1)), nb_trials=n, backtest_horizon=t,
            skew=sps.skew(x, axis=0, bias=True), kurtosis=sps.kurtosis(x, axis=0, fisher=False, bias=True))
        out["dsr"] = {int(p): float(v) for p, v in zip(points, dsr)}
        out["dsr_best"] = out["dsr"][int(best_point)]
    need = CSCV_BLOCKS * CSCV_MIN_BLOCK_HOURS
    if n < 2:
        out["pbo_note"] = f"needs 2 grid points or more (have {n})"
    elif t < need:
        out["pbo_note"] = (f"needs {need} hours of returns ({CSCV_BLOCKS} blocks of {CSCV_MIN_BLOCK_HOURS} h), "
                           f"have {t}")
    else:
        out.update(pbo_cscv(x))
    return out


@dataclass
class SweepResult:
    """Every task's metrics (``results``) and, with folds, each fold's pick in sample vs out of sample (``folds``)."""

    results: pd.DataFrame
    folds: pd.DataFrame
    metric: str
    grid: dict[str, list[Any]] = field(default_factory=dict)
    statistics: dict[str, Any] = field(default_factory=dict)  # grid_statistics + the best point and ties

    def write(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``results.csv``, ``folds.csv`` and ``sweep.json``; return their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"results": out / "results.csv", "folds": out / "folds.csv", "json": out / "sweep.json"}
        self.results.to_csv(paths["results"], index=False)
        self.folds.to_csv(paths["folds"], index=False)
        doc = {"metric": self.metric, "grid": self.grid, "statistics": self.statistics,
               "results": json.loads(self.results.to_json(orient="records")),
               "folds": json.loads(self.folds.to_json(orient="records"))}
        paths["json"].write_text(json.dumps(doc, indent=2))
        return paths


def pick_folds(results: pd.DataFrame, metric: str, maximize: bool = True) -> pd.DataFrame:
    """Per fold: the best grid point in sample (:func:`rank_points`), its in-sample and out-of-sample ``metric``,
    the test mean over all points, and the points it tied with in sample."""
    rows = []
    for k, g in results[results["fold"] >= 0].groupby("fold", sort=True):
        train = rank_points(g[g["segment"] == "train"], metric, maximize)
        test = g[g["segment"] == "test"].set_index("point")
        best = train.iloc[0]
        p = int(best["point"])
        rows.append({"fold": int(k), "best_point": p, "params": best["params"],
                     "train_start_ms": int(best["start_ms"]), "test_start_ms": int(test.loc[p, "start_ms"]),
                     f"in_sample_{metric}": float(best[metric]), f"out_of_sample_{metric}": float(test.loc[p, metric]),
                     f"out_of_sample_mean_{metric}": float(test[metric].mean()),
                     "in_sample_trades": float(best["n_trades"]), "out_of_sample_trades": float(test.loc[p, "n_trades"]),
                     "tied_in_sample": best["tied_with"], "tie_break": TIE_RULE if best["tied_with"] else ""})
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
    n_workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run a grid (and walk-forward folds) as independent backtest tasks; see the module docstring.

    ``scheduler``: None or ``"local"`` (a process LocalCluster of ``n_workers``, default the machine's cores),
    ``"serial"``, an address, or a ``dask.distributed.Client``. ``progress(done, total)`` as tasks end.
    """
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
    workers = n_workers if n_workers is not None else max(1, min(os.cpu_count() or 1, len(tasks)))
    with _Runner(scheduler, n_workers=workers) as runner:
        rows = runner.map(run_task, tasks, progress=progress, data=str(store.root), settings=settings,
                          out_root=str(out_dir), warmup_bars=warmup_bars, run_seed=run_seed, symbols=symbols)
    returns = {r["task_id"]: r.pop("hourly_returns") for r in rows}
    results = pd.DataFrame(rows)
    maximize = metric not in ("max_drawdown_pct", "fees_usd")
    fold_table = pick_folds(results, metric, maximize) if folds else pd.DataFrame()
    stats = _statistics(results, returns, metric, maximize, bool(folds))
    return SweepResult(results, fold_table, metric, {k: list(v) for k, v in g.items()}, stats)


def _statistics(results: pd.DataFrame, returns: Mapping[str, np.ndarray], metric: str, maximize: bool,
                folds: bool) -> dict[str, Any]:
    """The grid's DSR and PBO over the full window's returns, or over the test windows joined in fold order."""
    seg = results[results["segment"] == ("test" if folds else "full")]
    points = sorted(int(p) for p in seg["point"].unique())
    series = {p: np.concatenate([returns[t] for t in seg[seg["point"] == p].sort_values("fold")["task_id"]])
              for p in points}
    matrix = np.column_stack([series[p] for p in points])
    per_point = seg.groupby("point").agg({metric: "mean", "n_trades": "sum", "params": "first"}).reset_index()
    ranked = rank_points(per_point, metric, maximize)
    best = ranked.iloc[0]
    out = grid_statistics(matrix, points, int(best["point"]))
    out.update({"basis": "test windows joined" if folds else "full window", "best_point": int(best["point"]),
                "best_params": best["params"], "tied_with": best["tied_with"],
                "tie_break": TIE_RULE if best["tied_with"] else ""})
    out["dsr"] = {str(k): v for k, v in out["dsr"].items()}
    return out


__all__ = ["METRICS", "SweepResult", "TIE_RULE", "Task", "grid_points", "grid_statistics", "hourly_returns",
           "make_tasks", "parse_grid", "pbo_cscv", "pick_folds", "rank_points", "run_sweep", "run_task",
           "walk_forward_folds"]
