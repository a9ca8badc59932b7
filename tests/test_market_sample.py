"""The SYNTHETIC sample market: stylised facts, known regimes, determinism, kernels against references."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from botcore.errors import DataError
from botcore.market.nb import PathParams, fgn_autocov_1d_nb, lead_1d_nb, simulate_paths_nb
from botcore.market.sample import DEFAULT_START_MS, fgn, generate_sample_market
from botcore.market.store import KINDS, MARKET, Store
from botcore.regime.enums import Regimes

DAYS = 12
SEED = 11


@pytest.fixture(scope="module")
def market(tmp_path_factory, settings):
    out = tmp_path_factory.mktemp("sample")
    return generate_sample_market(out, DAYS, SEED, settings)


@pytest.fixture(scope="module")
def store(market):
    return Store(market.out_dir)


@pytest.fixture(scope="module")
def returns(store, market):
    close = store.read_panel("candles_1m", market.symbols, "close")
    return np.log(close).diff().iloc[1:]


def hurst_rs(x: np.ndarray, min_n: int = 16, max_frac: float = 0.25) -> float:
    """Classic rescaled-range Hurst estimate: slope of log mean(R/S) against log window."""
    x = np.asarray(x, dtype=float)
    sizes = np.unique(np.floor(np.logspace(np.log10(min_n), np.log10(len(x) * max_frac), 12)).astype(int))
    rs = []
    for n in sizes:
        blocks = x[: len(x) // n * n].reshape(-1, n)
        dev = np.cumsum(blocks - blocks.mean(axis=1, keepdims=True), axis=1)
        r, s = dev.max(axis=1) - dev.min(axis=1), blocks.std(axis=1)
        rs.append(np.mean(r[s > 0] / s[s > 0]))
    return float(np.polyfit(np.log(sizes), np.log(rs), 1)[0])


# --------------------------------------------------------------------------- what is written


def test_store_has_every_kind_for_every_symbol_and_says_it_is_synthetic(market, store, settings):
    assert market.synthetic and store.synthetic
    assert "SYNTHETIC" in (market.out_dir / "SYNTHETIC").read_text()
    assert set(store.kinds()) == set(KINDS) - {"candles_5m", "candles_1h"}
    assert store.symbols() == sorted(a.symbol for a in settings.universe.assets)
    assert store.metadata("book", "BTC/USDT:USDT")["synthetic"] == "true"
    assert store.metadata("fear_greed", MARKET)["seed"] == str(SEED)
    info = store.info()
    assert info["synthetic"].all()
    candles = info[info["kind"] == "candles_1m"]
    assert (candles["rows"] == DAYS * 1440).all() and (candles["gaps"] == 0).all()
    assert (candles["first"] == DEFAULT_START_MS).all()


def test_prices_start_at_each_symbols_level(store):
    first = {s: store.read("candles_1m", s).iloc[0]["open"] for s in ("BTC/USDT:USDT", "ETH/USDT:USDT", "PEPE/USDT:USDT")}
    assert first["BTC/USDT:USDT"] == pytest.approx(60_000)
    assert first["ETH/USDT:USDT"] == pytest.approx(3_000)
    assert first["PEPE/USDT:USDT"] == pytest.approx(1e-5)


def test_candles_are_consistent_and_taker_volume_adds_up(store):
    c = store.read("candles_1m", "SOL/USDT:USDT")
    assert (c["high"] >= c[["open", "close"]].max(axis=1)).all()
    assert (c["low"] <= c[["open", "close"]].min(axis=1)).all()
    assert (c["open"].iloc[1:].to_numpy() == c["close"].iloc[:-1].to_numpy()).all()
    t = store.read("taker", "SOL/USDT:USDT")
    np.testing.assert_allclose(t["taker_buy_base"] + t["taker_sell_base"], c["volume"], rtol=1e-9)


# --------------------------------------------------------------------------- stylised facts


def test_one_minute_returns_have_fat_tails(returns):
    kurtosis = returns.kurt() + 3.0  # pandas reports excess kurtosis
    assert (kurtosis > 3.0).all(), kurtosis.to_dict()


def test_absolute_returns_cluster(returns):
    a = returns.abs()
    lag1 = np.array([a[c].autocorr(1) for c in a])
    lag30 = np.array([a[c].autocorr(30) for c in a])
    assert (lag1 > 0.05).all() and (lag30 > 0.02).all()


def test_returns_correlate_more_within_a_sector_than_across(returns, settings):
    sector = {a.symbol: a.sector for a in settings.universe.assets}
    corr = returns.corr()
    within, across = [], []
    for a, b in itertools.combinations(returns.columns, 2):
        (within if sector[a] == sector[b] else across).append(corr.loc[a, b])
    assert np.mean(within) > np.mean(across) + 0.15
    assert min(within) > np.mean(across)


def test_regime_truth_records_the_generated_segments(market, store, settings):
    for asset in settings.universe.assets[:4]:
        truth = store.read("regime_truth", asset.symbol)
        for seg in market.segments[asset.sector]:
            part = truth.iloc[seg.start : seg.stop]
            assert (part["regime"] == seg.regime).all() and (part["hurst"] == seg.hurst).all()
    codes = {s.regime for segs in market.segments.values() for s in segs}
    assert codes == {Regimes.trending, Regimes.mean_reverting, Regimes.random}


def test_each_regime_segment_estimates_hurst_on_its_side_of_one_half(market, returns, settings):
    checked = 0
    for asset in settings.universe.assets:
        r = returns[asset.symbol].to_numpy()
        for seg in market.segments[asset.sector]:
            if seg.stop - seg.start < 1440:
                continue
            h = hurst_rs(r[max(seg.start - 1, 0) : seg.stop - 1])
            if seg.regime == Regimes.trending:
                assert h > 0.55, (asset.symbol, seg, h)
            elif seg.regime == Regimes.mean_reverting:
                assert h < 0.45, (asset.symbol, seg, h)
            else:
                assert 0.4 < h < 0.7, (asset.symbol, seg, h)  # R/S reads random walks a little high
            checked += 1
    assert checked >= 30


def test_taker_imbalance_leads_the_next_minutes(market, store, returns):
    leads, lags = [], []
    for sym in market.symbols:
        t = store.read("taker", sym)
        imb = ((t["taker_buy_base"] - t["taker_sell_base"]) / (t["taker_buy_base"] + t["taker_sell_base"])).to_numpy()
        logp = np.log(store.read("candles_1m", sym)["close"].to_numpy())
        # imbalance of minute i is known at its close; compare with the next 5 minutes and the previous 5
        nxt = logp[6:] - logp[1:-5]
        prev = logp[5:-1] - logp[:-6]
        leads.append(np.corrcoef(imb[1:-5], nxt)[0, 1])
        lags.append(np.corrcoef(imb[6:], prev)[0, 1])
    assert min(leads) > 0.08
    assert np.mean(leads) > np.mean(lags)


def test_liquidations_and_open_interest_drops_come_with_sharp_moves(market, store, returns):
    sym = "ETH/USDT:USDT"
    r = returns[sym].to_numpy()
    sigma = pd.Series(r).abs().rolling(60, min_periods=10).mean().shift(1).to_numpy() * np.sqrt(np.pi / 2)
    liq = store.read("liquidations", sym).iloc[1:]
    z = r / sigma
    crash = z < -4
    assert crash.sum() >= 5
    long_liq = liq["long_liq_usd"].to_numpy()
    assert np.median(long_liq[crash]) > 10 * np.median(long_liq)
    oi = store.read("open_interest", sym)["oi_usd"].to_numpy()
    d_log_oi_ex_price = np.diff(np.log(oi)) - r  # open interest change beyond price
    assert d_log_oi_ex_price[crash].mean() < d_log_oi_ex_price.mean() - 3 * d_log_oi_ex_price.std() / np.sqrt(crash.sum())


def test_funding_follows_the_last_eight_hours(market, store):
    corrs = []
    for sym in market.symbols:
        f = store.read("funding", sym)
        close = store.read("candles_1m", sym).set_index("ts")["close"]
        p_now = close.reindex(f["ts"] - 60_000).to_numpy()
        p_then = close.reindex(f["ts"] - 8 * 3_600_000 - 60_000).to_numpy()
        ok = ~np.isnan(p_now) & ~np.isnan(p_then)
        corrs.append(np.corrcoef(f["rate"].to_numpy()[ok], np.log(p_now[ok] / p_then[ok]))[0, 1])
        assert (f["next_funding_ts"] - f["ts"] == 8 * 3_600_000).all()
    assert np.mean(corrs) > 0.6


def test_sentiment_lags_the_market(market, store, returns):
    social = store.read("social", MARKET)
    market_ret = returns.mean(axis=1)
    cum = np.concatenate([[0.0], np.cumsum(market_ret.to_numpy())])
    idx = ((social["ts"] - DEFAULT_START_MS) // 60_000).to_numpy()
    ok = (idx >= 1440) & (idx + 1440 < len(cum))
    past = cum[idx[ok]] - cum[idx[ok] - 1440]
    future = cum[idx[ok] + 1440] - cum[idx[ok]]
    tone = social["tone"].to_numpy()[ok]
    assert np.corrcoef(tone, past)[0, 1] > 0.4
    assert np.corrcoef(tone, past)[0, 1] > np.corrcoef(tone, future)[0, 1] + 0.3
    fg = store.read("fear_greed", MARKET)
    assert len(fg) == DAYS and fg["value"].between(0, 100).all()


def test_book_is_ordered_uncrossed_in_whole_contracts_and_widens_with_volatility(store, returns, settings):
    asset = settings.universe.asset("DOGE/USDT:USDT")
    book = store.read("book", asset.symbol)
    bid = book[[f"bid_px_{i}" for i in range(1, 11)]].to_numpy()
    ask = book[[f"ask_px_{i}" for i in range(1, 11)]].to_numpy()
    sizes = book[[c for c in book.columns if "_sz_" in c]].to_numpy()
    assert (bid[:, 0] < ask[:, 0]).all()
    assert (np.diff(bid, axis=1) < 0).all() and (np.diff(ask, axis=1) > 0).all()
    contracts = sizes / asset.contract_size
    np.testing.assert_allclose(contracts, np.round(contracts), atol=1e-6)
    spread = (ask[:, 0] - bid[:, 0]) / (ask[:, 0] + bid[:, 0])
    vol = returns[asset.symbol].abs().rolling(30).mean().to_numpy()
    ok = ~np.isnan(vol)
    assert np.corrcoef(spread[1:][ok], vol[ok])[0, 1] > 0.2
    mid = (bid[:, 0] + ask[:, 0]) / 2
    close = store.read("candles_1m", asset.symbol)["close"].to_numpy()
    np.testing.assert_allclose(mid, close, rtol=1e-3)  # the book at a minute's close sits at its close price


# --------------------------------------------------------------------------- determinism and safety


def test_same_seed_same_market_other_seed_other_market(tmp_path, settings):
    a = generate_sample_market(tmp_path / "a", 0.25, 5, settings)
    b = generate_sample_market(tmp_path / "b", 0.25, 5, settings)
    c = generate_sample_market(tmp_path / "c", 0.25, 6, settings)
    sa, sb, sc = Store(a.out_dir), Store(b.out_dir), Store(c.out_dir)
    for kind in sa.kinds():
        for sym in sa.symbols(kind):
            pd.testing.assert_frame_equal(sa.read(kind, sym), sb.read(kind, sym))
    assert not sa.read("candles_1m", "BTC/USDT:USDT").equals(sc.read("candles_1m", "BTC/USDT:USDT"))
    # regenerating into an existing synthetic store replaces it
    generate_sample_market(tmp_path / "a", 0.25, 6, settings)
    pd.testing.assert_frame_equal(sa.read("book", "ADA/USDT:USDT"), sc.read("book", "ADA/USDT:USDT"))


def test_refuses_to_write_into_a_store_of_recorded_data(tmp_path, settings):
    Store(tmp_path).write("mark", "BTC/USDT:USDT", pd.DataFrame({"ts": [DEFAULT_START_MS], "mark_price": [1.0]}))
    with pytest.raises(DataError, match="out_dir"):
        generate_sample_market(tmp_path, 0.25, 1, settings)
    with pytest.raises(DataError, match="days"):
        generate_sample_market(tmp_path / "new", 0.01, 1, settings)


# --------------------------------------------------------------------------- kernels against references


@pytest.mark.parametrize("hurst", [0.3, 0.5, 0.7])
def test_fgn_autocovariance_kernel_matches_the_formula_and_the_draws(hurst):
    k = np.arange(6, dtype=float)
    expected = 0.5 * (np.abs(k + 1) ** (2 * hurst) - 2 * np.abs(k) ** (2 * hurst) + np.abs(k - 1) ** (2 * hurst))
    np.testing.assert_allclose(fgn_autocov_1d_nb(hurst, 6), expected)
    rng = np.random.default_rng(0)
    x = fgn(rng.standard_normal((2 * 4096, 200)), hurst)
    assert x.shape == (4096, 200)
    lag1 = np.mean(x[1:] * x[:-1])
    assert np.var(x) == pytest.approx(1.0, abs=0.01)
    assert lag1 == pytest.approx(expected[1], abs=0.01)


def test_lead_kernel_matches_a_plain_sum():
    x = np.random.default_rng(1).standard_normal(50)
    weights = 0.8 ** np.arange(5)
    ref = np.array([sum(weights[i - 1] * x[t + i] for i in range(1, 6) if t + i < 50) for t in range(50)])
    np.testing.assert_allclose(lead_1d_nb(x, 5, 0.8), ref / np.sqrt((weights**2).sum()))


def simulate_reference(x, vol, imb, oi_noise, ln_long, ln_short, oi0, p):
    """Slow, obvious reference of simulate_paths_1d_nb."""
    h, cascade, dev, pf, oi = 1.0, 0.0, 0.0, 1.0, oi0
    out = []
    for t in range(len(x)):
        sig = vol[t] * np.sqrt(h)
        r = sig * x[t] + cascade
        z = r / sig
        long_liq = oi * p.liq_base * ln_long[t] * (1 + max(0.0, -z)) ** 2 + (oi * p.liq_frac * (-z - p.liq_z) ** 1.5 if z < -p.liq_z else 0.0)
        short_liq = oi * p.liq_base * ln_short[t] * (1 + max(0.0, z)) ** 2 + (oi * p.liq_frac * (z - p.liq_z) ** 1.5 if z > p.liq_z else 0.0)
        long_liq, short_liq = min(long_liq, 0.05 * oi), min(short_liq, 0.05 * oi)
        push = np.clip((long_liq - short_liq) / (oi * p.liq_frac), -2, 2)
        cascade = p.cascade_decay * cascade - p.cascade_feedback * sig * push
        pf *= np.exp(r)
        dev = dev * (1 - p.oi_mean_reversion) + p.oi_flow * (abs(imb[t]) - 0.3) + p.oi_noise * oi_noise[t] - (long_liq + short_liq) / oi
        oi = oi0 * pf * np.exp(dev)
        h = (1 - p.garch_alpha - p.garch_beta) + p.garch_alpha * min(z * z, 16.0) * h + p.garch_beta * h
        out.append((r, sig, long_liq, short_liq, oi))
    return np.array(out)


def test_path_kernel_matches_its_reference_including_cascades():
    rng = np.random.default_rng(2)
    n, k = 400, 2
    x = rng.standard_t(3, (n, k))
    x[100, 0] = -9.0  # a crash: liquidation cascade and its feedback
    x[200, 1] = 8.0
    args = (x, np.full((n, k), 1e-3), np.tanh(rng.standard_normal((n, k))), rng.standard_normal((n, k)),
            rng.exponential(1.0, (n, k)), rng.exponential(1.0, (n, k)))
    p = PathParams()
    paths = simulate_paths_nb(*args, np.array([1e8, 5e7]), p)
    for j, oi0 in enumerate((1e8, 5e7)):
        ref = simulate_reference(*(a[:, j] for a in args), oi0, p)
        got = np.column_stack([paths.log_return[:, j], paths.sigma[:, j], paths.long_liq_usd[:, j], paths.short_liq_usd[:, j], paths.oi_usd[:, j]])
        np.testing.assert_allclose(got, ref, rtol=1e-10)
    assert paths.long_liq_usd[100, 0] > 100 * np.median(paths.long_liq_usd[:, 0])
    assert paths.log_return[101, 0] < 0  # the cascade keeps pushing down the next minute


# --------------------------------------------------------------------------- the command line


def test_cli_sample_and_info_say_the_market_is_synthetic(tmp_path):
    from typer.testing import CliRunner

    from botcore.cli import app

    runner = CliRunner()
    out = tmp_path / "store"
    result = runner.invoke(app, ["data", "sample", "--days", "0.1", "--seed", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output and "15 symbols" in result.output
    assert Store(out).synthetic
    result = runner.invoke(app, ["data", "info", str(out)])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    assert "PEPE/USDT:USDT" in result.output and "regime_truth" in result.output
    result = runner.invoke(app, ["data", "info", str(out), "--symbol", "BTC/USDT:USDT", "--kind", "candles_1m"])
    assert result.exit_code == 0 and "1 symbols, 1 kinds, 144 rows" in result.output
    assert runner.invoke(app, ["data", "info", str(tmp_path / "nothing")]).exit_code == 1
    Store(tmp_path / "real").write("mark", "BTC/USDT:USDT", pd.DataFrame({"ts": [DEFAULT_START_MS], "mark_price": [1.0]}))
    refused = runner.invoke(app, ["data", "sample", "--days", "0.1", "--out", str(tmp_path / "real")])
    assert refused.exit_code == 1 and "not marked SYNTHETIC" in refused.output
