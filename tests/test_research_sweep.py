"""Sweeps and walk-forward on Dask: a LocalCluster gives exactly the serial results; folds report IS beside OOS."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.config import load_settings
from botcore.engine.backtest import restrict_settings
from botcore.market.sample import generate_sample_market
from botcore.research.sweep import grid_points, parse_grid, run_sweep, walk_forward_folds
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
GRID = {"min_conviction.trend_conservative": [0.12, 0.3], "kelly_conviction_pivot": [0.1],
        "min_conviction.sentiment_fusion": [0.12], "min_conviction.breakout_aggressive": [0.12]}
runner = CliRunner()


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep") / "market"
    generate_sample_market(root, 1.6, 9, restrict_settings(SETTINGS, SYMBOLS))
    return root


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc, \
            Client(lc) as client:
        yield client


def _numbers(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("task_id").reset_index(drop=True)


def test_grids_parse_and_expand_in_order():
    g = parse_grid(["min_conviction.trend_conservative=0.2,0.3", "kelly_conviction_pivot=0.1"])
    assert g == {"min_conviction.trend_conservative": [0.2, 0.3], "kelly_conviction_pivot": [0.1]}
    assert grid_points(g) == [{"min_conviction.trend_conservative": 0.2, "kelly_conviction_pivot": 0.1},
                              {"min_conviction.trend_conservative": 0.3, "kelly_conviction_pivot": 0.1}]
    with pytest.raises(ValueError, match="key=v1"):
        parse_grid(["nonsense"])
    folds = walk_forward_folds(0, 10 * 86_400_000, 2, 2, 1)
    assert folds[1][0] == 86_400_000 and folds[0][2] == folds[0][1] + 60_000


def test_walk_forward_on_a_local_cluster_equals_the_serial_run_exactly(market, cluster, tmp_path):
    kw = dict(folds=2, train_days=0.25, test_days=0.1, symbols=SYMBOLS, warmup_bars=600, run_seed=3)
    on_dask = run_sweep(market, SETTINGS, GRID, tmp_path / "dask", scheduler=cluster, **kw)
    serial = run_sweep(market, SETTINGS, GRID, tmp_path / "serial", scheduler="serial", **kw)
    assert len(on_dask.results) == 2 * 2 * 2
    pd.testing.assert_frame_equal(_numbers(on_dask.results), _numbers(serial.results), check_exact=True)
    pd.testing.assert_frame_equal(on_dask.folds, serial.folds, check_exact=True)
    assert on_dask.results["invariant_ok"].all()
    assert on_dask.results["n_trades"].sum() > 0
    f = on_dask.folds
    assert list(f["fold"]) == [0, 1]
    assert {"in_sample_total_return", "out_of_sample_total_return", "out_of_sample_mean_total_return"} <= set(f.columns)
    # the pick is the in-sample best
    train = on_dask.results[(on_dask.results["segment"] == "train") & (on_dask.results["fold"] == 0)]
    assert f.loc[0, "in_sample_total_return"] == train["total_return"].max()


def test_sweep_command_writes_csv_and_json_and_prints_in_and_out_of_sample(market, tmp_path):
    out = tmp_path / "out"
    args = ["sweep", "--data", str(market), "--config", str(CONFIG_DIR), "--symbols", ",".join(SYMBOLS),
            "--grid", "min_conviction.trend_conservative=0.12,0.3", "--grid", "kelly_conviction_pivot=0.1",
            "--folds", "1", "--train-days", "0.2", "--test-days", "0.1", "--warmup-bars", "600",
            "--scheduler", "serial", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "walk-forward" in result.output and "out of sample" in result.output
    doc = json.loads((out / "sweep.json").read_text())
    assert len(doc["results"]) == 4 and len(doc["folds"]) == 1
    assert (out / "results.csv").exists() and (out / "folds.csv").exists()
