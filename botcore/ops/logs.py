"""Bounded logs: a rotating log file with secrets masked.

:func:`configure_logging` attaches a :class:`logging.handlers.RotatingFileHandler`
(``max_bytes`` per file, ``backups`` old files kept, so the disk used is
bounded by ``(backups + 1) * max_bytes``) to the root logger, with the
:class:`botcore.ops.secrets.RedactSecrets` filter. Calling it again with the
same file replaces the handler instead of adding a second one. The masking
filter is also added to the logger's other handlers (the console).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from botcore.ops.secrets import RedactSecrets

LOG_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"
DEFAULT_MAX_BYTES = 10 * 2**20
DEFAULT_BACKUPS = 5


def configure_logging(
    log_dir: str | os.PathLike[str],
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = DEFAULT_BACKUPS,
    *,
    filename: str = "botcore.log",
    level: int = logging.INFO,
    logger: logging.Logger | None = None,
) -> logging.handlers.RotatingFileHandler:
    """Log to ``log_dir/filename``, rotating at ``max_bytes`` and keeping ``backups`` old files.

    Parameters
    ----------
    log_dir : path
        Created if missing.
    max_bytes : int
        Size at which the file rotates (> 0).
    backups : int
        Rotated files kept (``botcore.log.1`` ... ``.N``), >= 1.
    filename : str
        Log file name.
    level : int
        Level of the handler (and of the logger, if it is more verbose than that).
    logger : logging.Logger, optional
        Where to attach it (default: the root logger).

    Returns
    -------
    RotatingFileHandler
        The handler (with the secret-masking filter installed).
    """
    if max_bytes <= 0 or backups < 1:
        raise ValueError(f"max_bytes must be > 0 and backups >= 1, got {max_bytes!r}, {backups!r}")
    directory = Path(log_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = (directory / filename).resolve()
    target = logger if logger is not None else logging.getLogger()
    for handler in list(target.handlers):
        if isinstance(handler, logging.handlers.RotatingFileHandler) and Path(handler.baseFilename) == path:
            target.removeHandler(handler)
            handler.close()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactSecrets())
    target.addHandler(handler)
    for other in target.handlers:  # the console handler too: no handler may print a credential
        if not any(isinstance(f, RedactSecrets) for f in other.filters):
            other.addFilter(RedactSecrets())
    if target.level == logging.NOTSET or target.level > level:
        target.setLevel(level)
    return handler
