"""Configuration: frozen typed models loaded from ``config/*.yaml``."""

from botcore.config.loader import SECTIONS, default_config_dir, load_settings
from botcore.config.models import REGIME_NAMES, SECTORS, SIGNAL_NAMES, STRATEGY_NAMES, Settings

__all__ = [
    "REGIME_NAMES",
    "SECTIONS",
    "SECTORS",
    "SIGNAL_NAMES",
    "STRATEGY_NAMES",
    "Settings",
    "default_config_dir",
    "load_settings",
]
