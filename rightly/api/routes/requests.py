"""/requests: submit, follow, cancel and retry privacy requests; read access results."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.api.deps import PrincipalDep, RuntimeDep, SessionDep
from rightly.api.errors import CONFLICT, NOT_FOUND
from rightly.api.schemas import Page, Reason, RequestCreate, RequestOut, ResultRecord, Results
from rightly.domain.enums import RequestStatus, RequestType
from rightly.faces.auth import Principal
from rightly.faces.results import results_csv
from rightly.services import deadlines, review
from rightly.services import requests as svc
from rightly.services.errors import Conflict
from rightly.services.runtime import Runtime
from rightly.store.models import Request

router = APIRouter(prefix="/requests", tags=["requests"])
RequestId = Path(min_length=1, max_length=64, examples=["req_0a1b2c3d4e5f60718293"])


def _out(req: Request) -> RequestOut:
    return RequestOut.model_validate(svc.request_view(req))


@router.post(
    "",
    status_code=201,
    response_model=RequestOut,
    responses={200: {"model": RequestOut, "description": "Seen before: the earlier request"}, **CONFLICT},
    summary="Submit an access or deletion request (Idempotency-Key: the same key returns the same request)",
)
async def submit_request(
    response: Response,
    data: RequestCreate = Body(
        openapi_examples={
            "access": {
                "value": {"type": "access", "subject": {"email": "ada@example.com", "user_id": "user-42"}}
            },
            "deletion": {"value": {"type": "deletion", "subject": {"email": "ada@example.com"}}},
            "verified": {
                "value": {"type": "access", "subject": {"email": "ada@example.com"}, "verified": True}
            },
        }
    ),
    idempotency_key: str | None = Header(
        default=None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$", examples=["intake-7f3a9c"]
    ),
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> RequestOut:
    req, created = await svc.submit(
        session,
        rt,
        principal.actor,
        data.type,
        data.subject.email,
        data.subject.user_id,
        idempotency_key=idempotency_key,
        verified=data.verified,
        regulation=data.regulation.value if data.regulation else None,
    )
    if not created:
        response.status_code = 200
    return _out(req)


@router.get("", response_model=Page[RequestOut], summary="List requests, newest first")
async def list_requests(
    status: RequestStatus | None = None,
    type: RequestType | None = None,
    email: str | None = Query(default=None, max_length=320),
    limit: int = Query(default=50, ge=1, le=200),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    session: AsyncSession = SessionDep,
) -> Page[RequestOut]:
    reqs, total = await svc.list_requests(
        session,
        status=status.value if status else None,
        kind=type.value if type else None,
        email=email,
        limit=limit,
        offset=offset,
    )
    return Page[RequestOut](items=[_out(r) for r in reqs], total=total, limit=limit, offset=offset)


@router.get("/{request_id}", response_model=RequestOut, responses={**NOT_FOUND}, summary="Show a request")
async def get_request(request_id: str = RequestId, session: AsyncSession = SessionDep) -> RequestOut:
    return _out(await svc.get_request(session, request_id))


@router.post(
    "/{request_id}/cancel",
    response_model=RequestOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Cancel a request's unfinished integrations",
)
async def cancel_request(
    request_id: str = RequestId,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> RequestOut:
    return _out(await svc.cancel(session, rt, principal.actor, request_id))


@router.post(
    "/{request_id}/extend",
    response_model=RequestOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Extend a request's deadline once, as its regulation allows; the person is told the reason",
)
async def extend_request(
    request_id: str,
    data: Reason,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> RequestOut:
    return _out(await deadlines.extend(session, rt, principal.actor, request_id, data.reason))


@router.post(
    "/{request_id}/approve",
    response_model=RequestOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Approve a request waiting for review (RIGHTLY_REVIEW_REQUESTS): it runs",
)
async def approve_request(
    request_id: str,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> RequestOut:
    return _out(await review.approve(session, rt, principal.actor, request_id))


@router.post(
    "/{request_id}/deny",
    response_model=RequestOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Deny a request waiting for review, with a reason the person is told",
)
async def deny_request(
    request_id: str,
    data: Reason,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> RequestOut:
    return _out(await review.deny(session, rt, principal.actor, request_id, data.reason))


@router.post(
    "/{request_id}/retry",
    response_model=RequestOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Run a request's failed or canceled integrations again",
)
async def retry_request(
    request_id: str = RequestId,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> RequestOut:
    return _out(await svc.retry(session, rt, principal.actor, request_id))


@router.get(
    "/{request_id}/results",
    response_model=Results,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "JSON, or CSV with ?format=csv",
        },
        **NOT_FOUND,
        **CONFLICT,
    },
    summary="The records an access request found (JSON, or ?format=csv)",
)
async def request_results(
    request_id: str = RequestId,
    format: Literal["json", "csv"] = "json",
    session: AsyncSession = SessionDep,
) -> Any:
    req = await svc.get_request(session, request_id)
    if req.type != RequestType.ACCESS:
        raise Conflict(f"request {request_id} is a {req.type} request; only access requests have results")
    records = [
        ResultRecord(connection=t.connection.name, record=r)
        for t in req.tasks
        for r in (t.records or [])
        if isinstance(r, dict)
    ]
    if format == "csv":
        return Response(
            results_csv((r.connection, r.record) for r in records),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{req.id}.csv"'},
        )
    return Results(request_id=req.id, status=req.status, records=records)
