"""The mail seam against real SMTP servers (aiosmtpd) speaking TLS: STARTTLS when the server offers
it (smtp://), TLS from the first byte (smtps://), with a login; the certificate is checked
(SSL_CERT_FILE names the test's CA); RIGHTLY_SMTP_URL is parsed without ever showing the password."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rightly.mail import smtp
from tests.privacy.mailbox import Inbox, free_port


def certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"rightly", b"p@ss:word")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ssl.SSLContext]:
    cert, key = certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    yield context


def message(to: str) -> EmailMessage:
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = "privacy@example.com", to, "Hello"
    email.set_content("text")
    email.add_alternative("<p>html</p>", subtype="html")
    return email


@pytest.mark.parametrize("implicit", [False, True])
async def test_starttls_or_implicit_tls_with_a_login(tls: ssl.SSLContext, implicit: bool) -> None:
    inbox = Inbox("127.0.0.1", free_port())
    options: dict[str, Any] = {"authenticator": check_login, "auth_require_tls": not implicit}
    if implicit:  # (aiosmtpd does not count implicit TLS for auth_require_tls)
        options["ssl_context"] = tls
    else:
        options |= {"tls_context": tls, "require_starttls": True}
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port, **options)
    controller.start()
    try:
        scheme = "smtps" if implicit else "smtp"
        target = smtp.SmtpTarget.parse(f"{scheme}://rightly:p%40ss%3Aword@127.0.0.1:{inbox.port}")
        await smtp.send(target, message("ada@example.com"), timeout=10)
        assert [m.subject for m in inbox.to("ada@example.com")] == ["Hello"]
        wrong = smtp.SmtpTarget.parse(f"{scheme}://rightly:nope@127.0.0.1:{inbox.port}")
        with pytest.raises(smtp.SendFailure) as failed:
            await smtp.send(wrong, message("ada@example.com"), timeout=10)
        assert not failed.value.permanent and "user name or password" in str(failed.value)
    finally:
        controller.stop()


async def test_an_untrusted_certificate_is_refused(
    tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox("127.0.0.1", free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port, ssl_context=tls)
    controller.start()
    monkeypatch.delenv("SSL_CERT_FILE")
    try:
        with pytest.raises(smtp.SendFailure) as failed:
            await smtp.send(
                smtp.SmtpTarget.parse(f"smtps://127.0.0.1:{inbox.port}"), message("a@example.com"), 10
            )
        assert not failed.value.permanent and "could not reach" in str(failed.value)
        assert inbox.mails == []
    finally:
        controller.stop()


def test_the_url_is_read_and_the_password_never_shown() -> None:
    target = smtp.SmtpTarget.parse("smtp://apikey:S3CRET%2F1@mail.example.com:587")
    assert (target.host, target.port, target.implicit_tls, target.username, target.password) == (
        "mail.example.com",
        587,
        False,
        "apikey",
        "S3CRET/1",
    )
    assert "S3CRET" not in repr(target)
    assert smtp.SmtpTarget.parse("smtps://mail.example.com").port == 465
    assert smtp.SmtpTarget.parse("smtp://mail.example.com").port == 25
    for bad, words in (
        ("http://x", "smtp:// or smtps://"),
        ("smtp://", "names no host"),
        ("smtp://h:99999", "not a URL"),
    ):
        with pytest.raises(smtp.SmtpConfigError, match=words):
            smtp.SmtpTarget.parse(bad)
