"""Proofs of deletion and the keys that sign them; the audit trail's chain check."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.api.deps import PrincipalDep, RuntimeDep, SessionDep
from rightly.api.errors import CONFLICT, NOT_FOUND
from rightly.faces import proof_pdf
from rightly.faces.auth import Principal
from rightly.services import integrity, proofs
from rightly.services.runtime import Runtime

router = APIRouter()


class ProofKeyOut(BaseModel):
    key_id: str
    algorithm: str
    public_key: str
    pem: str
    first_used_at: str | None


class ProofKeys(BaseModel):
    current: ProofKeyOut
    keys: list[ProofKeyOut]


class ChainProblem(BaseModel):
    kind: str
    entry: str
    seq: int | None
    id: str | None
    message: str


class ChainReportOut(BaseModel):
    chain: str
    ok: bool
    entries: int
    head: dict[str, Any] | None
    problems: list[ChainProblem]


class AuditVerification(BaseModel):
    ok: bool
    chains: list[ChainReportOut]


@router.get(
    "/requests/{request_id}/proof",
    tags=["requests"],
    responses={
        200: {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "The signed proof (RFC 8785 JSON, Ed25519), or its PDF with ?format=pdf",
        },
        **NOT_FOUND,
        **CONFLICT,
    },
    summary="The signed proof of deletion of a finished deletion request (?format=pdf for the PDF)",
)
async def get_request_proof(
    request_id: str,
    format: Literal["json", "pdf"] = "json",
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> Response:
    data = await proofs.proof_for(session, rt, principal.actor, request_id)
    name = f"proof-{request_id[:40]}"
    if format == "pdf":
        return Response(
            proof_pdf.render(data, f"{name}.json"),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return Response(
        data,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
    )


@router.get(
    "/proof-key",
    response_model=ProofKeys,
    tags=["proofs"],
    summary="The public keys that sign proofs of deletion (the current one, and every one that ever signed)",
)
async def get_proof_key(session: AsyncSession = SessionDep, rt: Runtime = RuntimeDep) -> ProofKeys:
    return ProofKeys.model_validate(await proofs.public_keys(session, rt))


@router.get(
    "/audit/verify",
    response_model=AuditVerification,
    tags=["audit"],
    summary="Check the audit trail's hash chains: the first entry changed, removed or inserted, if any",
)
async def verify_audit(session: AsyncSession = SessionDep) -> AuditVerification:
    reports = await integrity.verify(session)
    return AuditVerification.model_validate(
        {"ok": all(r.ok for r in reports), "chains": [r.view() for r in reports]}
    )
