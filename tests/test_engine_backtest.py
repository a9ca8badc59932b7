"""The backtest, the replay command and the demo, as a user runs them."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.config import load_settings
from botcore.engine.backtest import resolve_window, restrict_settings, run_backtest
from botcore.engine.report import gate_counts_from_ledger
from botcore.engine.state import Engine
from botcore.engine.testing import ACTIVE_OVERRIDES, diff_ledgers
from botcore.errors import DataError
from botcore.ledger import Ledger
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.market.store import Store
from botcore.strategy.enums import Reason
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
MIN = 60_000
DECISION_COLUMNS = ("ts_ms", "symbol", "strategy", "outcome", "reason_code", "reason_mask", "detail")
DAY = 86_400_000
START = DEFAULT_START_MS + 3 * DAY + MIN
runner = CliRunner()


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("bt") / "market"
    generate_sample_market(root, 3.3, 5, SETTINGS)
    return root


def _when(ts_ms: int) -> str:
    return pd.Timestamp(ts_ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M")


def test_backtest_command_writes_a_ledger_and_the_summary(market, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["backtest", "--data", str(market), "--out", str(out), "--config", str(CONFIG_DIR),
                                 "--start", _when(START), "--end", _when(START + 240 * MIN), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "profit factor" in result.output and "SYNTHETIC" in result.output and "ledger invariant" in result.output
    summary = json.loads((out / "summary.json").read_text())
    for key in ("total_return", "profit_factor", "win_rate", "expectancy_usd", "sharpe", "sortino", "max_drawdown_pct",
                "fees_usd", "funding_usd", "exposure", "trades_per_day", "gate_counts", "n_trades"):
        assert key in summary
    assert summary["n_bars"] == 241 and summary["invariant_ok"] is True
    with Ledger.open(out / "ledger.sqlite", readonly=True) as led:
        assert led.get_meta("mode") == "backtest"
        assert len(led.equity()) == 241
        assert len(led.decisions()) == 241 * 15  # a short run keeps the full trail
        assert led.check_invariant().ok


def test_a_compressed_trail_keeps_exact_gate_counts_and_fresh_latest_rows(market, tmp_path):
    n_bars = 181
    result = run_backtest(market, SETTINGS, tmp_path, start_ms=START, end_ms=START + (n_bars - 1) * MIN, run_seed=1,
                          trail="changes", trail_every=30)
    with Ledger.open(result.ledger_path, readonly=True) as led:
        decisions = led.decisions()
        from_ledger = gate_counts_from_ledger(led)
    assert len(decisions) < 15 * n_bars / 2
    bars = decisions["detail"].map(lambda d: json.loads(d)["bars"])
    assert bars.sum() == 15 * n_bars
    assert from_ledger == result.summary["gate_counts"]
    assert sum(sum(v.values()) for v in result.summary["gate_counts"].values()) == 15 * n_bars
    latest = decisions.groupby("symbol")["ts_ms"].max()
    assert len(latest) == 15 and (latest >= result.window.end_ms - 30 * MIN).all()


def test_trail_levels_keep_the_ledger_exact_and_write_full_entry_or_no_decision_rows(market, tmp_path):
    n_bars = 241
    runs = {level: run_backtest(market, SETTINGS, tmp_path / level, start_ms=START, end_ms=START + (n_bars - 1) * MIN,
                                run_seed=4, trail=level, params_overrides=dict(ACTIVE_OVERRIDES))
            for level in ("full", "entries", "none")}
    decisions = {}
    for level, result in runs.items():
        assert result.summary["trail"] == level and result.summary["invariant_ok"] is True
        with Ledger.open(result.ledger_path, readonly=True) as led:
            decisions[level] = led.decisions()[list(DECISION_COLUMNS)].reset_index(drop=True)
        assert result.summary["decision_rows"] == len(decisions[level])
    for level in ("entries", "none"):
        assert diff_ledgers(runs["full"].ledger_path, runs[level].ledger_path) == {}, level
        assert runs[level].summary["gate_counts"] == runs["full"].summary["gate_counts"]
        assert runs[level].summary["net_pnl_usd"] == runs["full"].summary["net_pnl_usd"]
    full = decisions["full"]
    assert len(full) == 15 * n_bars
    traded = full[full["outcome"].isin([Reason.entered, Reason.exited])].reset_index(drop=True)
    assert (traded["outcome"] == Reason.entered).any(), "the case must enter positions"
    pd.testing.assert_frame_equal(decisions["entries"], traded)
    assert decisions["none"].empty


def test_backtest_command_refuses_an_unknown_trail_level(market, tmp_path):
    result = runner.invoke(app, ["backtest", "--data", str(market), "--out", str(tmp_path), "--config", str(CONFIG_DIR),
                                 "--trail", "some"])
    assert result.exit_code != 0 and "use auto, full, changes, entries or none" in result.output


def test_shipped_configuration_trades_rarely_on_the_sample_market_and_says_why(market, tmp_path):
    result = run_backtest(market, SETTINGS, tmp_path, start_ms=START, end_ms=START + 300 * MIN, run_seed=2)
    skipped = result.summary["gate_counts"]["skipped"]
    top = max(skipped, key=skipped.get)
    assert top == "conviction_below_threshold"
    assert skipped[top] > 0.9 * 15 * 301
    assert result.summary["top_blocks"][0][0] == top


def test_run_replays_a_store_in_paper_mode_one_transaction_per_cycle(market, tmp_path):
    ledger = tmp_path / "paper.sqlite"
    result = runner.invoke(app, ["run", "--mode", "paper", "--feed", "replay", "--data", str(market), "--ledger",
                                 str(ledger), "--config", str(CONFIG_DIR), "--start", _when(START), "--cycles", "20"])
    assert result.exit_code == 0, result.output
    with Ledger.open(ledger, readonly=True) as led:
        beats = led.heartbeats()
        cycle_beats = beats[beats["detail"].fillna("").str.contains('"cycle"')]  # the heartbeat thread beats too
        assert len(cycle_beats) == 20 and len(led.equity()) == 20 and len(led.decisions()) == 20 * 15
        assert beats["status"].iloc[-1] == "stopped"
        assert led.get_meta("mode") == "paper" and led.check_invariant().ok
    again = runner.invoke(app, ["run", "--data", str(market), "--ledger", str(ledger), "--config", str(CONFIG_DIR)])
    assert again.exit_code in (0, 1)


@pytest.mark.parametrize("mode", ["demo", "live"])
def test_demo_and_live_modes_are_refused_without_their_opt_ins(mode, tmp_path, monkeypatch):
    for name in ("BLOFIN_API_KEY", "BLOFIN_API_SECRET", "BLOFIN_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    replay = runner.invoke(app, ["run", "--mode", mode, "--ledger", str(tmp_path / "x.sqlite"), "--config",
                                 str(CONFIG_DIR)])
    assert replay.exit_code == 2
    text = replay.output
    assert ("--confirm-live" in text) if mode == "live" else ("needs --feed live" in text)
    live = runner.invoke(app, ["run", "--mode", mode, "--feed", "live", "--ledger", str(tmp_path / "x.sqlite"),
                               "--config", str(CONFIG_DIR)])
    assert live.exit_code == 2
    assert ("--confirm-live" in live.output) if mode == "live" else ("BLOFIN_API_KEY" in live.output)
    assert not (tmp_path / "x.sqlite").exists()


def test_live_mode_with_both_opt_ins_still_needs_credentials(tmp_path, monkeypatch):
    for name in ("BLOFIN_API_KEY", "BLOFIN_API_SECRET", "BLOFIN_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    cfg = tmp_path / "cfg"
    import shutil

    shutil.copytree(CONFIG_DIR, cfg)
    venue = (cfg / "venue.yaml").read_text().replace("mode: paper", "mode: live")
    (cfg / "venue.yaml").write_text(venue)
    result = runner.invoke(app, ["run", "--mode", "live", "--confirm-live", "--feed", "live", "--ledger",
                                 str(tmp_path / "x.sqlite"), "--config", str(cfg)])
    assert result.exit_code == 2 and "credentials" in result.output and "BLOFIN_PASSPHRASE" in result.output
    assert not (tmp_path / "x.sqlite").exists()


def test_demo_runs_the_main_job_and_points_to_the_next_commands(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--days", "0.03", "--seed", "3", "--out", str(out), "--config",
                                 str(CONFIG_DIR)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "SYNTHETIC" in text and "botcore dashboard --ledger" in text and "botcore review --ledger" in text
    assert "botcore backtest --data" in text and "ledger invariant" in text
    summary = json.loads((out / "summary.json").read_text())
    assert 40 <= summary["cycles"] <= 44 and summary["invariant_ok"]
    assert Store(out / "market").synthetic


def test_unknown_symbols_and_post_only_entries_are_refused_clearly(market):
    with pytest.raises(DataError, match="not in the universe"):
        restrict_settings(SETTINGS, ["NOPE/USDT:USDT"])
    with pytest.raises(ValueError, match="entry_post_only"):
        Engine(SETTINGS, params_overrides={"entry_post_only": 1})
    window = resolve_window(Store(market), [a.symbol for a in SETTINGS.universe.enabled])
    assert window.warmup_bars == 4_320 and window.start_ms == START
    assert Reason.skipped == 0


def test_backtest_params_from_the_bots_ledger_uses_its_active_learned_version(market, tmp_path):
    from botcore.engine.backtest import fresh_ledger
    from botcore.learning.cycle import prior_body

    bot = tmp_path / "bot.sqlite"
    body = prior_body(SETTINGS)
    body["weights"] = {**body["weights"], "trend": body["weights"]["trend"] * 3.0, "mean_reversion": 0.0}
    body["reasons"] = ["test: trend x3, mean reversion off"]
    with fresh_ledger(bot, float(SETTINGS.venue.starting_equity_usd), "paper") as led:
        led.put_params("learning", body, reason="test version", activate=True, ts_ms=START - 1)
    args = ["backtest", "--data", str(market), "--config", str(CONFIG_DIR), "--start", _when(START), "--end",
            _when(START + 120 * MIN), "--trail", "full"]
    plain = runner.invoke(app, [*args, "--out", str(tmp_path / "plain")])
    learned = runner.invoke(app, [*args, "--out", str(tmp_path / "learned"), "--params-from", str(bot)])
    assert plain.exit_code == 0 and learned.exit_code == 0, learned.output
    with Ledger.open(tmp_path / "learned" / "ledger.sqlite", readonly=True) as led:
        meta = led.get_meta("backtest")["learning"]
        active = led.active_params("learning")
        conv_learned = led.decisions()["detail"].map(lambda d: json.loads(d)["conviction"])
    with Ledger.open(tmp_path / "plain" / "ledger.sqlite", readonly=True) as led:
        conv_plain = led.decisions()["detail"].map(lambda d: json.loads(d)["conviction"])
    assert active is not None and active.body["weights"]["mean_reversion"] == 0.0, meta
    assert len(conv_plain) == len(conv_learned) and not conv_plain.equals(conv_learned)  # other weights, other convictions
    missing = runner.invoke(app, [*args, "--out", str(tmp_path / "x"), "--params-from", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 1 and "no such ledger" in missing.output
