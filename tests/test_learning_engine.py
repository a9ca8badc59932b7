"""The learning system wired into the engine: learned versions, benching and the outcome log in a backtest and a replay.

The sample market (SYNTHETIC) with ``ACTIVE_OVERRIDES`` (so the shipped
thresholds trade: about 14 trades in 6 hours over 15 symbols).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.config import load_settings
from botcore.config.models import SIGNAL_NAMES
from botcore.engine.backtest import fresh_ledger, run_backtest
from botcore.engine.enums import KIND_ENTRY
from botcore.engine.learning_link import LearningLink, active_versions, copy_active_versions
from botcore.engine.loop import replay_loop
from botcore.engine.records import order_cid
from botcore.engine.state import Engine
from botcore.engine.testing import ACTIVE_OVERRIDES, MONEY_TABLES, diff_ledgers
from botcore.learning import benching
from botcore.learning.benching import would_be_entries
from botcore.learning.cycle import prior_body
from botcore.ledger import Ledger
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.strategy.enums import Reason
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
MIN = 60_000
DAY = 86_400_000
START = DEFAULT_START_MS + 3 * DAY + MIN
END = START + 360 * MIN
SEED = 3
BENCHED_BIT = 1 << Reason.benched
runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("learning_engine")
    generate_sample_market(root / "market", 3.3, 5, SETTINGS)
    base = run_backtest(root / "market", SETTINGS, root / "base", start_ms=START, end_ms=END, run_seed=SEED,
                        params_overrides=ACTIVE_OVERRIDES)
    return root, base


def _backtest(root, name, params_from=None, **kw):
    return run_backtest(root / "market", SETTINGS, root / name, start_ms=START, end_ms=END, run_seed=SEED,
                        params_overrides=ACTIVE_OVERRIDES, params_from=params_from, **kw)


def _bot_ledger(path) -> Ledger:
    return fresh_ledger(path, float(SETTINGS.venue.starting_equity_usd), "paper")


def _learned_body() -> dict:
    body = prior_body(SETTINGS)
    weights = dict(body["weights"])
    weights["trend"] *= 3.0
    weights["mean_reversion"] = 0.0
    weights["funding_rate"] = 0.0
    body.update(weights=weights, strategy_overrides={"min_conviction.sentiment_fusion": 0.15},
                reasons=["test: trend up, contrarian signals off, sentiment-fusion threshold 0.12 -> 0.15"])
    return body


def _entries(ledger_path) -> pd.DataFrame:
    with Ledger.open(ledger_path, readonly=True) as led:
        o = led.orders()
    return o[(o["reduce_only"] == 0) & (o["filled_qty_contracts"] > 0)]


def _table(path, name) -> pd.DataFrame:
    with Ledger.open(path, readonly=True) as led:
        df = led.table(name)
    return df.drop(columns=["seq"]).sort_values(list(df.columns.drop("seq"))[:4]).reset_index(drop=True)


def _detail(decisions: pd.DataFrame, key: str) -> np.ndarray:
    return np.array([json.loads(d)[key] if json.loads(d)[key] is not None else np.nan for d in decisions["detail"]],
                    dtype=np.float64)


# --------------------------------------------------------------------------- learned versions


def test_an_active_learning_version_changes_decisions_and_rollback_restores_them_exactly(world):
    root, base = world
    bot_path = root / "bot.sqlite"
    with _bot_ledger(bot_path) as bot:
        bot.put_params("learning", prior_body(SETTINGS), reason="prior", activate=True, ts_ms=START - DAY)
        learned = bot.put_params("learning", _learned_body(), reason="test version", activate=True, ts_ms=START - 1)
    run = _backtest(root, "learned", params_from=bot_path)
    with Ledger.open(run.ledger_path, readonly=True) as led:
        meta = led.get_meta("backtest")["learning"]
        copied = led.active_params("learning")
        dec_learned = led.decisions()
    assert meta["copied"]["learning"]["source_version"] == learned
    assert copied.body["weights"] == _learned_body()["weights"]
    expected_w = [_learned_body()["weights"][s] for s in SIGNAL_NAMES]
    assert meta["weights"] == pytest.approx(expected_w) and run.engine.cfg.weights.tolist() == pytest.approx(expected_w)
    # the learned threshold wins over the run's own override (0.12), the others stay the run's
    assert meta["learned_overrides"] == {"min_conviction.sentiment_fusion": 0.15}
    assert run.engine.params[0]["min_conviction"].tolist() == [0.15, 0.12, 0.12]
    # decisions differ: conviction of the same symbol-bars (weights) and the trades made
    with Ledger.open(base.ledger_path, readonly=True) as led:
        dec_base = led.decisions()
    assert len(dec_base) == len(dec_learned) == 361 * 15
    conv_base, conv_learned = _detail(dec_base, "conviction"), _detail(dec_learned, "conviction")
    both = np.isfinite(conv_base) & np.isfinite(conv_learned)
    # (flat symbol-bars only: the burn-in keeps more symbols in positions)
    assert both.sum() > 500 and np.mean(np.abs(conv_base[both] - conv_learned[both]) > 1e-9) > 0.5
    assert diff_ledgers(base.ledger_path, run.ledger_path, ("orders", "trades"))

    result = runner.invoke(app, ["params", "rollback", "learning", "--ledger", str(bot_path)])
    assert result.exit_code == 0, result.output
    rolled = _backtest(root, "rolled_back", params_from=bot_path)
    assert diff_ledgers(base.ledger_path, rolled.ledger_path, (*MONEY_TABLES, "decisions")) == {}
    assert _table(base.ledger_path, "signal_outcomes").equals(_table(rolled.ledger_path, "signal_outcomes"))


# --------------------------------------------------------------------------- benching


def _bench_target(base) -> tuple[str, int, pd.Series]:
    """The symbol with the most entries; bench it one minute after its first entry (its position open then)."""
    with Ledger.open(base.ledger_path, readonly=True) as led:
        trades = led.trades()
    entries = _entries(base.ledger_path)
    symbol = entries.groupby("symbol").size().idxmax()
    first = trades[trades["symbol"] == symbol].sort_values("entry_ts_ms").iloc[0]
    assert (entries["symbol"] == symbol).sum() >= 3, "the sample window must re-enter the symbol"
    return symbol, int(first["entry_ts_ms"]) + MIN, first


def _bench(path, symbol, since_ms) -> int:
    with _bot_ledger(path) as bot:
        return bot.put_params("benched_symbols", {"symbols": {symbol: {
            "reason": f"test: {symbol} benched", "since_ms": since_ms, "until_ms": since_ms + DAY}}, "returned": {}},
            reason="test bench", activate=True, ts_ms=since_ms)


@pytest.fixture(scope="module")
def benched_run(world):
    root, base = world
    symbol, since, _first = _bench_target(base)
    _bench(root / "bench.sqlite", symbol, since)
    return _backtest(root, "benched", params_from=root / "bench.sqlite")


def test_a_benched_symbol_opens_nothing_keeps_its_trail_and_its_open_position_still_exits(world, benched_run):
    root, base = world
    symbol, since, first = _bench_target(base)
    run = benched_run
    with Ledger.open(run.ledger_path, readonly=True) as led:
        trades = led.trades()
        decisions = led.decisions(symbol=symbol)
        log = led.table("signal_outcomes")
    with Ledger.open(base.ledger_path, readonly=True) as led:
        base_decisions = led.decisions(symbol=symbol)
    entries = _entries(run.ledger_path)
    # no entry after the bench; the position open when it began exited exactly as without the bench
    mine = entries[entries["symbol"] == symbol]
    assert mine["created_ts_ms"].tolist() == [int(first["entry_ts_ms"])]
    (trade,) = trades[trades["symbol"] == symbol].itertuples(index=False)
    assert (trade.entry_ts_ms, trade.exit_ts_ms, trade.net_pnl_usd) == (
        first["entry_ts_ms"], first["exit_ts_ms"], first["net_pnl_usd"])
    assert not ((log["symbol"] == symbol) & (log["event"] == "entry") & (log["ts_ms"] >= since)).any()
    # flat after its exit: every row skipped with the benched bit, reason benched, the kernel's direction kept
    after = decisions[decisions["ts_ms"] > int(first["exit_ts_ms"])].reset_index(drop=True)
    assert len(after) > 60
    assert (after["outcome"] == Reason.skipped).all()
    assert (after["reason_code"] == Reason.benched).all()
    assert ((after["reason_mask"] & BENCHED_BIT) != 0).all()
    ref = base_decisions.set_index("ts_ms").loc[after["ts_ms"]]
    flat_in_base = ref["outcome"].isin([Reason.skipped, Reason.entered]).to_numpy()
    assert flat_in_base.sum() > 30
    for key in ("direction", "conviction"):
        got, want = _detail(after, key)[flat_in_base], _detail(ref.reset_index(), key)[flat_in_base]
        assert np.array_equal(got, want, equal_nan=True), key
    assert (_detail(after, "direction") != 0).any()
    # the entries it would have made are in the trail for the paper evaluation
    would = would_be_entries(decisions, symbol, since)
    assert len(would) > 0 and set(would["side"]) <= {-1, 1}
    assert ((after["reason_mask"] == BENCHED_BIT).sum()) == len(would[would["ts_ms"] > int(first["exit_ts_ms"])])
    with Ledger.open(run.ledger_path, readonly=True) as led:
        assert led.get_meta("backtest")["learning"]["benched"] == []  # the bench began after the start
        assert led.check_invariant().ok


def test_bench_from_start_benches_a_later_bench_over_the_whole_window(world):
    root, base = world
    symbol, _since, _first = _bench_target(base)
    _bench(root / "bench_later.sqlite", symbol, END + DAY)
    later = _backtest(root, "bench_later", params_from=root / "bench_later.sqlite")
    assert diff_ledgers(base.ledger_path, later.ledger_path, ("orders", "trades", "decisions")) == {}
    whole = _backtest(root, "bench_whole", params_from=root / "bench_later.sqlite", bench_from_start=True)
    entries = _entries(whole.ledger_path)
    assert not (entries["symbol"] == symbol).any() and len(entries) > 5
    with Ledger.open(whole.ledger_path, readonly=True) as led:
        assert led.get_meta("backtest")["learning"]["benched"] == [symbol]
        assert led.active_params("benched_symbols").body["symbols"][symbol]["since_ms"] == START


def test_benching_reads_the_kernel_code_for_benched():
    assert benching._BENCHED == Reason.benched


# --------------------------------------------------------------------------- the outcome log


def test_the_outcome_log_has_an_entry_per_entry_and_a_close_per_trade(world):
    _root, base = world
    entries = _entries(base.ledger_path)
    with Ledger.open(base.ledger_path, readonly=True) as led:
        trades = led.trades()
        log = led.table("signal_outcomes")
        decisions = led.decisions()
    log_entries = log[log["event"] == "entry"].set_index("entry_key")
    closes = log[log["event"] == "close"].set_index("entry_key")
    assert len(entries) >= 10 and len(trades) >= 10
    assert sorted(log_entries.index) == sorted(entries["client_order_id"])
    assert len(closes) == len(trades)
    symbols = list(base.symbols)
    for tr in trades.itertuples(index=False):
        key = order_cid(int(tr.entry_ts_ms), symbols.index(tr.symbol), KIND_ENTRY)
        close = closes.loc[key]
        assert close["ts_ms"] == tr.exit_ts_ms and close["net_pnl_usd"] == tr.net_pnl_usd
        assert close["net_return"] == pytest.approx(tr.net_pnl_usd / (tr.entry_price * tr.qty_base), rel=1e-12)
        assert (close["symbol"], close["strategy"], close["side"]) == (tr.symbol, tr.strategy_id, tr.side)
        assert key in log_entries.index
    by_bar = decisions.set_index(["ts_ms", "symbol"])
    for o in entries.itertuples(index=False):
        e = log_entries.loc[o.client_order_id]
        assert (e["ts_ms"], e["symbol"], e["side"], e["strategy"]) == (o.created_ts_ms, o.symbol, o.side, o.strategy_id)
        scores = json.loads(e["scores"])
        assert sum(v is not None for v in scores.values()) >= SETTINGS.signals.min_live_signals
        row = by_bar.loc[(o.created_ts_ms, o.symbol)]
        assert row["outcome"] == Reason.entered
        assert e["conviction"] == json.loads(row["detail"])["conviction"]
        assert e["regime"] == json.loads(row["detail"])["regime"] >= 0


# --------------------------------------------------------------------------- both clocks


def test_backtest_and_replay_agree_with_a_learned_version_a_bench_and_the_outcome_log(world):
    root, base = world
    symbol, since, _first = _bench_target(base)
    bot_path = root / "bot_parity.sqlite"
    with _bot_ledger(bot_path) as bot:
        bot.put_params("learning", _learned_body(), reason="test version", activate=True, ts_ms=START - 1)
    _bench(root / "bench_parity.sqlite", symbol, since)
    with Ledger.open(root / "bench_parity.sqlite", readonly=True) as src, Ledger.open(bot_path) as bot:
        copy_active_versions(src, bot)
    bt = _backtest(root, "parity_bt", params_from=bot_path)

    replay_path = root / "parity_replay.sqlite"
    led = _bot_ledger(replay_path)
    try:
        with Ledger.open(bot_path, readonly=True) as src:
            copy_active_versions(src, led)
        loop, window = replay_loop(root / "market", SETTINGS, led, start_ms=START, end_ms=END, run_seed=SEED,
                                   params_overrides=ACTIVE_OVERRIDES)
        loop.run()  # the loop itself follows the ledger's active versions and logs the outcomes
        loop.close()
        assert led.check_invariant().ok
    finally:
        led.close()
    assert window.n_bars == 361
    assert diff_ledgers(bt.ledger_path, replay_path, (*MONEY_TABLES, "decisions")) == {}
    a, b = _table(bt.ledger_path, "signal_outcomes"), _table(replay_path, "signal_outcomes")
    assert len(a) > 10 and a.equals(b)
    with Ledger.open(replay_path, readonly=True) as rl:
        held = rl.decisions(symbol=symbol)
    held = held[held["ts_ms"] >= since]
    assert (held["reason_code"] == Reason.benched).any()


# --------------------------------------------------------------------------- the engine's side


def test_apply_parameters_keeps_the_state_and_rejects_a_bad_value_whole(tmp_path):
    engine = Engine(SETTINGS, params_overrides={"min_conviction.trend_conservative": 0.2})
    engine.state.positions["qty_base"][2] = 1.5
    engine.state.portfolio[0]["cash_usd"] = 1234.5
    engine.state.memory[1]["n_trades"] = 7
    before = engine.state.copy()
    params_ref, weights_ref = engine.params, engine.cfg.weights
    w = np.linspace(0.5, 1.4, len(SIGNAL_NAMES))
    engine.apply_parameters(w, {"min_conviction.sentiment_fusion": 0.5, "kelly_fraction": 0.15})
    assert engine.params is params_ref and engine.cfg.weights is weights_ref  # in place
    assert engine.cfg.weights.tolist() == w.tolist()
    p = engine.params[0]
    assert p["min_conviction"][0] == 0.5 and p["min_conviction"][1] == 0.2 and p["kelly_fraction"] == 0.15
    for name, a, b in zip(before._fields, before, engine.state):
        for field in a.dtype.names or (None,):
            x, y = (a, b) if field is None else (a[field], b[field])
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), (name, field)
    with pytest.raises(ValueError, match="kelly_fraction"):
        engine.apply_parameters(None, {"kelly_fraction": 7.0})
    assert engine.params[0]["kelly_fraction"] == 0.15 and engine.cfg.weights.tolist() == w.tolist()
    with pytest.raises(ValueError, match="weights"):
        engine.apply_parameters(np.ones(3))
    engine.apply_parameters(None, {})  # the learned set replaced: back to the run's own overrides
    assert engine.params[0]["min_conviction"][1] == 0.2 and engine.params[0]["kelly_fraction"] == SETTINGS.sizing.kelly_fraction


def test_the_link_follows_activations_rollbacks_and_bench_starts(tmp_path, caplog):
    led = _bot_ledger(tmp_path / "bot.sqlite")
    engine = Engine(SETTINGS)
    link = LearningLink(led, SETTINGS)
    config_weights = engine.cfg.weights.copy()
    assert link.at_cycle(engine, START) is True and link.at_cycle(engine, START + MIN) is False
    assert active_versions(led) == {"learning": None, "benched_symbols": None, "autonomy": None, "patterns": None}
    led.put_params("learning", prior_body(SETTINGS), reason="prior", activate=True)
    v = led.put_params("learning", _learned_body(), reason="learned", activate=True)
    led.put_params("autonomy", {"multiplier": 0.5}, reason="health low", activate=True)
    symbol = engine.symbols[4]
    led.put_params("benched_symbols", {"symbols": {symbol: {"since_ms": START + 10 * MIN}}}, reason="bench",
                   activate=True)
    assert link.at_cycle(engine, START + 2 * MIN) is True
    assert active_versions(led)["learning"] == v
    assert engine.cfg.weights[SIGNAL_NAMES.index("mean_reversion")] == 0.0
    assert engine.params[0]["kelly_fraction"] == pytest.approx(SETTINGS.sizing.kelly_fraction * 0.5)
    assert not engine.benched.any(), "the bench begins later"
    assert link.next_change_ms(START + 2 * MIN) == START + 10 * MIN
    link.at_cycle(engine, START + 10 * MIN)
    assert engine.benched.tolist() == [s == symbol for s in engine.symbols]
    led.rollback("learning")
    assert link.at_cycle(engine, START + 11 * MIN) is True
    assert engine.cfg.weights.tolist() == config_weights.tolist()
    # a bad version later: logged, the engine keeps what it had
    led.put_params("learning", {"weights": {"trend": -1.0}}, reason="broken", activate=True)
    assert link.at_cycle(engine, START + 12 * MIN) is True
    assert link.error and "learning" in caplog.text and engine.cfg.weights.tolist() == config_weights.tolist()
    # ... but a run does not start on it
    with pytest.raises(ValueError, match="learning v"):
        LearningLink(led, SETTINGS).at_cycle(Engine(SETTINGS), START)
    led.close()


# --------------------------------------------------------------------------- history for the review


def test_history_shows_weights_and_benchings_over_time(world, benched_run, tmp_path):
    from botcore.learning.history import bench_history, held_back, weights_history

    root, base = world
    led = _bot_ledger(tmp_path / "bot.sqlite")
    led.put_params("learning", prior_body(SETTINGS), reason="prior", activate=True, ts_ms=START)
    v = led.put_params("learning", _learned_body(), reason="learned", activate=True, ts_ms=START + DAY)
    led.put_params("benched_symbols", {"symbols": {"BTC/USDT:USDT": {"since_ms": START, "reason": "pf 0.4"}}},
                   reason="bench BTC", activate=True, ts_ms=START)
    led.put_params("benched_symbols", {"symbols": {}, "returned": {"BTC/USDT:USDT": {
        "ts_ms": START + DAY, "reason": "paper pf 1.6"}}}, reason="BTC returns", activate=True, ts_ms=START + DAY)
    w = weights_history(led)
    assert w["version"].tolist()[-1] == v and w["mean_reversion"].tolist() == [SETTINGS.signals.weights["mean_reversion"], 0.0]
    assert w["thresholds"].iloc[-1] == {"min_conviction.sentiment_fusion": 0.15} and w["active"].tolist() == [False, True]
    b = bench_history(led)
    assert b[["ts_ms", "symbol", "event", "reason"]].values.tolist() == [
        [START, "BTC/USDT:USDT", "benched", "pf 0.4"], [START + DAY, "BTC/USDT:USDT", "returned", "paper pf 1.6"]]
    led.close()
    symbol, since, _first = _bench_target(base)
    with Ledger.open(benched_run.ledger_path, readonly=True) as run:
        h = held_back(run.decisions()).set_index("symbol")
        decisions = run.decisions(symbol=symbol)
    assert list(h.index) == [symbol]
    assert h.loc[symbol, "cycles"] == (decisions["reason_code"] == Reason.benched).sum() > 60
    assert h.loc[symbol, "would_be_entries"] == len(would_be_entries(decisions, symbol, since)) > 0
