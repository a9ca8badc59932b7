"""Slow, readable reference of ``decide_nb`` in plain Python.

Same inputs, same in-place updates of ``positions`` and ``portfolio``, same
outputs as :func:`botcore.strategy.decide.nb.decide_nb`; the tests check that the two
agree on random states. Read this file to learn what the kernel decides; read
``nb.py`` to see how it does so quickly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from botcore.clock import DAY_MS
from botcore.signals.enums import SignalIds, SignalStatuses
from botcore.strategy.enums import (
    N_SECTOR_BUCKETS,
    N_STRATEGIES,
    PARAM_FIELDS,
    Breaker,
    Features,
    KillSwitch,
    OrderType,
    Reason,
    SignalsIn,
    StrategyId,
    intent_dt,
    trail_dt,
)
from botcore.strategy.state import Decision

EPS = 1e-9
SENTIMENT = (
    SignalIds.order_flow_imbalance, SignalIds.funding_rate, SignalIds.taker_ratio, SignalIds.fear_greed,
    SignalIds.social_sentiment,
)
#: strategy gates in evaluation order; a strategy's "stage" is the index of its first failing gate
STRATEGY_GATE_ORDER = (
    "regime", "streak", "win_rate", "conviction", "entry_rule", "mtf", "roi", "kelly", "size",
)
STAGE_PASSED = len(STRATEGY_GATE_ORDER)


# --------------------------------------------------------------------------- random numbers (splitmix64)

_MASK64 = (1 << 64) - 1


class Rng:
    """splitmix64 stream with Marsaglia-Tsang gamma and Beta draws (bit-identical to the kernel's)."""

    def __init__(self, seed: int) -> None:
        self.state = int(seed) & _MASK64
        self.next_u64()

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        return ((self.next_u64() >> 11) + 0.5) * 2.0**-53

    def normal(self) -> float:
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def gamma(self, shape: float) -> float:
        boost = 1.0
        if shape < 1.0:
            boost = self.uniform() ** (1.0 / shape)
            shape += 1.0
        d = shape - 1.0 / 3.0
        c = 1.0 / math.sqrt(9.0 * d)
        for _ in range(100):
            x = self.normal()
            v = 1.0 + c * x
            if v <= 0.0:
                continue
            v = v * v * v
            if math.log(self.uniform()) < 0.5 * x * x + d - d * v + d * math.log(v):
                return d * v * boost
        return d * boost

    def beta(self, a: float, b: float) -> float:
        x = self.gamma(a)
        y = self.gamma(b)
        return 0.5 if x + y <= 0.0 else x / (x + y)


# --------------------------------------------------------------------------- small helpers


def ok(x: float) -> bool:
    """Finite and positive."""
    return math.isfinite(x) and x > 0.0


def clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


@dataclass
class Gates:
    """Failing gates collected in order: ``first`` decides, ``codes`` lists all."""

    codes: list[int] = field(default_factory=list)

    def add(self, code: int) -> None:
        self.codes.append(code)

    @property
    def first(self) -> int:
        return self.codes[0] if self.codes else -1

    @property
    def mask(self) -> int:
        m = 0
        for c in self.codes:
            m |= 1 << c
        return m


_PARAMS_SEEN: dict[bytes, dict[str, Any]] = {}


def read_params(params: np.ndarray) -> dict[str, Any]:
    """The parameter record as a dict of Python values (memoised on its bytes; treat as read only)."""
    key = params.tobytes()
    if key not in _PARAMS_SEEN:
        rec = params[0]
        if len(_PARAMS_SEEN) > 256:
            _PARAMS_SEEN.clear()
        _PARAMS_SEEN[key] = {k: (rec[k].tolist() if isinstance(rec[k], np.ndarray) else rec[k].item())
                             for k in PARAM_FIELDS}
    return _PARAMS_SEEN[key]


def last_returns(mem: np.void, window: int) -> list[float]:
    """The strategy's last ``window`` closed-trade returns, newest first."""
    ring = mem["returns"].tolist()
    n = min(int(mem["n_trades"]), window, len(ring))
    head = int(mem["head"])
    return [ring[(head - 1 - k) % len(ring)] for k in range(n)]


# --------------------------------------------------------------------------- the pieces


def update_portfolio(port: np.void, now_ms: int, P: dict) -> tuple[bool, int]:
    equity = float(port["equity_usd"])
    equity_ok = ok(equity)
    if equity_ok:
        if not ok(port["peak_equity_usd"]) or equity > port["peak_equity_usd"]:
            port["peak_equity_usd"] = equity
        if not ok(port["session_start_equity_usd"]):
            port["session_start_equity_usd"] = equity
        for s in range(N_STRATEGIES):
            if port["last_entry_ts_ms"][s] <= 0:
                port["last_entry_ts_ms"][s] = now_ms
        midnight = now_ms // DAY_MS * DAY_MS
        if port["day_start_ts_ms"] != midnight or not ok(port["day_start_equity_usd"]):
            if port["day_start_ts_ms"] != midnight:
                port["day_entries"] = 0
            port["day_start_ts_ms"] = midnight
            port["day_start_equity_usd"] = equity
    code = int(port["breaker_code"])
    if code != Breaker.none and now_ms >= port["breaker_until_ms"] and equity_ok:
        reference = {Breaker.session: "session_start_equity_usd", Breaker.daily: "day_start_equity_usd"}
        port[reference.get(code, "peak_equity_usd")] = equity
        code = Breaker.none
        port["breaker_code"] = 0
        port["breaker_until_ms"] = -1
    if code == Breaker.none and equity_ok:
        if 1.0 - equity / port["peak_equity_usd"] >= P["max_drawdown_pct"]:
            code = Breaker.drawdown
        elif 1.0 - equity / port["day_start_equity_usd"] >= P["daily_loss_pct"]:
            code = Breaker.daily
        elif 1.0 - equity / port["session_start_equity_usd"] >= P["session_loss_pct"]:
            code = Breaker.session
        if code != Breaker.none:
            port["breaker_code"] = code
            port["breaker_until_ms"] = now_ms + P["breaker_cooldown_ms"]
    return equity_ok, code


def tilted_allocations(memory: np.ndarray, P: dict, rng_seed: int) -> list[float]:
    enabled = [bool(e) for e in P["strategy_enabled"]]
    base = [a if e else 0.0 for a, e in zip(P["allocation"], enabled)]
    if not P["bandit_enabled"]:
        return base
    rng = Rng(rng_seed)
    theta = []
    for s in range(N_STRATEGIES):
        a, b = float(memory[s]["bandit_alpha"]), float(memory[s]["bandit_beta"])
        a = a if ok(a) else (P["prior_alpha"] if ok(P["prior_alpha"]) else 1.0)
        b = b if ok(b) else (P["prior_beta"] if ok(P["prior_beta"]) else 1.0)
        theta.append(rng.beta(a, b))
    num = sum(P["allocation"][s] * theta[s] for s in range(N_STRATEGIES) if enabled[s])
    den = sum(P["allocation"][s] for s in range(N_STRATEGIES) if enabled[s])
    if den <= 0.0 or num <= 0.0:
        return base
    mean = num / den
    lo, hi = 1.0 - P["max_tilt"], 1.0 + P["max_tilt"]
    return [P["allocation"][s] * clip(theta[s] / mean, lo, hi) if enabled[s] else 0.0 for s in range(N_STRATEGIES)]


def kelly_win_rate_and_payoff(mem: np.void, P: dict) -> tuple[float, float]:
    returns = last_returns(mem, P["trade_memory"])
    if len(returns) < P["min_trades_for_stats"]:
        return P["default_win_rate"], P["default_payoff"]
    wins = [r for r in returns if r > 0.0]
    losses = [-r for r in returns if r <= 0.0]
    if not wins:
        payoff = P["kelly_min_payoff"]
    elif not losses or not sum(losses) / len(losses) > 0.0:
        payoff = P["kelly_max_payoff"]
    else:
        payoff = (sum(wins) / len(wins)) / (sum(losses) / len(losses))
    return len(wins) / len(returns), clip(payoff, P["kelly_min_payoff"], P["kelly_max_payoff"])


def burning_in(mem: np.void, P: dict) -> bool:
    """Fewer than ``min_trades_for_stats`` trades in memory and ``burn_in_min_size`` on."""
    return bool(P["burn_in_min_size"]) and len(last_returns(mem, P["trade_memory"])) < P["min_trades_for_stats"]


def kelly_stake_usd(equity: float, f: float, volatility: float, mem: np.void, P: dict) -> float:
    if not f > 0.0:
        return 0.0
    vol_scale = P["vol_scale_max"] if volatility <= 0.0 else clip(
        P["volatility_target"] / volatility, P["vol_scale_min"], P["vol_scale_max"]
    )
    recent = last_returns(mem, P["profit_seeking_window"])
    raw = 1.0 + P["profit_seeking_gain"] * (sum(recent) / len(recent)) / P["stop_loss_pct"] if recent else 1.0
    profit_scale = clip(raw, P["profit_scale_min"], P["profit_scale_max"])
    multiple = min(P["kelly_fraction"] * vol_scale, P["predictive_kelly_cap"])  # fractional Kelly, <= half-Kelly
    size = min(equity * multiple * f * profit_scale, P["max_usd"])
    if size < P["min_usd"]:
        return P["min_usd"] if P["min_usd"] <= P["min_size_kelly_multiple"] * f * equity else 0.0
    return size


def entry_rule(s: int, score, confidence, status, volume_ratio: float, direction: int, P: dict) -> int:
    live = lambda k: status[k] == SignalStatuses.ok  # noqa: E731
    if s == StrategyId.sentiment_fusion:
        ks = [k for k in SENTIMENT if live(k)]
        weight = sum(confidence[k] for k in ks)
        weighted = sum(confidence[k] * score[k] for k in ks)
        good = len(ks) >= P["sf_min_sentiment_live"] and weight > 0.0 and (
            direction * weighted / weight >= P["sf_min_sentiment_score"]
        )
        return -1 if good else Reason.sentiment_not_confirmed
    if s == StrategyId.trend_conservative:
        k = SignalIds.trend
        return -1 if live(k) and direction * score[k] >= P["tc_min_trend_score"] else Reason.trend_not_confirmed
    if s == StrategyId.breakout_aggressive:
        k = SignalIds.breakout
        if not (live(k) and direction * score[k] >= P["ba_min_breakout_score"]):
            return Reason.breakout_not_confirmed
        k = SignalIds.open_interest_velocity
        if live(k) and direction * score[k] >= P["ba_min_oi_score"]:
            return -1
        return -1 if volume_ratio >= P["ba_min_volume_ratio"] else Reason.breakout_not_confirmed
    return Reason.no_strategy_enabled


def expected_roi(conviction, direction, volatility, funding, bid, ask, hold_minutes, P) -> float:
    gross = P["roi_move_scale"] * conviction * volatility * math.sqrt(hold_minutes / 1440.0)
    slippage = P["expected_slippage"]
    book = ok(bid) and ok(ask) and ask >= bid
    if book:
        slippage = max(slippage, (ask - bid) / (ask + bid))
    if P["entry_post_only"] and book:
        costs = P["maker_fee"] + P["taker_fee"] + slippage
    else:
        costs = 2.0 * P["taker_fee"] + 2.0 * slippage
    return gross - costs - direction * funding * hold_minutes / P["funding_interval_minutes"]


def contracts_for(size_usd, bump_cap_usd, price, contract_size, min_contracts, step, min_usd) -> float:
    per = price * contract_size
    if not (per > 0.0 and step > 0.0):
        return 0.0
    down = math.floor(size_usd / per / step + EPS) * step
    if down > 0.0 and down >= min_contracts * (1 - EPS) and down * per >= min_usd * (1 - EPS):
        return down
    up = math.ceil(max(min_contracts, min_usd / per) / step - EPS) * step
    return up if up > 0.0 and up * per <= bump_cap_usd * (1 + EPS) else 0.0


def manage_position(pos: np.void, px: float, now_ms: int, drawdown: float, kill: int, P: dict):
    """Return (outcome, reason, mask, exit_reason) and update the tracking fields."""
    gates = Gates()
    extra = 0
    qty = float(pos["qty_base"])
    if not math.isfinite(qty):
        return Reason.held, Reason.state_invalid, 1 << Reason.state_invalid, -1
    side = 1.0 if qty > 0 else -1.0
    entry = float(pos["entry_price"])
    if math.isfinite(px):
        start = entry if ok(entry) else px
        if not math.isfinite(pos["high_water_price"]):
            pos["high_water_price"] = start
        if not math.isfinite(pos["low_water_price"]):
            pos["low_water_price"] = start
        pos["high_water_price"] = max(pos["high_water_price"], px)
        pos["low_water_price"] = min(pos["low_water_price"], px)
    if not math.isfinite(pos["stop_price"]) and ok(entry):
        pos["stop_price"] = entry * (1.0 - side * P["stop_loss_pct"])
    aged = pos["entry_ts_ms"] < 0
    age_ms = now_ms - int(pos["entry_ts_ms"])
    if aged:
        extra |= 1 << Reason.entry_time_unknown
    if kill == KillSwitch.flatten:
        return Reason.exited, Reason.kill_switch, extra | 1 << Reason.kill_switch, Reason.kill_switch
    if not math.isfinite(px):
        return Reason.held, Reason.data_outage, extra | 1 << Reason.data_outage, -1
    ret = side * (px / entry - 1.0)
    water = float(pos["high_water_price"] if side > 0 else pos["low_water_price"])
    best = side * (water / entry - 1.0)
    if best >= P["profit_lock_trigger_pct"]:
        pos["profit_lock_armed"] = 1
    if side * (px - pos["stop_price"]) <= 0.0:
        gates.add(Reason.stop_loss)
    if pos["profit_lock_armed"] and ret <= P["profit_lock_floor_pct"]:
        gates.add(Reason.profit_lock)
    if best >= P["trailing_activation_pct"] and side * (px - water * (1.0 - side * P["trailing_distance_pct"])) <= 0:
        gates.add(Reason.trailing_stop)
    if ret >= P["take_profit_pct"]:
        gates.add(Reason.take_profit)
    if (aged and P["unknown_entry_time_exit"]) or (not aged and age_ms >= P["max_hold_ms"]):
        gates.add(Reason.time_exit)
    mask = extra | gates.mask
    if gates.first < 0:
        return Reason.held, Reason.held, mask, -1
    if not aged and age_ms < P["min_hold_ms"]:
        if drawdown > P["hold_breaker_drawdown_pct"] or ret < -P["hold_breaker_loss_pct"]:
            mask |= 1 << Reason.hold_breaker
        else:
            return Reason.held, Reason.min_hold, mask | 1 << Reason.min_hold, -1
    return Reason.exited, gates.first, mask, gates.first


@dataclass
class StrategyCheck:
    strategy_id: int
    gates: Gates
    stage: int
    roi: float
    win_prob: float
    kelly_f: float
    size_usd: float


def stall_scale(now_ms: int, last_entry_ts_ms: int, P: dict) -> float:
    """Factor on the conviction thresholds: 1, then down to the floor as the stretch without an entry grows."""
    if last_entry_ts_ms <= 0:
        return 1.0
    minutes = (now_ms - last_entry_ts_ms) / 60_000
    frac = clip((minutes - P["stall_relax_after_minutes"])
                / (P["stall_relax_full_minutes"] - P["stall_relax_after_minutes"]), 0.0, 1.0)
    return 1.0 - (1.0 - P["stall_relax_floor"]) * frac


def check_strategy(s, i, now_ms, mem, features: Features, signals: SignalsIn, regime_row, equity, equity_ok, P,
                   threshold_scale=1.0):
    direction = int(signals.direction[i])
    conviction = float(signals.conviction[i])
    score, confidence, status = signals.score[i], signals.confidence[i], signals.status[i]
    gates = Gates()
    stage = STAGE_PASSED

    def fail(code: int, gate: str) -> None:
        nonlocal stage
        gates.add(code)
        stage = min(stage, STRATEGY_GATE_ORDER.index(gate))

    if not P["regime_allowed"][regime_row][s]:
        fail(Reason.regime_blocks_strategy, "regime")
    if now_ms < mem["pause_until_ms"]:
        fail(Reason.streak_paused, "streak")
    history = last_returns(mem, P["trade_memory"])
    if len(history) >= P["min_trades_for_stats"]:
        if sum(r > 0 for r in history) / len(history) < P["min_win_rate"][s]:
            fail(Reason.win_rate_below_threshold, "win_rate")
    if conviction < P["min_conviction"][s] * threshold_scale:
        fail(Reason.conviction_below_threshold, "conviction")
    rule = entry_rule(s, score, confidence, status, float(features.volume_ratio[i]), direction, P)
    if rule >= 0:
        fail(rule, "entry_rule")
    if P["require_mtf"][s]:
        dirs = [int(d) for d in features.trend_dir[i]]
        if not (dirs.count(direction) >= P["mtf_min_agree"] and dirs.count(-direction) <= P["mtf_max_oppose"]):
            fail(Reason.mtf_not_confirmed, "mtf")
    roi = expected_roi(conviction, direction, float(features.volatility_daily[i]), float(features.funding_rate[i]),
                       float(features.best_bid[i]), float(features.best_ask[i]), P["expected_hold_minutes"][s], P)
    if roi < P["min_expected_roi"][s]:
        fail(Reason.roi_below_minimum, "roi")
    if P["calib_n"][s] > 0:  # calibrated: np.interp over the knots (flat beyond them), the fitted payoff
        n = P["calib_n"][s]
        win_prob = clip(float(np.interp(conviction, P["calib_conviction"][s][:n], P["calib_win_prob"][s][:n])), 0.0,
                        P["kelly_max_win_rate"])
        payoff = clip(P["calib_payoff"][s], P["kelly_min_payoff"], P["kelly_max_payoff"])
    else:
        win_rate, payoff = kelly_win_rate_and_payoff(mem, P)
        win_prob = clip(win_rate + P["kelly_conviction_slope"] * (conviction - P["kelly_conviction_pivot"]), 0.0,
                        P["kelly_max_win_rate"])
    f = win_prob - (1.0 - win_prob) / payoff
    size = 0.0
    if burning_in(mem, P):  # burn-in: every other gate decides, the stake is the minimum
        size = P["min_usd"] if equity_ok else 0.0
    elif not f > 0.0:
        fail(Reason.kelly_no_edge, "kelly")
    elif equity_ok:
        size = kelly_stake_usd(equity, f, float(features.volatility_daily[i]), mem, P)
        if size <= 0.0:
            fail(Reason.size_below_minimum, "size")
    return StrategyCheck(s, gates, stage, roi, win_prob, f, size)


# --------------------------------------------------------------------------- decide


def decide_reference(now_ms: int, positions: np.ndarray, portfolio: np.ndarray, memory: np.ndarray,
                     features: Features, signals: SignalsIn, regime: np.ndarray, params: np.ndarray,
                     rng_seed: int) -> Decision:
    """Decide one cycle exactly like ``decide_nb``, slowly and readably."""
    P = read_params(params)
    # plain Python copies of the per-cycle inputs (same values, quicker to index)
    features = Features(*(a.tolist() for a in features))
    signals = SignalsIn(*(a.tolist() for a in signals))
    regime = regime.tolist()
    n = len(positions)
    port = portfolio[0]
    now_ms = int(now_ms)
    intents: list[tuple] = []
    trail = np.zeros(n, dtype=trail_dt)

    # 1. portfolio bookkeeping, circuit breaker, bandit
    equity_ok, breaker = update_portfolio(port, now_ms, P)
    equity = float(port["equity_usd"])
    drawdown = 1.0 - equity / port["peak_equity_usd"] if equity_ok else math.nan
    kill = int(port["kill_switch"])
    allocation = tilted_allocations(memory, P, rng_seed)

    # 2. the book as it stands
    def value_price(i: int) -> float:
        for px in (features.mark_price[i], features.price[i]):
            if ok(px):
                return float(px)
        return math.nan

    def notional(i: int) -> float:
        qty, px = float(positions[i]["qty_base"]), value_price(i)
        if math.isfinite(qty):
            px = px if math.isfinite(px) else float(positions[i]["entry_price"])
            if ok(px):
                return abs(qty) * px
        return P["max_symbol_exposure_pct"] * equity if math.isfinite(equity) else 0.0

    def bucket(i: int) -> int:
        sid = int(positions[i]["sector_id"])
        return sid if 0 <= sid < N_SECTOR_BUCKETS - 1 else N_SECTOR_BUCKETS - 1

    open_idx = [i for i in range(n) if positions[i]["qty_base"] != 0.0]
    n_open = len(open_idx)
    sectors = [0] * N_SECTOR_BUCKETS
    for i in open_idx:
        sectors[bucket(i)] += 1
    total_notional = 0.0
    by_strategy = [0.0] * N_STRATEGIES
    for i in open_idx:
        total_notional += notional(i)
        if 0 <= positions[i]["strategy_id"] < N_STRATEGIES:
            by_strategy[positions[i]["strategy_id"]] += notional(i)

    # 3. exits
    for i in range(n):
        row = trail[i]
        row["symbol_idx"], row["strategy_id"] = i, -1
        for name in ("conviction", "win_prob", "kelly_f", "expected_roi", "size_usd"):
            row[name] = math.nan
        if i not in open_idx:
            continue
        pos = positions[i]
        px = value_price(i)
        outcome, reason, mask, exit_reason = manage_position(pos, px, now_ms, drawdown, kill, P)
        row["outcome"], row["reason"], row["gate_mask"], row["strategy_id"] = outcome, reason, mask, pos["strategy_id"]
        qty = float(pos["qty_base"])
        if math.isfinite(qty):
            side = 1 if qty > 0 else -1
            row["direction"], row["size_usd"] = side, abs(qty) * px
            if outcome == Reason.exited:
                intents.append((i, -side, abs(qty), abs(float(pos["qty_contracts"])), OrderType.market, math.nan,
                                True, int(pos["strategy_id"]), Reason.exited, exit_reason, px, abs(qty) * px,
                                math.nan))

    # 4. entry gates for flat symbols
    portfolio_gates = Gates()
    if not equity_ok:
        portfolio_gates.add(Reason.equity_invalid)
    if kill != KillSwitch.off:
        portfolio_gates.add(Reason.kill_switch)
    if breaker != Breaker.none:
        portfolio_gates.add({Breaker.session: Reason.circuit_breaker_session, Breaker.daily:
                             Reason.circuit_breaker_daily}.get(breaker, Reason.circuit_breaker_drawdown))
    if not any(P["strategy_enabled"]):
        portfolio_gates.add(Reason.no_strategy_enabled)

    checks: dict[int, list[StrategyCheck]] = {}
    candidates: list[int] = []
    scale = [stall_scale(now_ms, int(port["last_entry_ts_ms"][s]), P) for s in range(N_STRATEGIES)]
    for i in range(n):
        if i in open_idx:
            continue
        row = trail[i]
        direction, conviction = int(signals.direction[i]), float(signals.conviction[i])
        row["direction"], row["conviction"] = direction, conviction
        gates = Gates(list(portfolio_gates.codes))
        data_ok = (
            ok(features.price[i]) and math.isfinite(features.volatility_daily[i])
            and features.volatility_daily[i] >= 0 and math.isfinite(features.funding_rate[i])
            and ok(features.contract_size[i]) and ok(features.min_contracts[i]) and ok(features.contract_step[i])
            and all(signals.status[i][k] == SignalStatuses.ok for k in range(len(P["required_signal"]))
                    if P["required_signal"][k])
        )
        if not data_ok:
            gates.add(Reason.data_outage)
        if signals.n_live[i] < P["min_live_signals"]:
            gates.add(Reason.min_live_signals)
        elif not signals.tradable[i]:
            gates.add(Reason.data_outage)
        signal_ok = direction != 0 and math.isfinite(conviction) and conviction > 0.0
        if not signal_ok:
            gates.add(Reason.no_signal)
        benched = bool(positions[i]["benched"])
        only_bench = benched and not gates.codes  # nothing else holds it back (no portfolio or symbol gate)
        if benched:  # benched by the learning system: the first symbol gate, every gate still runs
            gates.codes.insert(len(portfolio_gates.codes), Reason.benched)
        mine: list[StrategyCheck] = []
        if data_ok and signal_ok:
            reg = int(regime[i])
            regime_row = reg + 1 if -1 <= reg <= 2 else 0
            mine = [check_strategy(s, i, now_ms, memory[s], features, signals, regime_row, equity, equity_ok, P,
                                   scale[s]) for s in range(N_STRATEGIES) if P["strategy_enabled"][s]]
        checks[i] = mine
        mask = gates.mask
        best = None
        for c in mine:  # fewest failing gates; ties: furthest stage, larger tilted allocation, lower id
            key = (bin(c.gates.mask).count("1"), -c.stage, -allocation[c.strategy_id])
            if best is None or key < (bin(best.gates.mask).count("1"), -best.stage, -allocation[best.strategy_id]):
                best = c
        if best is not None:
            mask |= best.gates.mask
        reason = gates.first
        if best is not None:
            row["strategy_id"], row["win_prob"], row["kelly_f"] = best.strategy_id, best.win_prob, best.kelly_f
            row["expected_roi"] = best.roi
            if best.size_usd > 0:
                row["size_usd"] = best.size_usd
        if reason < 0 and best is not None and best.stage == STAGE_PASSED:
            candidates.append(i)
        elif only_bench and best is not None and best.stage == STAGE_PASSED:
            mask = 1 << Reason.benched  # the entry it would have made: the bench alone holds it back
        elif reason < 0 and best is not None:
            reason = best.gates.first
        row["gate_mask"] = mask
        row["reason"] = reason if reason >= 0 else Reason.skipped

    # 5. risk limits, most convinced first
    candidates.sort(key=lambda i: -float(signals.conviction[i]))  # stable: ties keep symbol order
    for i in candidates:
        row = trail[i]
        direction = int(signals.direction[i])
        price = float(features.price[i])
        gates = Gates()
        mask = int(row["gate_mask"])
        if n_open >= P["max_positions"]:
            gates.add(Reason.max_positions)
        if sectors[bucket(i)] >= P["max_positions_per_sector"]:
            gates.add(Reason.sector_limit)
        if P["max_entries_per_day"] > 0 and port["day_entries"] >= P["max_entries_per_day"]:
            gates.add(Reason.daily_entry_limit)
        mask |= gates.mask
        entered = False
        if gates.first < 0:
            passing = [c for c in checks[i] if c.stage == STAGE_PASSED]
            # by decreasing tilted allocation; equal allocations keep the lower id first
            passing.sort(key=lambda c: -allocation[c.strategy_id])
            for c in passing:
                s = c.strategy_id
                caps = [
                    (Reason.symbol_exposure, P["max_symbol_exposure_pct"] * equity),
                    (Reason.total_exposure, P["max_total_exposure_pct"] * equity - total_notional),
                    (Reason.strategy_allocation, allocation[s] * P["max_total_exposure_pct"] * equity
                     - by_strategy[s]),
                    (Reason.leverage_cap, P["max_leverage"] * equity - total_notional),
                ]
                risk = Gates()
                clamps = 0
                for code, cap in caps:
                    if cap < c.size_usd:
                        clamps |= 1 << code
                        if cap < P["min_usd"]:
                            risk.add(code)
                contracts = 0.0
                if risk.first < 0:
                    target = min([c.size_usd] + [cap for _, cap in caps])
                    kelly_bound = P["max_usd"] if burning_in(memory[s], P) else \
                        P["min_size_kelly_multiple"] * c.kelly_f * equity
                    bump_cap = min([P["max_usd"]] + [cap for _, cap in caps] + [kelly_bound])
                    contracts = contracts_for(target, bump_cap, price, float(features.contract_size[i]),
                                              float(features.min_contracts[i]), float(features.contract_step[i]),
                                              P["min_usd"])
                    if contracts <= 0.0:
                        risk.add(Reason.size_below_minimum)
                if risk.first >= 0:
                    mask |= clamps | risk.mask
                    gates.codes.append(risk.codes[0])
                    continue
                qty_base = contracts * float(features.contract_size[i])
                size_usd = qty_base * price
                post_only = P["entry_post_only"] and ok(features.best_bid[i]) and ok(features.best_ask[i])
                limit = (float(features.best_bid[i]) if direction > 0 else float(features.best_ask[i])) \
                    if post_only else math.nan
                intents.append((i, direction, qty_base, contracts, OrderType.limit if post_only else OrderType.market,
                                limit, False, s, Reason.entered, -1, price, size_usd,
                                price * (1.0 - direction * P["stop_loss_pct"])))
                n_open += 1
                port["day_entries"] += 1
                sectors[bucket(i)] += 1
                total_notional += size_usd
                by_strategy[s] += size_usd
                row["outcome"], row["reason"], row["gate_mask"], row["strategy_id"] = (
                    Reason.entered, Reason.entered, clamps, s)
                row["win_prob"], row["kelly_f"], row["expected_roi"], row["size_usd"] = (
                    c.win_prob, c.kelly_f, c.roi, size_usd)
                entered = True
                break
        if not entered:
            row["gate_mask"] = mask
            row["reason"] = gates.first if gates.first >= 0 else Reason.skipped

    for it in intents:
        if not it[6]:  # an entry intent restarts its strategy's stall clock
            port["last_entry_ts_ms"][it[7]] = now_ms
    out = np.zeros(len(intents), dtype=intent_dt)
    for k, values in enumerate(intents):
        out[k] = values
    return Decision(out, trail, np.asarray(allocation, dtype=np.float64))
