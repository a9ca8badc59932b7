"""`botcore run` started the way a user starts it, against faults: a broken invariant freezes entries (the process
keeps running), a resume with changed arguments is refused, a full disk stops cleanly after the last committed cycle,
a store missing a symbol or holding a corrupt file is refused at start, and every --override mistake is a clean error
in run, backtest and sweep."""

from __future__ import annotations

import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.config import load_settings
from botcore.ledger import Ledger
from botcore.ledger.integrity import check_integrity
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.market.store import Store
from botcore.ops import killswitch
from botcore.ops.guard import WHO
from botcore.ops.notify import alert_log
from tests._replay_runs import replay_run_args
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
MIN = 60_000
DAY = 86_400_000
SEED = 7
START = DEFAULT_START_MS + DAY + MIN
END = START + 240 * MIN
WARMUP = 600
FIRST = 125  # cycles of the first run: the replay's first entries come at cycle 120
runner = CliRunner()


def _run(market: Path, ledger: Path, *extra: str, seed: int = SEED, preexec=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "botcore", "run", *replay_run_args(market / "market", ledger, START, END, seed, WARMUP,
                                                                     "--config", str(CONFIG_DIR), *extra)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=market, preexec_fn=preexec)


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("runguards")
    generate_sample_market(root / "market", 1.5, SEED, SETTINGS)
    return root


@pytest.fixture(scope="module")
def first_run(market) -> Path:
    """A ledger holding the first FIRST cycles (with fills) of the replay."""
    path = market / "first.db"
    result = _run(market, path, "--cycles", str(FIRST))
    assert result.returncode == 0, result.stderr[-3000:]
    with Ledger.open(path, readonly=True) as led:
        assert len(led.equity()) == FIRST and len(led.fills()) > 0
    return path


def _copy(path: Path, name: str) -> Path:
    out = path.with_name(name)
    shutil.copy(path, out)
    return out


def _entries_after(path: Path, t_ms: int) -> int:
    with Ledger.open(path, readonly=True) as led:
        orders = led.orders()
    return int(((orders["created_ts_ms"] > t_ms) & ~orders["reduce_only"].astype(bool)).sum())


def test_a_broken_invariant_freezes_entries_alerts_and_the_run_goes_on(first_run):
    healthy, broken = _copy(first_run, "healthy.db"), _copy(first_run, "broken.db")
    con = sqlite3.connect(broken)
    with con:  # $5 added to one fee: a red flag per `ledger check`
        con.execute("UPDATE fills SET fee_usd = fee_usd + 5 WHERE seq = (SELECT MIN(seq) FROM fills)")
    con.close()
    with Ledger.open(first_run, readonly=True) as led:
        t_resume = int(led.equity()["ts_ms"].max())
    ok = _run(first_run.parent, healthy, "--cycles", "40")
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert _entries_after(healthy, t_resume) > 0  # the same cycles place entries on a sound ledger
    frozen = _run(first_run.parent, broken, "--cycles", "40", "--invariant-every", "10")
    assert frozen.returncode == 1, frozen.stderr[-3000:]  # the final summary still says BROKEN
    assert "Traceback" not in frozen.stderr
    assert _entries_after(broken, t_resume) == 0
    with Ledger.open(broken, readonly=True) as led:
        assert len(led.equity()) == FIRST + 40  # the process kept running every cycle
        state = killswitch.kill_switch_state(led)
        assert state.engaged and state.action == "freeze" and state.who == WHO
        assert "off by +5.00 USD" in state.why and "at start" in state.why
        assert [a["kind"] for a in alert_log(led) if a["kind"] == "wallet_discrepancy"] == ["wallet_discrepancy"]


def test_a_resume_with_changed_arguments_is_refused_naming_each_unless_asked(first_run):
    path = _copy(first_run, "changed.db")
    refused = _run(first_run.parent, path, "--override", "kelly_conviction_slope=0.3", seed=8)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "--seed 8 (the run uses 7)" in refused.stderr
    assert "--override kelly_conviction_slope=0.3: new (the run has none)" in refused.stderr
    with Ledger.open(path, readonly=True) as led:
        assert led.get_meta("replay")["run_seed"] == SEED and len(led.equity()) == FIRST
    moved = _run(first_run.parent, path, "--data", str(first_run.parent))
    assert moved.returncode == 2 and f"--data {first_run.parent} (the run replays" in moved.stderr, moved.stderr[-2000:]
    applied = _run(first_run.parent, path, "--cycles", "1", "--resume-with-changes", seed=8)
    assert applied.returncode == 0, applied.stderr[-3000:]
    with Ledger.open(path, readonly=True) as led:
        assert led.get_meta("replay")["run_seed"] == 8
        change = led.get_meta("resume:changes")[-1]
        assert change["changes"] == ["--seed 8 (the run uses 7)"] and change["before"]["run_seed"] == SEED
        assert len(led.equity()) == FIRST + 1


def test_a_full_disk_stops_the_run_cleanly_after_the_last_committed_cycle(first_run):
    path = _copy(first_run, "full.db")
    limit = path.stat().st_size + 40_000  # room for a few cycles of the WAL, then writes fail

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = _run(first_run.parent, path, preexec=small_disk)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "run stopped: writing the ledger" in result.stderr and "stopped cleanly after the last committed cycle" \
        in result.stderr
    assert check_integrity(path).ok
    with Ledger.open(path, readonly=True) as led:
        n = len(led.equity())
        assert FIRST <= n < 241 and led.check_invariant().ok
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0 or check_integrity(path).ok
    resumed = _run(first_run.parent, path, "--cycles", "2")  # space again: the same command resumes
    assert resumed.returncode == 0, resumed.stderr[-3000:]


def test_a_missing_symbol_file_or_a_corrupt_one_is_refused_at_start(market, tmp_path):
    data = tmp_path / "store"
    shutil.copytree(market / "market", data)
    store = Store(data)
    gone = store.path("candles_1m", "ETH/USDT:USDT")
    gone.unlink()
    args = ["run", "--data", str(data), "--ledger", str(tmp_path / "l.db"), "--config", str(CONFIG_DIR)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and str(gone) in result.output and "no 1m candles" in result.output
    result = runner.invoke(app, ["backtest", "--data", str(data), "--out", str(tmp_path / "bt"), "--config",
                                 str(CONFIG_DIR)])
    assert result.exit_code == 1 and str(gone) in result.output and "no 1m candles" in result.output, result.output
    assert not (tmp_path / "bt").exists()  # refused before anything was written
    result = runner.invoke(app, ["sweep", "--data", str(data), "--out", str(tmp_path / "sw"), "--grid",
                                 "kelly_conviction_pivot=0.4,0.5", "--config", str(CONFIG_DIR)])
    assert result.exit_code == 1 and str(gone) in result.output and "no 1m candles" in result.output, result.output
    broken = store.path("candles_1m", "BTC/USDT:USDT")
    broken.write_bytes(broken.read_bytes()[:200])
    result = runner.invoke(app, [*args, "--symbols", "BTC/USDT:USDT"])
    assert result.exit_code == 1 and "not a readable Parquet file" in result.output and str(broken) in result.output, \
        result.output


@pytest.mark.parametrize("item, message", [
    ("bogus=1", "unknown parameter 'bogus'"),
    ("kelly_conviction_pivot=abc", "'abc' is not a number"),
    ("min_conviction=0.1", "min_conviction is set per strategy; use min_conviction.sentiment_fusion"),
    ("min_conviction.nobody=0.1", "unknown strategy 'nobody'"),
    ("min_convicton.trend_conservative=0.2", "did you mean min_conviction.trend_conservative"),
    ("kelly_conviction_pivot=5", "kelly_conviction_pivot: must lie in [0.0, 1.0], got 5.0"),
    ("min_conviction.trend_conservative=2", "min_conviction: must lie in [0, 1]"),
    ("kelly_conviction_pivot=nan", "must be a finite number"),
    ("novalue", "use KEY=VALUE"),
])
def test_every_override_mistake_is_a_clean_error_in_run_backtest_and_sweep(tmp_path, item, message):
    for args in (["run", "--data", str(tmp_path), "--ledger", str(tmp_path / "l.db")],
                 ["backtest", "--data", str(tmp_path), "--out", str(tmp_path / "bt")],
                 ["sweep", "--data", str(tmp_path), "--out", str(tmp_path / "sw"), "--grid", "kelly_fraction=0.2"]):
        result = runner.invoke(app, [*args, "--config", str(CONFIG_DIR), "--override", item])
        assert result.exit_code == 2 and message in result.output, (args[0], result.output)
        assert isinstance(result.exception, SystemExit)
    assert not (tmp_path / "l.db").exists()
