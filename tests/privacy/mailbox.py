"""A real SMTP server for the tests (aiosmtpd, on a free local port, in its own thread) that keeps
every message it accepts, and helpers to read what a person would read in one."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://\S+/privacy/(verify|results)/([A-Za-z0-9_-]+)")


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str

    def link(self, purpose: str = "verify") -> str:
        """The path of the first link of this purpose (/privacy/verify/<token>)."""
        for m in LINK.finditer(self.text):
            if m.group(1) == purpose:
                return f"/privacy/{m.group(1)}/{m.group(2)}"
        raise AssertionError(f"no {purpose} link in {self.subject!r}:\n{self.text}")

    def token(self, purpose: str = "verify") -> str:
        return self.link(purpose).rsplit("/", 1)[1]


@dataclass
class Inbox:
    """What the SMTP server accepted, oldest first."""

    host: str
    port: int
    mails: list[Mail] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 <" + address + ">: Recipient address rejected: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        with self.lock:
            self.mails.append(
                Mail(
                    to=str(msg["To"]),
                    subject=str(msg["Subject"]),
                    text=text.get_content() if text is not None else "",
                    html=html.get_content() if html is not None else "",
                )
            )
        return "250 Message accepted"

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if m.to == address]

    def wait_for(self, address: str, count: int, seconds: float = 20.0) -> list[Mail]:
        """The first ``count`` messages to ``address``, waiting for them to arrive (bounded)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self.to(address)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(
            f"{len(self.to(address))} messages to {address}, wanted {count}: {self.to(address)}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    inbox = Inbox("127.0.0.1", free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
