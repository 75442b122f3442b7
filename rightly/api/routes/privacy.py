"""/privacy/requests: a person's own request, for a company that keeps its own form (no sign-in;
the origins allowed to call it from a browser are RIGHTLY_PRIVACY_CORS_ORIGINS)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.api.deps import RuntimeDep, SessionDep
from rightly.api.errors import Problem, problem
from rightly.api.schemas import PrivacyAnswer, PrivacyRequestCreate
from rightly.services import privacy_center
from rightly.services.runtime import Runtime

router = APIRouter(prefix="/privacy", tags=["privacy center"])


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/requests",
    status_code=202,
    response_model=PrivacyAnswer,
    responses={429: {"model": Problem, "description": "Too many submissions from this address"}},
    summary="A person asks for their data or its deletion; they get an email to confirm it",
)
async def submit_privacy_request(
    data: PrivacyRequestCreate,
    request: Request,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
) -> PrivacyAnswer | JSONResponse:
    ask = privacy_center.PublicRequest(
        type=data.type.value,
        email=data.email,
        location=data.location.value,
        user_id=data.user_id,
        website=data.website,
    )
    try:
        answer = await privacy_center.submit(session, rt, ask, client_address(request))
    except privacy_center.TooManyRequests as exc:
        response = problem(429, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return PrivacyAnswer(message=answer)
