"""Where operations look for things: the ledger, its kill file, the log directory.

Defaults come from the environment (``BOTCORE_LEDGER``, ``BOTCORE_LOG_DIR``)
and fall back to paths relative to the working directory, so the loop, the
supervisor, ``botcore status`` and ``botcore preflight`` agree without flags.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Ledger used when no ``--ledger`` is given and ``BOTCORE_LEDGER`` is unset.
DEFAULT_LEDGER = Path("data") / "ledger.db"
#: Log directory used when ``BOTCORE_LOG_DIR`` is unset.
DEFAULT_LOG_DIR = Path("logs")
#: Suffix of the kill file next to the ledger (``<ledger>.KILL``).
KILL_FILE_SUFFIX = ".KILL"


def default_ledger_path() -> Path:
    """Return ``$BOTCORE_LEDGER`` or ``data/ledger.db``."""
    env = os.environ.get("BOTCORE_LEDGER")
    return Path(env) if env else DEFAULT_LEDGER


def default_log_dir() -> Path:
    """Return ``$BOTCORE_LOG_DIR`` or ``logs``."""
    env = os.environ.get("BOTCORE_LOG_DIR")
    return Path(env) if env else DEFAULT_LOG_DIR


def kill_file_path(ledger_path: str | os.PathLike[str]) -> Path:
    """Return the kill file of a ledger: ``<ledger>.KILL`` in the same directory."""
    return Path(str(ledger_path) + KILL_FILE_SUFFIX)
