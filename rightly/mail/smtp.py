"""Sending one email through SMTP with aiosmtplib (a maintained asyncio client: nothing blocks the
event loop). ``RIGHTLY_SMTP_URL`` says where:

    smtp://[user:password@]host[:port]    port 25 by default (587 is usual for submission);
                                          STARTTLS whenever the server offers it
    smtps://[user:password@]host[:port]   implicit TLS, port 465 by default

User and password are percent-decoded (``%40`` for ``@``). Certificates are checked against the
system's CAs (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set). A failure is classified: the server
refused the recipient or the sender for good (a 5xx to MAIL or RCPT) fails the message; anything
else (unreachable, timeout, 4xx, a rejected login the operator can fix) is worth retrying.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib


class SmtpConfigError(ValueError):
    """RIGHTLY_SMTP_URL cannot be used; the message says why (never the password)."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never the password
        scheme = "smtps" if self.implicit_tls else "smtp"
        who = f"{self.username}@" if self.username else ""
        return f"SmtpTarget({scheme}://{who}{self.host}:{self.port})"

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise SmtpConfigError(
                "RIGHTLY_SMTP_URL is not a URL: use smtp://[user:password@]host:port"
            ) from None
        if parts.scheme not in ("smtp", "smtps"):
            raise SmtpConfigError(
                f"RIGHTLY_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme or 'nothing'}://"
            )
        if not parts.hostname:
            raise SmtpConfigError("RIGHTLY_SMTP_URL names no host: use smtp://[user:password@]host:port")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 25),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


class SendFailure(Exception):
    """Why a send failed, in words safe to store (the recipient's address replaced), and whether
    trying again could help."""

    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


async def send(target: SmtpTarget, message: EmailMessage, timeout: float) -> None:
    """Send ``message``; raises ``SendFailure``."""
    recipient = str(message["To"] or "")
    try:
        await aiosmtplib.send(
            message,
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.implicit_tls,
            start_tls=False if target.implicit_tls else None,  # None: STARTTLS when offered
            timeout=timeout,
        )
    except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused) as exc:
        raise SendFailure(_safe(f"the mail server refused the recipient: {exc}", recipient), True) from None
    except aiosmtplib.SMTPSenderRefused as exc:
        raise SendFailure(_safe(f"the mail server refused the sender: {exc}", recipient), True) from None
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise SendFailure(f"the mail server rejected the user name or password ({exc.code})", False) from None
    except aiosmtplib.SMTPResponseException as exc:
        permanent = exc.code >= 500 and exc.code != 530  # 530: authentication required (settings)
        raise SendFailure(
            _safe(f"the mail server answered {exc.code}: {exc.message}", recipient), permanent
        ) from None
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, OSError, TimeoutError) as exc:
        words = str(exc) or type(exc).__name__
        raise SendFailure(
            _safe(f"could not reach {target.host}:{target.port}: {words}", recipient), False
        ) from None
    except aiosmtplib.SMTPException as exc:
        words = str(exc) or type(exc).__name__
        raise SendFailure(
            _safe(f"the mail server {target.host}:{target.port}: {words}", recipient), False
        ) from None


def _safe(text: str, recipient: str) -> str:
    """An error as it may be stored and shown: the recipient's address never in it."""
    if recipient:
        text = text.replace(recipient, "<recipient>")
        address = recipient.rpartition("<")[2].rstrip(">")
        if address:
            text = text.replace(address, "<recipient>")
    return text[:1000]
