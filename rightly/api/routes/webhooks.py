"""/webhooks: endpoints that receive events (Standard Webhooks), for super admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.api.deps import PrincipalDep, RuntimeDep, SessionDep
from rightly.api.errors import NOT_FOUND
from rightly.faces.auth import Principal
from rightly.services import webhooks as svc
from rightly.services.runtime import Runtime

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://tickets.example.com/hooks/rightly",
                    "events": ["request.completed", "request.failed"],
                }
            ]
        },
    )

    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=200)


class AttemptOut(BaseModel):
    message_id: str
    event: str
    attempt: int
    at: str | None
    status_code: int | None
    ok: bool
    duration_ms: int
    error: str | None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    created_by: str
    created_at: str | None
    state: str  # active | failing | disabled | removed
    failing_since: str | None
    last_success_at: str | None
    disabled_at: str | None
    disabled_reason: str | None
    last_attempt: AttemptOut | None


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (whsec_...): shown in this answer only")


class WebhookDetail(WebhookOut):
    attempts: list[AttemptOut]


class TestQueued(BaseModel):
    message_id: str


async def _out(session: AsyncSession, ep: Any) -> dict[str, Any]:
    last = await svc.attempts(session, ep.id, limit=1)
    return svc.endpoint_view(ep, last[0] if last else None)


@router.get("", response_model=list[WebhookOut], summary="List webhook endpoints")
async def list_webhooks(session: AsyncSession = SessionDep) -> list[WebhookOut]:
    return [WebhookOut.model_validate(await _out(session, ep)) for ep in await svc.list_endpoints(session)]


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Add a webhook endpoint (its signing secret is in this answer only)",
)
async def create_webhook(
    data: WebhookCreate,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> WebhookCreated:
    ep, secret = await svc.add(session, rt, principal.actor, data.url, data.events, data.description)
    return WebhookCreated.model_validate(svc.endpoint_view(ep) | {"secret": secret})


@router.get(
    "/{webhook_id}",
    response_model=WebhookDetail,
    responses={**NOT_FOUND},
    summary="A webhook endpoint and its latest delivery attempts (status code of each)",
)
async def get_webhook(webhook_id: str, session: AsyncSession = SessionDep) -> WebhookDetail:
    ep = await svc.get_endpoint(session, webhook_id)
    tries = await svc.attempts(session, ep.id, limit=100)
    view = svc.endpoint_view(ep, tries[0] if tries else None)
    return WebhookDetail.model_validate(view | {"attempts": [svc.attempt_view(a) for a in tries]})


@router.delete(
    "/{webhook_id}", response_model=WebhookOut, responses={**NOT_FOUND}, summary="Remove a webhook endpoint"
)
async def delete_webhook(
    webhook_id: str,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> WebhookOut:
    ep = await svc.remove(session, rt, principal.actor, webhook_id)
    return WebhookOut.model_validate(await _out(session, ep))


@router.post(
    "/{webhook_id}/test",
    status_code=202,
    response_model=TestQueued,
    responses={**NOT_FOUND},
    summary="Queue a webhook.test message to this endpoint",
)
async def test_webhook(
    webhook_id: str,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> TestQueued:
    return TestQueued(message_id=await svc.send_test(session, rt, principal.actor, webhook_id))


@router.post(
    "/{webhook_id}/enable",
    response_model=WebhookOut,
    responses={**NOT_FOUND},
    summary="Deliver to a disabled endpoint again",
)
async def enable_webhook(
    webhook_id: str,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> WebhookOut:
    ep = await svc.enable(session, rt, principal.actor, webhook_id)
    return WebhookOut.model_validate(await _out(session, ep))
