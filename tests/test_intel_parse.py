"""Pure parsing of provider answers into the market store's schema (no network)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from botcore.errors import DataError, OperationalError, TemporaryError
from botcore.intel import parse
from botcore.intel.enums import FUNDING, OPEN_INTEREST, SOCIAL, TAKER_RATIO, FeedStatus, OutageKind
from botcore.intel.symbols import base_coin, coinglass_pair

T0 = 1_710_072_000_000  # 2024-03-10 12:00 UTC
MIN = 60_000


def envelope(rows: list[dict]) -> dict:
    return {"code": "0", "msg": "success", "data": rows}


def test_open_interest_bars_are_stamped_at_their_close_and_the_open_bar_is_dropped():
    payload = envelope([{"time": T0 + i * MIN, "open": "1", "high": "2", "low": "0.5", "close": str(1e9 + i)} for i in range(3)])
    now = T0 + 2 * MIN + 30_000  # the third bar is still forming
    df = parse.open_interest_frame(payload, "1m", now_ms=now)
    assert list(df.columns) == ["ts", "oi_usd"]
    assert df["ts"].dtype == np.int64 and df["oi_usd"].dtype == np.float64
    assert df["ts"].tolist() == [T0 + MIN, T0 + 2 * MIN]
    assert df["oi_usd"].tolist() == [1e9, 1e9 + 1]
    assert (df["ts"] <= now).all()


def test_coinglass_times_in_seconds_become_milliseconds():
    payload = envelope([{"time": (T0 // 1000), "long_liquidation_usd": 5, "short_liquidation_usd": "7.5"}])
    df = parse.liquidations_frame(payload, "5m")
    assert df.to_dict("records") == [{"ts": T0 + 5 * MIN, "long_liq_usd": 5.0, "short_liq_usd": 7.5}]


def test_funding_is_converted_from_percent_to_a_fraction():
    payload = envelope([{"time": T0, "open": "0.01", "high": "0.02", "low": "-0.01", "close": "0.0125"}])
    df = parse.funding_frame(payload, "1h")
    assert df["ts"].tolist() == [T0 + 3_600_000]
    assert df["rate"].tolist() == pytest.approx([0.000125])


def test_taker_ratio_is_buy_over_sell_and_undefined_without_sells():
    payload = envelope([
        {"time": T0, "taker_buy_volume_usd": "300", "taker_sell_volume_usd": "200"},
        {"time": T0 + MIN, "taker_buy_volume_usd": "10", "taker_sell_volume_usd": "0"},
    ])
    volume = parse.taker_volume_frame(payload, "1m")
    assert list(volume.columns) == ["ts", "taker_buy_usd", "taker_sell_usd"]
    ratio = parse.taker_ratio_frame(volume)
    assert ratio["buy_sell_ratio"].iloc[0] == pytest.approx(1.5)
    assert math.isnan(ratio["buy_sell_ratio"].iloc[1])
    value = parse.latest(TAKER_RATIO, "BTC/USDT:USDT", ratio, T0 + 10 * MIN, None)
    assert value.status is FeedStatus.DATA_OUTAGE and value.outage is OutageKind.NO_DATA and not value.values


@pytest.mark.parametrize(
    ("payload", "error", "text"),
    [
        ({"code": "429", "msg": "Too Many Requests"}, TemporaryError, "429"),
        ({"code": "500", "msg": "Internal error"}, TemporaryError, "500"),
        ({"code": "401", "msg": "Invalid API key"}, OperationalError, "401"),
        ({"code": "400", "msg": "interval not allowed for your plan"}, OperationalError, "400"),
        ({"msg": "no code"}, DataError, "envelope"),
        ({"code": "0", "data": {"time": 1}}, DataError, "data"),
    ],
)
def test_coinglass_error_envelopes_are_classified(payload, error, text):
    with pytest.raises(error, match=text):
        parse.coinglass_rows(payload)


def test_a_malformed_field_raises_naming_it():
    payload = envelope([{"time": T0, "close": "1"}, {"time": T0 + MIN, "close": "n/a"}])
    with pytest.raises(DataError, match=r"open_interest\.data\[1\]\.close"):
        parse.open_interest_frame(payload, "1m")
    with pytest.raises(DataError, match=r"data\[0\]\.close: missing"):
        parse.open_interest_frame(envelope([{"time": T0}]), "1m")


def test_fear_greed_is_sorted_ascending_in_milliseconds():
    payload = {"name": "Fear and Greed Index", "metadata": {"error": None}, "data": [
        {"value": "40", "value_classification": "Fear", "timestamp": "1700006400", "time_until_update": "100"},
        {"value": "55", "value_classification": "Neutral", "timestamp": "1699920000"},
    ]}
    df = parse.fear_greed_frame(payload)
    assert df.to_dict("records") == [{"ts": 1_699_920_000_000, "value": 55.0}, {"ts": 1_700_006_400_000, "value": 40.0}]


def test_fear_greed_rejects_values_outside_0_to_100_and_reported_errors():
    bad = {"data": [{"value": "140", "timestamp": "1700006400"}], "metadata": {"error": None}}
    with pytest.raises(DataError, match=r"data\[0\]\.value: 140.0 is outside 0..100"):
        parse.fear_greed_frame(bad)
    with pytest.raises(OperationalError, match="metadata.error"):
        parse.fear_greed_frame({"data": [], "metadata": {"error": "Limit must be a number"}})


def social_payload(reddit_per_hour: list[float], forum_total: list[float], t0_s: int = T0 // 1000) -> dict:
    rows = [
        {"time": t0_s + 3600 * i, "reddit_posts_per_hour": r / 4, "reddit_comments_per_hour": r * 3 / 4,
         "posts": f / 2, "comments": f / 2}
        for i, (r, f) in enumerate(zip(reddit_per_hour, forum_total))
    ]
    return {"Response": "Success", "Message": "", "Type": 100, "Data": rows}


def test_social_mentions_are_reddit_rates_plus_new_forum_posts():
    df = parse.social_mentions_frame(social_payload([100, 100, 120], [1000, 1010, 1005]))
    assert df["ts"].tolist() == [T0 + 3_600_000, T0 + 7_200_000]  # the first hour has no forum difference
    assert df["mentions"].tolist() == [110.0, 120.0]  # a falling cumulative counter adds nothing


def test_social_tone_is_activity_against_its_baseline_within_minus_one_and_one():
    quiet = parse.social_mentions_frame(social_payload([100.0] * 10 + [1000.0, 10.0], [0.0] * 12))
    df = parse.social_frame([quiet], baseline_hours=24, min_baseline_hours=6)
    assert list(df.columns) == ["ts", "mentions", "tone"]
    assert len(df) == len(quiet) - 6  # hours without a 6-hour baseline are dropped, not set to 0
    assert df["tone"].between(-1, 1).all()
    assert df["tone"].iloc[-3] == pytest.approx(0.0)  # steady activity
    assert df["tone"].iloc[-2] > 0.9  # a tenfold burst
    assert df["tone"].iloc[-1] < -0.5  # a collapse


def test_social_sums_coins_on_common_hours_and_drops_silence():
    a = pd.DataFrame({"ts": [1, 2, 3, 4, 5, 6, 7, 8], "mentions": [1.0] * 8})
    b = pd.DataFrame({"ts": [2, 3, 4, 5, 6, 7, 8, 9], "mentions": [2.0] * 8})
    df = parse.social_frame([a, b], baseline_hours=3, min_baseline_hours=2)
    assert df["ts"].tolist() == [4, 5, 6, 7, 8] and (df["mentions"] == 3.0).all()
    silent = pd.DataFrame({"ts": range(1, 10), "mentions": [0.0] * 9})
    assert parse.social_frame([silent], 3, 2).empty


def test_cryptocompare_errors_are_classified():
    with pytest.raises(TemporaryError):
        parse.cryptocompare_data({"Response": "Error", "Message": "You are over your rate limit", "Type": 99})
    with pytest.raises(OperationalError, match="Type 1"):
        parse.cryptocompare_data({"Response": "Error", "Message": "You need a valid auth key", "Type": 1})
    assert parse.coin_id({"Response": "Success", "Data": {"BTC": {"Id": "1182"}}}, "BTC") == 1182


def test_latest_takes_the_newest_row_at_or_before_now_and_judges_staleness_on_its_own_time():
    df = pd.DataFrame({"ts": [T0, T0 + MIN, T0 + 2 * MIN], "oi_usd": [1.0, 2.0, 3.0]})
    ok = parse.latest(OPEN_INTEREST, "BTC/USDT:USDT", df, T0 + MIN + 5_000, max_age_s=900, source="coinglass:Binance")
    assert ok.ok and ok.ts_ms == T0 + MIN and ok.values == {"oi_usd": 2.0}
    stale = parse.latest(OPEN_INTEREST, "BTC/USDT:USDT", df, T0 + 2 * MIN + 901_000, max_age_s=900)
    assert stale.status is FeedStatus.DATA_OUTAGE and stale.outage is OutageKind.STALE and stale.values == {}
    assert stale.ts_ms == T0 + 2 * MIN and "901 s old" in stale.reason
    none = parse.latest(FUNDING, "BTC/USDT:USDT", df.iloc[:0], T0, 60)
    assert none.outage is OutageKind.NO_DATA


def test_frames_pass_the_market_store_validation():
    store = pytest.importorskip("botcore.market.store")
    cg = lambda rows: envelope(rows)  # noqa: E731
    frames = {
        "open_interest": parse.open_interest_frame(cg([{"time": T0, "close": "1e9"}]), "1m"),
        "liquidations": parse.liquidations_frame(cg([{"time": T0, "long_liquidation_usd": "1", "short_liquidation_usd": "2"}]), "1m"),
        "funding": parse.funding_frame(cg([{"time": T0, "close": "0.01"}]), "1h"),
        "fear_greed": parse.fear_greed_frame({"data": [{"value": "40", "timestamp": "1700006400"}]}),
        SOCIAL: parse.social_frame([parse.social_mentions_frame(social_payload([10.0 + i for i in range(12)], [0.0] * 12))]),
    }
    for kind, df in frames.items():
        assert not df.empty, kind
        store.validate(kind, df, "MARKET" if kind in ("fear_greed", "social") else "BTC/USDT:USDT")


def test_symbol_mapping_to_provider_names():
    assert base_coin("BTC/USDT:USDT") == "BTC"
    assert coinglass_pair("BTC/USDT:USDT") == "BTCUSDT"
    assert coinglass_pair("PEPE/USDT:USDT", "Binance") == "1000PEPEUSDT"
    assert coinglass_pair("ETH/USDT:USDT", "OKX") == "ETH-USDT-SWAP"
    assert coinglass_pair("ETH/USDT:USDT", "Kraken", {"ETH/USDT:USDT": "PF_ETHUSD"}) == "PF_ETHUSD"
    with pytest.raises(ValueError, match="exchange"):
        coinglass_pair("ETH/USDT:USDT", "Kraken")
    with pytest.raises(ValueError, match="symbol"):
        base_coin("BTC/USDT")


def test_interval_lengths():
    assert parse.interval_ms("1m") == 60_000 and parse.interval_ms("4h") == 14_400_000 and parse.interval_ms("1w") == 604_800_000
    with pytest.raises(ValueError, match="interval"):
        parse.interval_ms("0m")
