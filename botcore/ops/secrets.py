"""Secrets stay in the environment: find them where they must not be, mask them in logs.

Credentials come only from environment variables (:data:`SECRET_ENV`, plus any
variable whose name looks secret: ``*KEY*``, ``*SECRET*``, ``*PASS*``,
``*TOKEN*``). :func:`scan_for_secrets` searches files (logs, the ledger and its
WAL, reports, exports) byte for byte for their values, and in the encodings a
careless writer would use (URL-quoted, base64, JSON-escaped, UTF-16); a
finding names the file and the variable, never the value. :class:`RedactSecrets`
is a logging filter that masks the values in every record it sees (installed by
:func:`botcore.ops.logs.configure_logging`): defence in depth, not a licence to
log credentials.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

from botcore.net import redact

#: Variables that hold credentials in this project.
SECRET_ENV = (
    "BLOFIN_API_KEY", "BLOFIN_API_SECRET", "BLOFIN_PASSPHRASE",
    "SMTP_PASS",
    "COINGLASS_API_KEY", "CRYPTOCOMPARE_API_KEY",
)
_SECRET_NAME = re.compile(r"(KEY|SECRET|PASS|TOKEN|PASSPHRASE|CREDENTIAL)", re.IGNORECASE)
#: Values shorter than this are not treated as secrets (too many false matches).
MIN_SECRET_LEN = 6


def secrets_from_env(env: Mapping[str, str] | None = None, *, min_len: int = MIN_SECRET_LEN) -> dict[str, str]:
    """Return ``{variable: value}`` of the credentials set in the environment."""
    env = os.environ if env is None else env
    out = {}
    for name, value in env.items():
        if not value or len(value) < min_len:
            continue
        if name in SECRET_ENV or _SECRET_NAME.search(name):
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class SecretFinding:
    """A secret found in a file: which variable, where, in which form. Never the value."""

    path: str
    name: str
    offset: int
    form: str

    def __str__(self) -> str:
        return f"{self.path}: value of {self.name} at byte {self.offset} ({self.form})"


def _files(paths: Iterable[str | os.PathLike[str]]) -> Iterable[Path]:
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(q for q in path.rglob("*") if q.is_file())
        elif path.is_file():
            yield path


def scan_for_secrets(
    paths: Iterable[str | os.PathLike[str]],
    secrets: Mapping[str, str] | Iterable[str] | None = None,
) -> list[SecretFinding]:
    """Search files and directories (recursively) for secret values.

    Parameters
    ----------
    paths : iterable of path
        Files or directories: logs, ledger (include ``-wal``/``-shm``: a
        directory scan does), reports, exports.
    secrets : mapping or iterable, optional
        ``{name: value}`` or bare values; default :func:`secrets_from_env`.

    Returns
    -------
    list of SecretFinding
        Empty when no file contains any secret in any of the forms searched.
    """
    if secrets is None:
        secrets = secrets_from_env()
    named = dict(secrets) if isinstance(secrets, Mapping) else {f"secret#{i}": v for i, v in enumerate(secrets)}
    patterns = [(name, form, variant)
                for name, value in named.items() if value
                for form, variant in _labelled_variants(value)]
    findings: list[SecretFinding] = []
    for path in _files(paths):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for name, form, variant in patterns:
            at = data.find(variant)
            if at >= 0:
                findings.append(SecretFinding(str(path), name, at, form))
    return findings


def _labelled_variants(value: str) -> list[tuple[str, bytes]]:
    raw = value.encode("utf-8")
    pairs = [
        ("plain", raw),
        ("url-quoted", quote(value, safe="").encode()),
        ("form-quoted", quote_plus(value).encode()),
        ("json-escaped", json.dumps(value)[1:-1].encode()),
        ("utf-16", value.encode("utf-16-le")),
        ("base64", base64.b64encode(raw).rstrip(b"=")),
    ]
    seen: set[bytes] = set()
    out = []
    for form, variant in pairs:
        if variant and variant not in seen:
            seen.add(variant)
            out.append((form, variant))
    return out


def redact_text(text: str, secrets: Mapping[str, str] | Iterable[str] | None = None) -> str:
    """Return ``text`` with every secret value (default: from the environment) replaced by ``***``."""
    if secrets is None:
        secrets = secrets_from_env()
    return redact(text, secrets.values() if isinstance(secrets, Mapping) else secrets)


class RedactSecrets(logging.Filter):
    """A logging filter that masks secret values in each record's message and arguments.

    The secrets are read from the environment when the filter is made (pass
    ``secrets`` to fix them); call :meth:`refresh` after the environment changes.
    """

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._fixed = secrets is not None
        self.secrets = dict(secrets) if secrets is not None else secrets_from_env()

    def refresh(self) -> None:
        """Re-read the secrets from the environment (unless they were given)."""
        if not self._fixed:
            self.secrets = secrets_from_env()

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is left to the handler to report
            return True
        clean = redact_text(message, self.secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.secrets)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


__all__ = ["SECRET_ENV", "RedactSecrets", "SecretFinding", "redact_text", "scan_for_secrets",
           "secrets_from_env"]
