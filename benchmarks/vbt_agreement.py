"""The botcore signal simulator against vectorbt ``Portfolio.from_signals`` on the same signals, in one run.

Both run an EMA cross (fast 20 / slow 60 bars) long-only on the same close
panel with a fixed base size, close-price fills and the 0.06% taker fee:
botcore through :func:`botcore.research.nb.simulate_signals_nb` (the fill
kernel :func:`botcore.fills.nb.fill_market_order_nb` per order), vectorbt
through ``from_signals`` (its trade records read back). Reports each side's
warm time (best of ``--repeat``, compile apart), the ratio vectorbt / botcore
(target >= 1x) and whether the trades are identical (entry/exit bar, size,
price, fees, P&L to 1e-9).

    python -m benchmarks vbt_agreement [--bars 525600] [--symbols 15] [--data DIR] [--repeat 3]

Without ``--data`` the closes are a seeded geometric random walk (SYNTHETIC);
with it, the 1m closes of the store's symbols.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def _closes(args: argparse.Namespace) -> pd.DataFrame:
    if args.data:
        from botcore.market.store import Store

        store = Store(args.data)
        syms = store.symbols("candles_1m")[: args.symbols]
        return store.read_panel("candles_1m", syms, "close").iloc[: args.bars]
    rng = np.random.default_rng(0)
    steps = rng.standard_t(4, size=(args.bars, args.symbols)) * 0.0007
    idx = pd.date_range("2024-01-01", periods=args.bars, freq="1min", tz="UTC")
    return pd.DataFrame(100.0 * np.exp(np.cumsum(steps, axis=0)), index=idx,
                        columns=[f"SYN{j}/USDT:USDT" for j in range(args.symbols)])


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks vbt_agreement", description=__doc__.splitlines()[0])
    p.add_argument("--bars", type=int, default=525_600)
    p.add_argument("--symbols", type=int, default=15)
    p.add_argument("--data", default="")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)

    from botcore.research.vbt import compare_trades, ema_cross_signals, run_signals_botcore, run_signals_vbt, vbt_trades

    closes = _closes(args)
    entries, exits = ema_cross_signals(closes, 20, 60)
    size = np.full(closes.shape[1], 1.0)
    fee = 0.0006
    small = (closes.iloc[:500], entries.iloc[:500], exits.iloc[:500])
    t0 = time.perf_counter()
    run_signals_botcore(*small, size_base=size, fee_rate=fee)
    t_compile_bc = time.perf_counter() - t0
    t0 = time.perf_counter()
    vbt_trades(run_signals_vbt(*small, size_base=size, fee_rate=fee))
    t_compile_vbt = time.perf_counter() - t0

    t_bc, ours = _best(lambda: run_signals_botcore(closes, entries, exits, size_base=size, fee_rate=fee), args.repeat)
    t_vbt, pf = _best(lambda: run_signals_vbt(closes, entries, exits, size_base=size, fee_rate=fee), args.repeat)
    t_rec, theirs = _best(lambda: vbt_trades(pf), 1)
    problems = compare_trades(ours, theirs, atol=1e-9)
    n_cells = closes.shape[0] * closes.shape[1]
    print(f"vbt agreement: EMA(20/60) cross, long only, {closes.shape[0]:,} bars x {closes.shape[1]} symbols "
          f"({'store ' + args.data if args.data else 'SYNTHETIC random walk'}), fee {fee:.2%}")
    print(f"  compile / first call : botcore {t_compile_bc:7.2f} s   vectorbt {t_compile_vbt:7.2f} s")
    print(f"  botcore simulator    : {t_bc:8.4f} s  ({n_cells / t_bc / 1e6:6.1f} M symbol-bars/s)")
    print(f"  vectorbt from_signals: {t_vbt:8.4f} s  (+ {t_rec:.4f} s reading its trade records)")
    print(f"  ratio vectorbt / botcore: {t_vbt / t_bc:.2f}x (target >= 1x)")
    print(f"  trades: {len(ours):,} botcore, {len(theirs):,} vectorbt -> "
          + ("IDENTICAL" if not problems else "DIFFER: " + "; ".join(problems)))
    return 0 if not problems else 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
