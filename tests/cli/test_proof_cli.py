"""Proofs, the audit chain, webhooks and the metrics report through the `rightly` command, as an
operator and an auditor use them."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli


def test_an_auditor_checks_a_proof_offline_and_an_operator_the_audit_chain(cli: Cli, tmp_path: Path) -> None:
    cli.connect().check_returncode()
    deletion: Any = cli.json("request", "delete", "--email", "grace@example.com", "--verified", "--wait")
    proof, pdf, key = tmp_path / "proof.json", tmp_path / "proof.pdf", tmp_path / "key.pem"
    cli("request", "proof", deletion["id"], "--output", str(proof), "--pdf", str(pdf), check=True)
    assert pdf.read_bytes().startswith(b"%PDF-")
    key.write_text(cli("proof", "key", check=True).stdout)
    assert key.read_text().startswith("-----BEGIN PUBLIC KEY-----")

    ok = cli("proof", "verify", str(proof), "--key", str(key), "--email", "grace@example.com")
    assert ok.returncode == 0, ok.stderr
    assert f"valid: proof of deletion for request {deletion['id']}" in ok.stdout
    assert "the subject's email matches" in ok.stdout
    assert cli("proof", "verify", str(proof), "--email", "ada@example.com").returncode == 1

    changed = tmp_path / "changed.json"
    changed.write_bytes(proof.read_bytes().replace(b'"status":"complete"', b'"status":"canceled"', 1))
    bad = cli("proof", "verify", str(changed), "--key", str(key))
    assert bad.returncode == 1 and "NOT VALID: the signature does not match the content" in bad.stderr

    assert "audit: ok" in cli("audit", "verify", check=True).stdout
    exported = cli("audit", "export", "--since", "2000-01-01", "--format", "jsonl", check=True).stdout
    rows = [json.loads(line) for line in exported.splitlines()]
    assert {r["chain"] for r in rows} == {"audit", "evidence"} and all(r["hash"] for r in rows)
    csv_out = cli("audit", "export", "--format", "csv", check=True).stdout
    assert csv_out.splitlines()[0].startswith("chain,seq,id,at")

    year = datetime.now(UTC).year
    report = json.loads(cli("report", "metrics", "--year", str(year), "--format", "json", check=True).stdout)
    assert report["total"]["received"] == 1 and report["total"]["complied_in_whole"] == 1
    assert "deletion" in cli("report", "metrics", "--year", str(year), check=True).stdout

    if "RIGHTLY_DATABASE_URL" not in cli.env:  # someone edits the database behind Rightly's back
        db = sqlite3.connect(Path(cli.env["RIGHTLY_HOME"]) / "rightly.db")
        db.execute("DROP TRIGGER evidence_no_update")
        db.execute("UPDATE evidence SET status_code = 500 WHERE seq = 2")
        db.commit()
        db.close()
        broken = cli("audit", "verify")
        assert (
            broken.returncode == 1 and "vendor call #2 (e" in broken.stdout and "was changed" in broken.stdout
        )


def test_webhooks_through_the_cli(cli: Cli) -> None:
    added = cli(
        "webhook", "add", "https://tickets.example.com/hooks", "--events", "request.completed,request.failed"
    )
    assert added.returncode == 0, added.stderr
    assert "signing secret (shown once" in added.stdout and "whsec_" in added.stdout
    listed = json.loads(cli("webhook", "list", "--json", check=True).stdout)
    (hook,) = listed
    assert hook["events"] == ["request.completed", "request.failed"] and hook["state"] == "active"
    assert "whsec_" not in json.dumps(listed)
    refused = cli("webhook", "add", "https://u:p@example.com/", "--events", "request.completed")
    assert refused.returncode == 1 and "user name or password" in refused.stderr
    assert cli("webhook", "remove", hook["id"]).returncode == 0
    assert json.loads(cli("webhook", "list", "--json", check=True).stdout) == []
