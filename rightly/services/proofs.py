"""Proofs of deletion: issue (build, sign, keep, audit) and fetch; the keys that sign them.

A proof documents a finished deletion request: the request and its dates, the subject as salted
commitments, and per integration every call Rightly made (when, method, host, path, the names of its
parameters, what the vendor answered, how long it took, and the call's place and seal in the
evidence chain), the verification outcome and how completion is known. It holds no email, user ID
or vendor identifier in the clear, so retention leaves it as it was issued. The file format and the
offline check are ``rightly.domain.proof``.

A request gets a proof when one is first asked for (or before retention redacts it); it is kept, and
asked for again it is the same document, until the request finishes again (after a retry): then a
new one is issued. Each issue is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.domain import proof as fmt
from rightly.domain.enums import TERMINAL_REQUEST, RequestType, TaskStatus
from rightly.services import audit, facts
from rightly.services.audit import Actor
from rightly.services.errors import Conflict
from rightly.services.requests import get_request
from rightly.services.runtime import Runtime
from rightly.store import signing
from rightly.store.models import Evidence, Proof, ProofKey, Request, Task


def _when(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signing_key(rt: Runtime) -> Ed25519PrivateKey:
    return signing.load(rt.settings.home, rt.settings.proof_signing_key)


def key_view(key_id: str, public_hex: str, since: float | None = None) -> dict[str, Any]:
    public = bytes.fromhex(public_hex)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    pem = Ed25519PublicKey.from_public_bytes(public).public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "key_id": key_id,
        "algorithm": fmt.ALGORITHM,
        "public_key": public_hex,
        "pem": pem.decode(),
        "first_used_at": _when(since),
    }


async def public_keys(session: AsyncSession, rt: Runtime) -> dict[str, Any]:
    """The key that signs proofs now, and every key that ever signed one (newest first)."""
    public = fmt.public_bytes(signing_key(rt).public_key())
    current = key_view(fmt.key_id(public), public.hex())
    rows = (await session.execute(select(ProofKey).order_by(ProofKey.first_used_at.desc()))).scalars()
    keys = [key_view(k.key_id, k.public_key, k.first_used_at) for k in rows]
    return {"current": current, "keys": keys}


async def remember_key(session: AsyncSession, public: bytes, now: float) -> str:
    kid = fmt.key_id(public)
    if await session.get(ProofKey, kid) is None:
        session.add(ProofKey(key_id=kid, public_key=public.hex(), first_used_at=now))
    return kid


async def rotate_key(session: AsyncSession, rt: Runtime, actor: Actor) -> dict[str, Any]:
    """A new signing key; the old public key stays published so its proofs still verify."""
    now = rt.clock.now()
    old = fmt.public_bytes(signing_key(rt).public_key())
    await remember_key(session, old, now)  # before the old key file goes
    await session.commit()
    _, new = signing.rotate(rt.settings.home, rt.settings.proof_signing_key)
    new_public = fmt.public_bytes(new.public_key())
    kid = await remember_key(session, new_public, now)
    audit.record(session, actor, "proof.rotate_key", f"key:{kid}", now, detail={"retired": fmt.key_id(old)})
    await session.commit()
    return key_view(kid, new_public.hex(), now)


async def proof_for(session: AsyncSession, rt: Runtime, actor: Actor, request_id: str) -> bytes:
    """The proof file of a finished deletion request: the one issued for how it finished, or a new one."""
    req = await get_request(session, request_id)
    if req.type != RequestType.DELETION:
        raise Conflict(f"request {request_id} is an {req.type} request; only deletions have a proof")
    if req.status not in TERMINAL_REQUEST or req.completed_at is None:
        raise Conflict(f"request {request_id} is {req.status}: a proof is issued once it has finished")
    kept = (
        await session.execute(
            select(Proof.document)
            .where(Proof.request_id == req.id, Proof.basis_at == req.completed_at)
            .order_by(Proof.issued_at.desc())
            .limit(1)
        )
    ).scalar()
    if kept is not None:
        return str(kept).encode()
    return await issue(session, rt, actor, req)


async def latest(session: AsyncSession, request_id: str) -> Proof | None:
    return (
        await session.execute(
            select(Proof).where(Proof.request_id == request_id).order_by(Proof.issued_at.desc()).limit(1)
        )
    ).scalar()


async def issue(session: AsyncSession, rt: Runtime, actor: Actor, req: Request) -> bytes:
    now = rt.clock.now()
    key = signing_key(rt)
    document = await build(session, rt, req, now)
    data = fmt.sign(document, key)
    kid = await remember_key(session, fmt.public_bytes(key.public_key()), now)
    assert req.completed_at is not None
    row = Proof(
        request_id=req.id, issued_at=now, basis_at=req.completed_at, key_id=kid, document=data.decode()
    )
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor,
        "proof.issue",
        audit.target("request", req.id),
        now,
        detail={"proof": row.id, "key": kid},
    )
    await session.commit()
    return data


async def build(session: AsyncSession, rt: Runtime, req: Request, now: float) -> dict[str, Any]:
    task_ids = [t.id for t in req.tasks]
    rows = (
        await session.execute(
            select(Evidence).where(Evidence.task_id.in_(task_ids)).order_by(Evidence.seq, Evidence.id)
        )
    ).scalars()
    evidence: dict[str, list[Evidence]] = {t: [] for t in task_ids}
    for ev in rows:
        evidence[ev.task_id].append(ev)
    subject: dict[str, Any]
    if req.redacted_at is not None:
        subject = {"email": None, "user_id": None, "redacted": True}
    else:
        subject = {
            "email": fmt.commitment(req.email.strip().lower()) if req.email else None,
            "user_id": fmt.commitment(req.user_id.strip()) if req.user_id else None,
        }
    integrations = [_integration(rt, req, t, evidence[t.id]) for t in req.tasks]
    return {
        "format": fmt.FORMAT,
        "issued_at": _when(now),
        "request": {
            "id": req.id,
            "type": req.type,
            "regulation": facts.regulation_of(req),
            "status": req.status,
            "received_at": _when(req.created_at),
            "due_at": _when(req.due_at),
            "completed_at": _when(req.completed_at),
        },
        "subject": subject,
        "outcome": _outcome(integrations),
        "integrations": integrations,
    }


def _outcome(integrations: list[dict[str, Any]]) -> str:
    if not integrations:
        return "no integration was connected: nothing was deleted anywhere"
    count = len(integrations)
    done = [i for i in integrations if i["status"] == TaskStatus.COMPLETE]
    verified = [i for i in done if i["verification"] == "verified"]
    if len(done) < count:
        return f"deleted at {len(done)} of {count} integrations; the others did not complete"
    if len(verified) == count:
        return f"deleted at every integration ({count}) and verified by lookups afterwards"
    unverified = count - len(verified)
    return (
        f"deleted at every integration ({count}); {unverified} ended when the deletion was accepted "
        "(not verified by a lookup)"
    )


def _integration(rt: Runtime, req: Request, task: Task, evidence: list[Evidence]) -> dict[str, Any]:
    conn = task.connection
    connector = rt.registry.get(conn.vendor)
    try:
        account = connector.target(connector.load_settings(conn.settings))
    except Exception:  # settings of a vendor this build no longer reads: the proof still stands
        account = None
    verification = facts.verification_of(task, evidence)
    calls = [_call(e, req) for e in evidence if e.method is not None]
    notes = [{"at": _when(e.at), "note": _scrub(e.outcome, req)} for e in evidence if e.method is None]
    return {
        "connection": conn.name,
        "system": connector.label,
        "account": account,
        "status": task.status,
        "detail": _scrub(task.detail or "", req) or None,
        "verification": verification,
        "completion": _completion(connector.label, task, verification, evidence, req),
        "submitted_at": _when(task.first_submitted_at),
        "submissions": task.submit_count,
        "verification_checks": task.checks,
        "completed_at": _when(task.completed_at),
        "calls": calls,
        "notes": notes,
    }


def _completion(
    label: str, task: Task, verification: str | None, evidence: list[Evidence], req: Request
) -> str:
    if verification == "verified":
        notes = [e for e in evidence if e.kind == "note" and e.outcome.startswith("deletion verified")]
        if notes:
            note = notes[-1]
            return f"{_scrub(note.outcome, req)} ({_when(note.at)}, after {task.checks} check(s))"
        return f"a lookup at {label} found no profile: there was nothing to delete"
    if verification == "submitted":
        accepted = [e for e in evidence if e.kind == "delete" and e.status_code and e.status_code < 300]
        when = _when(accepted[-1].at) if accepted else _when(task.submitted_at)
        return (
            f"{label} accepted the deletion at {when}; this connection completes on submission, so "
            "no lookup verified that the profile is gone"
        )
    if task.status == TaskStatus.ERROR:
        return f"not completed: {_scrub(task.error or task.detail or 'error', req)}"
    if task.status == TaskStatus.CANCELED:
        return "canceled before it completed"
    return _scrub(task.detail or task.status, req)


def _call(e: Evidence, req: Request) -> dict[str, Any]:
    parts = urlsplit(e.endpoint or "")
    return {
        "at": _when(e.at),
        "kind": e.kind,
        "method": e.method,
        "host": e.host,
        "path": parts.path,
        "parameters": [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)],
        "status_code": e.status_code,
        "duration_ms": round(e.duration_ms) if e.duration_ms is not None else None,
        "answer": _scrub(e.outcome, req),
        "summary": _summary(e.data),
        "evidence": {"seq": e.seq, "hash": e.hash},
    }


def _summary(data: dict[str, Any] | None) -> dict[str, int]:
    """What a call's recorded data says without its identifiers: counts, and numbers as they are."""
    out: dict[str, int] = {}
    for key, value in (data or {}).items():
        if isinstance(value, list):
            out[str(key)] = len(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            out[str(key)] = value
    return out


def _scrub(text: str, req: Request) -> str:
    """A vendor's words with the subject's identifiers taken out (an error may quote them)."""
    for value in (req.email, req.user_id):
        if value and len(value) >= 3:
            text = _replace_ci(text, value, "[subject]")
    return text


def _replace_ci(text: str, value: str, by: str) -> str:
    lower, needle = text.lower(), value.lower()
    out, i = [], 0
    while (j := lower.find(needle, i)) >= 0:
        out += [text[i:j], by]
        i = j + len(needle)
    return "".join([*out, text[i:]])
