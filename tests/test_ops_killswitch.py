"""The kill switch: engage and release round trips, explicit confirmation, the kill file, the loop's view."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.ledger import Ledger
from botcore.ops import killswitch
from botcore.ops.killswitch import KillSwitchError, engage, kill_switch_state, release
from botcore.ops.paths import kill_file_path
from botcore.strategy import KillSwitch, Reason


@pytest.fixture
def ledger_path(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger.open(path, starting_cash_usd=10_000.0, mode="paper").close()
    return path


def test_engage_and_release_round_trip(ledger_path):
    assert not kill_switch_state(ledger_path).engaged

    state = engage(ledger_path, "freeze", who="alice", why="exchange maintenance", now_ms=1_000)

    assert (state.engaged, state.action, state.since_ms, state.who, state.why) == (
        True, "freeze", 1_000, "alice", "exchange maintenance")
    assert state.source == "ledger+file" and state.code == KillSwitch.freeze
    assert json.loads(kill_file_path(ledger_path).read_text())["action"] == "freeze"
    with Ledger.open(ledger_path) as book:
        assert book.get_flag("kill_switch")
        assert kill_switch_state(book) == state

    released = release(ledger_path, confirm=True, who="bob", why="maintenance over", now_ms=2_000)

    assert not released.engaged and released.code == KillSwitch.off
    assert not kill_file_path(ledger_path).exists()
    with Ledger.open(ledger_path, readonly=True) as book:
        history = killswitch.kill_switch_history(book)
        assert not book.get_flag("kill_switch")
    assert [(e["event"], e["who"]) for e in history] == [("engage", "alice"), ("release", "bob")]


def test_release_without_confirmation_is_refused(ledger_path):
    engage(ledger_path, "flatten", who="alice", why="runaway losses")

    for confirm in (False, None, "yes"):
        with pytest.raises(KillSwitchError, match="confirm"):
            release(ledger_path, confirm=confirm)  # type: ignore[arg-type]

    state = kill_switch_state(ledger_path)
    assert state.engaged and state.action == "flatten"
    assert kill_file_path(ledger_path).exists()


def test_flatten_upgrades_a_freeze_and_keeps_its_start(ledger_path):
    engage(ledger_path, "freeze", now_ms=1_000)
    engage(ledger_path, "flatten", now_ms=5_000)
    assert kill_switch_state(ledger_path).action == "flatten"
    assert kill_switch_state(ledger_path).since_ms == 1_000

    engage(ledger_path, "freeze", now_ms=9_000)  # a downgrade needs a release
    assert kill_switch_state(ledger_path).action == "flatten"


def test_the_kill_file_alone_engages_it_even_corrupt(ledger_path):
    kill_file_path(ledger_path).write_text("")  # touch data/ledger.db.KILL
    state = kill_switch_state(ledger_path)
    assert state.engaged and state.action == "freeze" and state.source == "file"

    kill_file_path(ledger_path).write_text("{not json")
    assert kill_switch_state(ledger_path).action == "freeze"

    kill_file_path(ledger_path).write_text(json.dumps({"action": "flatten", "who": "ops", "why": "by hand"}))
    assert kill_switch_state(ledger_path).action == "flatten"

    release(ledger_path, confirm=True)
    assert not kill_switch_state(ledger_path).engaged


def test_unknown_action_is_refused(ledger_path):
    with pytest.raises(KillSwitchError, match="freeze"):
        engage(ledger_path, "pause")


def test_the_cli_engages_refuses_an_unconfirmed_release_and_releases(ledger_path):
    runner = CliRunner()

    engaged = runner.invoke(app, ["kill", "--ledger", str(ledger_path), "--why", "test drill", "--json"])
    assert engaged.exit_code == 0, engaged.output
    assert json.loads(engaged.stdout)["action"] == "freeze"

    flatten = runner.invoke(app, ["kill", "--flatten", "--ledger", str(ledger_path)])
    assert flatten.exit_code == 0 and "KILL SWITCH ENGAGED: flatten" in flatten.stdout

    refused = runner.invoke(app, ["kill", "--release", "--ledger", str(ledger_path)])
    assert refused.exit_code == 2
    assert "--release --confirm" in refused.output
    assert kill_switch_state(ledger_path).engaged

    released = runner.invoke(app, ["kill", "--release", "--confirm", "--ledger", str(ledger_path)])
    assert released.exit_code == 0, released.output
    assert not kill_switch_state(ledger_path).engaged
    with Ledger.open(ledger_path, readonly=True) as book:
        kinds = [a["kind"] for a in book.get_meta("alerts:log")]
        sent = [a["sent"] or a["email"] is False and not a["suppressed"] for a in book.get_meta("alerts:log")]
    assert kinds == ["kill_switch:freeze", "kill_switch:flatten", "kill_switch_released"]
    assert all(sent), "an escalation to flatten is never held back by the freeze alert's rate limit"


def test_the_decision_kernel_obeys_the_switch_within_one_cycle(ledger_path, settings):
    """What the loop does at the start of a cycle: copy state.code into the portfolio, then decide."""
    from botcore.engine.preflight import _world
    from botcore.strategy import decide

    def cycle(book, world):
        world.portfolio["kill_switch"] = kill_switch_state(book).code
        return world.decide(decide)

    with Ledger.open(ledger_path) as book:
        assert cycle(book, _world(settings, None)).trail[0]["outcome"] == Reason.entered

        engage(book, "freeze", who="t")
        frozen = cycle(book, _world(settings, None))
        assert frozen.trail[0]["reason"] == Reason.kill_switch and len(frozen.intents) == 0

        engage(book, "flatten", who="t")
        world = _world(settings, None, long_setup=False)
        world.positions[1]["qty_contracts"] = 3.0
        world.positions[1]["qty_base"] = 0.03
        world.positions[1]["entry_price"] = 100.0
        world.positions[1]["entry_ts_ms"] = world.now_ms - 60_000
        flattened = cycle(book, world)
        assert flattened.trail[1]["outcome"] == Reason.exited and flattened.trail[1]["reason"] == Reason.kill_switch
        assert np.all(flattened.intents["reduce_only"])


def test_a_bare_ledger_flag_engages_a_freeze(ledger_path):
    engage(ledger_path, "flatten", who="alice")
    release(ledger_path, confirm=True, who="bob")
    with Ledger.open(ledger_path) as book:
        book.set_flag("kill_switch", True)  # another writer, without the ops record
        state = kill_switch_state(book)
    assert state.engaged and state.action == "freeze" and state.who is None and state.source == "ledger"
