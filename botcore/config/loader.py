"""Read the YAML files of a configuration directory into :class:`Settings`.

One file per section (``risk.yaml`` holds the ``risk`` section, and so on).
Every error is a :class:`~botcore.errors.ConfigError` whose message names the
file, the key and the reason, e.g.::

    config/risk.yaml: key 'circuit_breaker.daily_loss_pct': Input should be greater than 0
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from botcore.config import models
from botcore.errors import ConfigError

#: section name -> (file name, model)
SECTIONS: dict[str, tuple[str, type[BaseModel]]] = {
    "universe": ("universe.yaml", models.Universe),
    "strategies": ("strategies.yaml", models.Strategies),
    "risk": ("risk.yaml", models.Risk),
    "sizing": ("sizing.yaml", models.Sizing),
    "exits": ("exits.yaml", models.Exits),
    "fees": ("fees.yaml", models.Fees),
    "signals": ("signals.yaml", models.Signals),
    "regime": ("regime.yaml", models.Regime),
    "venue": ("venue.yaml", models.Venue),
    "schedules": ("schedules.yaml", models.Schedules),
}


def default_config_dir() -> Path:
    """Return ``$BOTCORE_CONFIG`` if set, else the repository's ``config/``."""
    env = os.environ.get("BOTCORE_CONFIG")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "config"


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: file is missing (every section needs its file: {sorted(f for f, _ in SECTIONS.values())})")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def _describe(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        reason = err["msg"]
        if err["type"] == "extra_forbidden":
            reason = "unknown key (not part of this section; check the spelling)"
        lines.append(f"{path}: key '{key}': {reason}")
    return "\n".join(lines)


def load_section(path: Path, model: type[BaseModel]) -> BaseModel:
    """Validate one YAML file against its model."""
    try:
        return model.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from None


def load_settings(config_dir: str | Path | None = None) -> models.Settings:
    """Load and validate every section of a configuration directory."""
    root = Path(config_dir) if config_dir is not None else default_config_dir()
    if not root.is_dir():
        raise ConfigError(f"{root}: configuration directory is missing")
    sections = {name: load_section(root / fname, model) for name, (fname, model) in SECTIONS.items()}
    settings = models.Settings(**sections)
    _check_cross_section(root, settings)
    return settings


def _check_cross_section(root: Path, settings: models.Settings) -> None:
    """Rules that span files."""
    sizing, risk = settings.sizing, settings.risk
    if sizing.max_usd > risk.max_total_exposure_pct * settings.venue.starting_equity_usd * 10:
        raise ConfigError(f"{root / 'sizing.yaml'}: key 'max_usd': larger than any account the risk limits allow")
    if settings.venue.mode == "live" and settings.venue.exchange != "blofin":
        raise ConfigError(f"{root / 'venue.yaml'}: key 'exchange': live trading is only supported on blofin")
