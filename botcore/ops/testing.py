"""A real SMTP server on localhost for tests: aiosmtpd with STARTTLS (self-signed certificate) and AUTH.

:class:`LocalSmtpServer` starts an :class:`aiosmtpd.controller.Controller`
that requires STARTTLS before AUTH and AUTH before mail, keeps every message
it accepts (:attr:`LocalSmtpServer.messages`, parsed :class:`email.message.EmailMessage`
with the envelope and whether the session was encrypted) and every login
attempt. :meth:`LocalSmtpServer.env` returns the ``SMTP_*`` variables that
point :class:`botcore.ops.notify.Notifier` at it (``SMTP_CA_FILE`` trusts its
certificate). Needs the ``aiosmtpd`` and ``cryptography`` dev dependencies.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any


def self_signed_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """Write a self-signed certificate and key for ``host`` (IP and ``localhost`` SANs); return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "botcore test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ReceivedMail:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    encrypted: bool
    login: str | None

    @property
    def subject(self) -> str:
        return " ".join(str(self.message["Subject"]).split())  # unfold a long header

    def text(self) -> str:
        """Return the plain-text body."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class LocalSmtpServer:
    """An SMTP server on 127.0.0.1 requiring STARTTLS and AUTH (LOGIN/PLAIN with ``user``/``password``).

    Use as a context manager. ``starttls=False`` gives a server that offers no
    STARTTLS (to test that the client refuses to log in over a clear channel).
    """

    def __init__(self, user: str = "bot@example.com", password: str = "s3cret-smtp-pass", *,
                 starttls: bool = True, host: str = "127.0.0.1", directory: Path | None = None) -> None:
        self.user, self.password = user, password
        self.starttls = starttls
        self.host = host
        self.port = free_port(host)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="botcore-smtp-")
            directory = Path(self._tmp.name)
        self.directory = Path(directory)
        self.cert_path, self.key_path = self_signed_cert(self.directory, host)
        self.messages: list[ReceivedMail] = []
        self.logins: list[tuple[str, bool]] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    # aiosmtpd hooks ------------------------------------------------------------

    def _authenticator(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        ok = login == self.user and auth_data.password.decode() == self.password
        with self._lock:
            self.logins.append((login, ok))
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        login = session.auth_data if isinstance(session.auth_data, str) else None
        with self._lock:
            self.messages.append(ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), message,
                                              session.ssl is not None, login))
        return "250 Message accepted"

    # lifecycle -------------------------------------------------------------------

    def start(self) -> LocalSmtpServer:
        from aiosmtpd.controller import Controller

        kwargs: dict[str, Any] = {"authenticator": self._authenticator, "auth_required": True}
        if self.starttls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert_path, self.key_path)
            kwargs.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        else:
            kwargs.update(auth_require_tls=False)
        self._controller = Controller(self, hostname=self.host, port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalSmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # helpers -----------------------------------------------------------------------

    def env(self, to: str = "ops@example.com", *, password: str | None = None) -> dict[str, str]:
        """Return the ``SMTP_*`` / ``REPORT_TO_EMAIL`` variables for this server."""
        return {"SMTP_HOST": f"{self.host}:{self.port}", "SMTP_USER": self.user,
                "SMTP_PASS": self.password if password is None else password, "REPORT_TO_EMAIL": to,
                "SMTP_CA_FILE": str(self.cert_path)}

    def wait_for(self, n: int, timeout_s: float = 5.0) -> list[ReceivedMail]:
        """Wait until ``n`` messages have arrived; return them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.02)
        with self._lock:
            return list(self.messages)
