"""Sweeps and walk-forward on Dask: a LocalCluster gives exactly the serial results; folds report IS beside OOS."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.config import load_settings
from botcore.engine.backtest import restrict_settings
from botcore.market.sample import generate_sample_market
from botcore.research.sweep import (
    grid_points,
    grid_statistics,
    parse_grid,
    pbo_cscv,
    rank_points,
    run_sweep,
    walk_forward_folds,
)
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

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
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


def test_walk_forward_on_a_process_local_cluster_equals_the_serial_run_exactly(market, cluster, tmp_path):
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
    assert {"tied_in_sample", "tie_break"} <= set(f.columns)
    st = on_dask.statistics
    assert st == serial.statistics or json.dumps(st, default=str) == json.dumps(serial.statistics, default=str)
    assert st["basis"] == "test windows joined" and st["n_points"] == 2 and st["n_hours"] == 2 * 3
    assert st["pbo_note"].startswith("needs 48 hours")  # two 0.1-day test windows: too short for CSCV
    assert "hourly_returns" not in on_dask.results.columns


def test_sweep_command_writes_csv_and_json_and_prints_in_and_out_of_sample(market, tmp_path):
    out = tmp_path / "out"
    args = ["sweep", "--data", str(market), "--config", str(CONFIG_DIR), "--symbols", ",".join(SYMBOLS),
            "--grid", "min_conviction.trend_conservative=0.12,0.3", "--grid", "kelly_conviction_pivot=0.1",
            "--folds", "1", "--train-days", "0.2", "--test-days", "0.1", "--warmup-bars", "600",
            "--scheduler", "serial", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "walk-forward" in result.output and "out of sample" in result.output
    text = " ".join(result.output.split())
    assert "PBO not computed: needs 48 hours of returns" in text and "best point" in text
    doc = json.loads((out / "sweep.json").read_text())
    assert len(doc["results"]) == 4 and len(doc["folds"]) == 1
    assert (out / "results.csv").exists() and (out / "folds.csv").exists()


# --------------------------------------------------------------------------- ties, DSR and PBO


def test_ties_are_broken_explicitly_more_trades_then_the_earlier_point():
    rows = pd.DataFrame({"point": [0, 1, 2, 3], "total_return": [0.01, 0.02, 0.02, float("nan")],
                         "n_trades": [5, 3, 7, 9], "params": ["a", "b", "c", "d"]})
    ranked = rank_points(rows, "total_return")
    assert list(ranked["point"]) == [2, 1, 0, 3]  # 2 and 1 tie on 0.02: 2 has more trades; NaN last
    assert ranked.iloc[0]["tied_with"] == "1" and ranked.iloc[1]["tied_with"] == "2"
    same = rows.assign(n_trades=[4, 4, 4, 4])
    assert list(rank_points(same, "total_return")["point"])[:2] == [1, 2]  # equal trades too: the earlier point
    assert list(rank_points(rows, "total_return", maximize=False)["point"])[:1] == [0]


def test_pbo_is_low_for_a_truly_better_point_and_near_half_for_noise():
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 0.01, (480, 8))
    skilled = noise.copy()
    skilled[:, 3] += 0.004  # one point with a real edge in every block
    assert pbo_cscv(skilled)["pbo"] < 0.1
    pure = pbo_cscv(noise)
    assert pure["n_combinations"] == 70 and 0.2 < pure["pbo"] < 0.8


def test_deflated_sharpe_ratio_equals_vectorbt_over_the_grid():
    import vectorbt as vbt  # noqa: F401  (registers the .vbt accessor)

    rng = np.random.default_rng(1)
    x = rng.normal(0.0002, 0.01, (300, 6))
    st = grid_statistics(x, list(range(6)), best_point=2)
    frame = pd.DataFrame(x, index=pd.date_range("2024-01-01", periods=300, freq="h"))
    ref = frame.vbt.returns(freq="1h").deflated_sharpe_ratio(ddof=1)
    assert [st["dsr"][p] for p in range(6)] == pytest.approx(ref.to_numpy(), rel=1e-9)
    assert st["dsr_best"] == st["dsr"][2] and st["pbo_note"] == "" and 0 <= st["pbo"] <= 1
    short = grid_statistics(x[:20], list(range(6)), best_point=0)
    assert np.isnan(short["pbo"]) and short["pbo_note"] == "needs 48 hours of returns (8 blocks of 6 h), have 20"


def test_hourly_returns_take_each_hours_last_snapshot_and_carry_gaps():
    from botcore.research.sweep import hourly_returns

    h = 3_600_000
    eq = pd.DataFrame({"ts_ms": [0, 60_000, h - 60_000, 2 * h + 5, 2 * h + 9], "equity_usd": [1.0, 2.0, 110.0, 99.0, 121.0]})
    r = hourly_returns(eq, 100.0, 0, 3 * h)
    assert r.tolist() == pytest.approx([0.10, 0.0, 0.10, 0.0])  # 100 -> 110, carried, -> 121, carried
