"""``rightly proof verify|key``, ``rightly request proof``, ``rightly audit verify|export``."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from rich.table import Table

from rightly.cli.common import err, fail, out, print_json, run
from rightly.cli.requests import request_app
from rightly.domain import proof as fmt
from rightly.faces import proof_pdf
from rightly.services import integrity, proofs
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime

proof_app = typer.Typer(
    help="Check proofs of deletion offline; show the key that signs them.", no_args_is_help=True
)
audit_app = typer.Typer(help="Check the audit trail's hash chains; export the trail.", no_args_is_help=True)


@request_app.command("proof")
def request_proof(
    request_id: str,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the signed JSON here (default: print it)."
    ),
    pdf: Path | None = typer.Option(None, "--pdf", help="Also write the printable PDF here."),
) -> None:
    """The signed proof of deletion of a finished deletion request (issued on first use)."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            data = await proofs.proof_for(s, rt, Actor.cli(), request_id)
        name = output.name if output else f"proof-{request_id}.json"
        if output is not None:
            output.write_bytes(data)
            err.print(f"wrote {output}")
        else:
            sys.stdout.write(data.decode())
        if pdf is not None:
            pdf.write_bytes(proof_pdf.render(data, name))
            err.print(f"wrote {pdf}")

    run(body)


def _keys(paths: list[Path]) -> list[bytes]:
    keys = []
    for path in paths:
        raw = path.read_bytes().strip()
        try:
            if raw.startswith(b"-----BEGIN"):
                key = load_pem_public_key(raw)
                if not isinstance(key, Ed25519PublicKey):
                    fail(f"{path} is not an Ed25519 public key", 2)
                keys.append(fmt.public_bytes(key))
            else:
                keys.append(bytes.fromhex(raw.decode()))
        except ValueError as exc:
            fail(f"{path}: not a public key (PEM, or 32 bytes of hex): {exc}", 2)
    return keys


@proof_app.command("verify")
def verify(
    file: Path = typer.Argument(..., help="The proof (the signed JSON)."),
    key: list[Path] = typer.Option(
        [],
        "--key",
        help="The instance's public key (PEM or hex; from `rightly proof key` or GET /api/v1/proof-key).",
    ),
    email: str | None = typer.Option(None, help="Confirm the proof is about this email."),
    user_id: str | None = typer.Option(None, help="Confirm the proof is about this user ID."),
) -> None:
    """Check a proof offline: its signature, its content and (with --key) who signed it. Exits 1 on
    any change."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2)
    try:
        checked = fmt.verify(data, _keys(key) if key else None, email=email, user_id=user_id)
    except fmt.ProofInvalid as exc:
        fail(f"NOT VALID: {exc}")
    proof = checked.proof
    out.print(
        f"[green]valid[/green]: proof of deletion for request {proof['request']['id']} ({proof['outcome']})"
    )
    out.print(f"signed {proof['issued_at']} by key {checked.key_id}", highlight=False)
    if not checked.key_checked:
        err.print("note: the signer's key was not compared with the instance's: pass --key to do so")
    for name, ok in checked.subject.items():
        if not ok:
            fail(f"the proof is not about that {name.replace('_', ' ')}")
        out.print(f"the subject's {name.replace('_', ' ')} matches")


@proof_app.command("key")
def key(
    rotate: bool = typer.Option(False, help="Sign from now on with a new key (the old one stays published)."),
    all_: bool = typer.Option(False, "--all", help="List every key that ever signed a proof."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print the public key that signs proofs (PEM), for anyone checking one."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            if rotate:
                fresh = await proofs.rotate_key(s, rt, Actor.cli())
                err.print(
                    f"new signing key {fresh['key_id']}; proofs signed before still verify with the old key"
                )
            keys = await proofs.public_keys(s, rt)
        if json_:
            print_json(keys)
        elif all_:
            for k in keys["keys"]:
                out.print(f"# key {k['key_id']}, first used {k['first_used_at']}", highlight=False)
                sys.stdout.write(k["pem"])
        else:
            err.print(f"key {keys['current']['key_id']} (Ed25519)")
            sys.stdout.write(keys["current"]["pem"])

    run(body)


@audit_app.command("verify")
def audit_verify(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Walk the audit trail's and the vendor calls' hash chains; exit 1 naming the first entry that
    was changed, removed or inserted."""

    async def body(rt: Runtime) -> list[integrity.ChainReport]:
        async with rt.db.session() as s:
            return await integrity.verify(s)

    reports = run(body)
    if json_:
        print_json({"ok": all(r.ok for r in reports), "chains": [r.view() for r in reports]})
    else:
        for r in reports:
            head = f"; head #{r.head['seq']} {r.head['hash']}" if r.head else ""
            status = "[green]ok[/green]" if r.ok else "[red]BROKEN[/red]"
            out.print(f"{r.chain}: {status}, {r.entries} entries verified{head}", highlight=False)
            for p in r.problems:
                out.print(f"  {p.message}", highlight=False)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def _day(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--{name} must be a date or time in ISO 8601 (2026-01-31, 2026-01-31T12:00)", 2)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


@audit_app.command("export")
def audit_export(
    since: str | None = typer.Option(None, help="From this date or time (ISO 8601, UTC)."),
    until: str | None = typer.Option(None, help="Before this date or time (ISO 8601, UTC)."),
    format: str = typer.Option("jsonl", "--format", help="jsonl or csv."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (default: print)."),
) -> None:
    """Every audit entry and vendor call in the period, oldest first, with their seals."""
    if format not in ("jsonl", "csv"):
        fail("--format must be jsonl or csv", 2)
    kind: Literal["jsonl", "csv"] = "csv" if format == "csv" else "jsonl"
    start, end = _day(since, "since"), _day(until, "until")

    async def body(rt: Runtime) -> int:
        stream = output.open("w", newline="") if output else sys.stdout
        try:
            count = 0
            writer = (
                csv.DictWriter(stream, fieldnames=list(integrity.EXPORT_COLUMNS)) if kind == "csv" else None
            )
            if writer:
                writer.writeheader()
            async with rt.db.session() as s:
                async for row in integrity.export(s, start, end):
                    count += 1
                    if writer:
                        writer.writerow({k: _cell(v) for k, v in row.items()})
                    else:
                        stream.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            return count
        finally:
            if output:
                stream.close()

    count = run(body)
    if output:
        err.print(f"wrote {count} entries to {output}")


def _cell(value: Any) -> Any:
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text  # a spreadsheet would run it as a formula
    return text


def metrics_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"Requests received {result['since']} to {result['until']}", title_justify="left")
    for col in (
        "type",
        "regulation",
        "received",
        "in whole",
        "in part",
        "denied",
        "other",
        "open",
        "median d",
        "mean d",
    ):
        table.add_column(col, justify="left" if col in ("type", "regulation") else "right")
    for row in [*result["rows"], result["total"]]:
        other = row["not_complied"] + row["withdrawn"]
        table.add_row(
            row["type"],
            row["regulation"],
            str(row["received"]),
            str(row["complied_in_whole"]),
            str(row["complied_in_part"]),
            str(row["denied"]),
            str(other),
            str(row["open"]),
            "-" if row["median_days"] is None else f"{row['median_days']:.1f}",
            "-" if row["mean_days"] is None else f"{row['mean_days']:.1f}",
        )
    table.caption = "other: not complied with (finished in error) or withdrawn; days from receipt to response"
    return table


def parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--{name} must be a date (2026-01-31)", 2)
