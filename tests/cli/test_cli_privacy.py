"""The privacy center from the command line: a request made without --verified waits for the
person, its email is read from the outbox (no mail server configured), and the deadline commands
say why they refuse."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import Cli


def test_an_unverified_request_waits_and_its_email_is_read_from_the_outbox(cli: Cli) -> None:
    cli.connect().check_returncode()
    refused = cli("request", "access", "--email", "kat@example.com", "--wait")
    assert refused.returncode == 1 and "--wait needs --verified" in refused.stderr
    held: Any = cli.json("request", "access", "--email", "kat@example.com", "--regulation", "ccpa")
    assert (held["status"], held["due_at"], held["regulation"]) == ("pending_verification", None, "ccpa")
    cli("worker", "--until-done", check=True)
    [message] = cli.json("outbox", "list")  # type: ignore[misc]
    assert (message["subject"], message["status"], message["request_id"]) == (
        "Confirm your access request",
        "kept",
        held["id"],
    )
    shown = cli("outbox", "show", message["id"], check=True).stdout
    assert "To: kat@example.com" in shown and "/privacy/verify/" in shown
    extend = cli("request", "extend", held["id"], "--reason", "more time")
    assert extend.returncode == 1 and "only a request whose clock runs can be extended" in extend.stderr
    approve = cli("request", "approve", held["id"])
    assert approve.returncode == 1 and "not waiting for review" in approve.stderr
    made: Any = cli.json("request", "delete", "--user-id", "user-9", "--regulation", "gdpr")
    extended: Any = cli.json("request", "extend", made["id"], "--reason", "six systems")
    assert extended["extension_reason"] == "six systems" and extended["due_at"] > made["due_at"]
    assert cli("request", "cancel", held["id"], check=True).stdout.strip().endswith("canceled")
