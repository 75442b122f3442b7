"""The privacy center's public pages (no sign-in): the request form at /privacy, the verification
link's page, and the access results' download page. Mounted apart from the staff pages: they need
no permission and carry no session.

Links carry only an opaque token in their path. The GET of a verification link only shows a button
(mail scanners fetch links); the POST that spends it carries the token in its body. These pages send
``Referrer-Policy: no-referrer`` (the token never leaves in a Referer), and ``redact_tokens`` keeps
the token out of the access log.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from rightly.domain.clock import iso
from rightly.domain.regulations import LOCATION_LABELS
from rightly.faces.auth import runtime_of
from rightly.faces.results import results_csv
from rightly.services import privacy_center, verification
from rightly.services.errors import InvalidInput
from rightly.services.messages import day, moment
from rightly.web.render import templates

router = APIRouter(include_in_schema=False)
_TOKEN_PATH = re.compile(r"(/privacy/(?:verify|results)/)[^/?\s\"]+")


class _RedactTokens(logging.Filter):
    """uvicorn's access log line without link tokens: /privacy/verify/[token]."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_PATH.sub(r"\1[token]", a) if isinstance(a, str) else a for a in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = _TOKEN_PATH.sub(r"\1[token]", record.msg)
        return True


REDACT = _RedactTokens()


def redact_tokens() -> None:
    """Install the filter on uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if REDACT not in logger.filters:
        logger.addFilter(REDACT)


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    rt = runtime_of(request)
    org = rt.settings.organization
    response = templates.TemplateResponse(
        request,
        f"privacy/{name}",
        {"org": org, "org_name": org or "Privacy requests", "locations": LOCATION_LABELS, **context},
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/privacy")
async def privacy_form_page(request: Request) -> Response:
    return page(
        request, "form.html", form={"type": "", "location": "", "email": "", "user_id": ""}, errors={}
    )


@router.post("/privacy")
async def privacy_form_submit(request: Request) -> Response:
    form = await request.form()
    data = {k: str(form.get(k) or "")[:1000] for k in ("type", "location", "email", "user_id", "website")}
    rt = runtime_of(request)
    ask = privacy_center.PublicRequest(
        type=data["type"],
        email=data["email"],
        location=data["location"],
        user_id=data["user_id"] or None,
        website=data["website"] or None,
    )
    async with rt.db.session() as s:
        try:
            answer = await privacy_center.submit(s, rt, ask, _client(request))
        except InvalidInput as exc:
            errors = {e["field"]: e["message"] for e in exc.errors}
            return page(request, "form.html", 422, form=data, errors=errors)
        except privacy_center.TooManyRequests as exc:
            response = page(request, "form.html", 429, form=data, errors={}, error=str(exc))
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
    return page(request, "check_email.html", answer=answer)


@router.get("/privacy/verify/{token}")
async def privacy_verify_page(token: str, request: Request) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        found = await verification.look(s, rt, token)
    return _verify_answer(request, found, token, confirmed=False)


@router.post("/privacy/verify")
async def privacy_verify_submit(request: Request) -> Response:
    form = await request.form()
    token = str(form.get("token") or "")[:200]
    rt = runtime_of(request)
    async with rt.db.session() as s:
        found = await verification.confirm(s, rt, token)
    return _verify_answer(request, found, "", confirmed=True)


def _verify_answer(request: Request, found: verification.Look, token: str, confirmed: bool) -> Response:
    status = {verification.VALID: 200, verification.USED: 409, verification.CLOSED: 410}.get(found.state, 404)
    if found.state == verification.EXPIRED:
        status = 410
    req = found.request
    return page(
        request,
        "verify.html",
        status,
        state=found.state,
        confirmed=confirmed,
        token=token,
        kind=req.type if req is not None else None,
        due=day(req.due_at) if req is not None and req.received_at is not None else None,
        reviewing=req is not None and req.status == "pending_review",
    )


@router.get("/privacy/results/{token}")
async def privacy_results_page(token: str, request: Request) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        got = await privacy_center.results(s, rt, token)
    if got.state != verification.VALID or got.request is None:
        return page(
            request, "results.html", 410 if got.state == verification.EXPIRED else 404, state=got.state
        )
    return page(
        request,
        "results.html",
        state=got.state,
        token=token,
        records=got.records,
        expires=moment(got.expires_at),
        received=day(got.request.received_at),
    )


@router.get("/privacy/results/{token}/data.{fmt}")
async def privacy_results_file(token: str, fmt: str, request: Request) -> Response:
    if fmt not in ("json", "csv"):
        return page(request, "results.html", 404, state=verification.INVALID)
    rt = runtime_of(request)
    async with rt.db.session() as s:
        got = await privacy_center.results(s, rt, token, fmt)
    if got.state != verification.VALID or got.request is None:
        return page(
            request, "results.html", 410 if got.state == verification.EXPIRED else 404, state=got.state
        )
    req = got.request
    headers = {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "Content-Disposition": f'attachment; filename="my-data-{req.id}.{fmt}"',
    }
    if fmt == "csv":
        rows = [(r["system"], r["record"]) for r in got.records]
        return Response(results_csv(rows, first="system"), media_type="text/csv", headers=headers)
    body = {
        "request": {
            "reference": req.id,
            "type": req.type,
            "regulation": req.regulation,
            "received_at": iso(req.received_at),
            "completed_at": iso(req.completed_at),
        },
        "records": list(got.records),
    }
    return Response(
        json.dumps(body, indent=2, ensure_ascii=False), media_type="application/json", headers=headers
    )
