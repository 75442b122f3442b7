"""Small helpers the core tests share."""

from __future__ import annotations

import math
from typing import Any

from pydantic import SecretStr

from rightly.engine.worker import Worker, WorkerOptions
from rightly.services import connections as conns
from rightly.services import requests as reqs
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from tests.conftest import PASSCODE, PROJECT, REGION

ACTOR = Actor("cli", "cli:test")


async def connect(rt: Runtime, **overrides: Any) -> Any:
    data = {
        "name": "clevertap-prod",
        "project_id": PROJECT,
        "passcode": SecretStr(PASSCODE),
        "region": REGION,
    }
    async with rt.db.session() as s:
        conn, _ = await conns.connect(s, rt, ACTOR, conns.ConnectionInput.model_validate(data | overrides))
    return conn


async def submit(rt: Runtime, kind: str, email: str | None = None, user_id: str | None = None) -> str:
    async with rt.db.session() as s:
        req, _ = await reqs.submit(s, rt, ACTOR, kind, email, user_id)
    return req.id


async def view(rt: Runtime, request_id: str) -> dict[str, Any]:
    async with rt.db.session() as s:
        return reqs.request_view(await reqs.get_request(s, request_id))


def worker(rt: Runtime, owner: str | None = None) -> Worker:
    return rt.worker(WorkerOptions(idle_poll=math.inf), owner=owner)


async def run_until_done(rt: Runtime) -> Worker:
    w = worker(rt)
    await w.run(until_done=True)
    return w
