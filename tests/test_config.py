"""Configuration: the shipped files load, and every kind of error names file, key and reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydantic
import pytest
import yaml
from typer.testing import CliRunner

from botcore.cli import app
from botcore.config import load_settings
from botcore.errors import ConfigError
from tests.conftest import CONFIG_DIR


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


def _edit(path: Path, mutate) -> None:
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data))


def test_shipped_configuration_has_the_documented_defaults(settings):
    assert len(settings.universe.assets) == 15
    assert all(a.symbol.endswith("/USDT:USDT") for a in settings.universe.assets)
    allocations = {n: s.allocation for n, s in settings.strategies.strategies.items()}
    assert allocations == {"sentiment_fusion": 0.45, "trend_conservative": 0.35, "breakout_aggressive": 0.20}
    assert (settings.risk.max_positions, settings.risk.max_positions_per_sector) == (10, 2)
    assert (settings.risk.max_symbol_exposure_pct, settings.risk.max_total_exposure_pct) == (0.10, 0.60)
    assert (settings.sizing.min_usd, settings.sizing.max_usd, settings.sizing.kelly_fraction) == (200, 2000, 0.3)
    assert (settings.sizing.default_win_rate, settings.sizing.default_payoff) == (0.45, 1.2)
    assert (settings.sizing.min_trades_for_stats, settings.sizing.trade_memory) == (30, 50)
    assert (settings.fees.maker, settings.fees.taker) == (0.0002, 0.0006)
    assert settings.venue.mode == "paper"
    assert (settings.schedules.cycle_seconds, settings.schedules.learning_hours, settings.schedules.review_days) == (60, 12, 7)


def test_every_sector_is_used_and_no_sector_is_invented(settings):
    from botcore.config import SECTORS

    assert {a.sector for a in settings.universe.assets} == set(SECTORS)


def test_models_are_frozen(settings):
    with pytest.raises(pydantic.ValidationError):
        settings.risk.max_positions = 99


def test_unknown_key_names_file_and_key(config_copy):
    _edit(config_copy / "risk.yaml", lambda d: d.update(max_postions=3))
    with pytest.raises(ConfigError) as err:
        load_settings(config_copy)
    message = str(err.value)
    assert "risk.yaml" in message and "max_postions" in message and "unknown key" in message


def test_wrong_type_names_file_and_key(config_copy):
    _edit(config_copy / "sizing.yaml", lambda d: d.update(kelly_fraction="a third"))
    with pytest.raises(ConfigError) as err:
        load_settings(config_copy)
    message = str(err.value)
    assert "sizing.yaml" in message and "kelly_fraction" in message and "number" in message


def test_out_of_range_value_names_nested_key(config_copy):
    _edit(config_copy / "risk.yaml", lambda d: d["circuit_breaker"].update(daily_loss_pct=-0.1))
    with pytest.raises(ConfigError) as err:
        load_settings(config_copy)
    message = str(err.value)
    assert "risk.yaml" in message and "circuit_breaker.daily_loss_pct" in message and "greater than 0" in message


def test_bad_sector_names_the_asset_index(config_copy):
    _edit(config_copy / "universe.yaml", lambda d: d["assets"][3].update(sector="gaming"))
    with pytest.raises(ConfigError) as err:
        load_settings(config_copy)
    assert "universe.yaml" in str(err.value) and "assets.3.sector" in str(err.value)


def test_non_perpetual_symbol_is_rejected(config_copy):
    _edit(config_copy / "universe.yaml", lambda d: d["assets"][0].update(symbol="BTC/USDT"))
    with pytest.raises(ConfigError, match="USDT perpetual"):
        load_settings(config_copy)


def test_allocations_must_sum_to_one(config_copy):
    _edit(config_copy / "strategies.yaml", lambda d: d["strategies"]["trend_conservative"].update(allocation=0.5))
    with pytest.raises(ConfigError, match="strategies.yaml.*sum to 1.1"):
        load_settings(config_copy)


def test_bandit_beta_parameters_must_be_positive(config_copy):
    _edit(config_copy / "strategies.yaml", lambda d: d["bandit"].update(prior_beta=0))
    with pytest.raises(ConfigError, match="bandit.prior_beta"):
        load_settings(config_copy)


def test_missing_file_is_named(config_copy):
    (config_copy / "fees.yaml").unlink()
    with pytest.raises(ConfigError, match="fees.yaml: file is missing"):
        load_settings(config_copy)


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(ConfigError, match="configuration directory is missing"):
        load_settings(tmp_path / "nowhere")


def test_config_check_prints_effective_configuration():
    result = CliRunner().invoke(app, ["config", "check", "--config", str(CONFIG_DIR)])
    assert result.exit_code == 0, result.output
    assert "BTC/USDT:USDT" in result.output and "configuration OK: 15 enabled symbols" in result.output


def test_config_check_exits_nonzero_naming_the_error(config_copy):
    _edit(config_copy / "venue.yaml", lambda d: d.update(mode="yolo"))
    result = CliRunner().invoke(app, ["config", "check", "--config", str(config_copy)])
    assert result.exit_code == 1
    assert "venue.yaml" in result.output and "key 'mode'" in result.output
