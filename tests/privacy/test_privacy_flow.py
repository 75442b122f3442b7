"""A person's request through the privacy center, end to end over HTTP, with a real SMTP server:
ask, verify by the emailed link, get the results (or the deletion notice) by email."""

from __future__ import annotations

import json

from rightly.emulator import EmulatorState
from tests.api.conftest import Api
from tests.privacy.mailbox import Inbox

ADA = "ada@example.com"


async def ask(api: Api, kind: str, email: str, location: str = "eu", **more: str) -> None:
    r = await api.client.post(
        "/api/v1/privacy/requests", json={"type": kind, "email": email, "location": location, **more}
    )
    assert r.status_code == 202, r.text


async def test_access_from_the_public_api_to_the_downloaded_json(
    papi: Api, inbox: Inbox, emulator: EmulatorState
) -> None:
    before = sum(emulator.stats.calls.values())  # connecting checked the credentials
    await ask(papi, "access", ADA)
    await papi.work()
    [verify] = inbox.to(ADA)
    assert verify.subject == "Confirm your access request"
    assert sum(emulator.stats.calls.values()) == before  # nothing runs before verification
    page = await papi.client.get(verify.link())
    assert page.status_code == 200 and "Confirm my request" in page.text
    done = await papi.client.post("/privacy/verify", data={"token": verify.token()})
    assert done.status_code == 200 and "Request confirmed" in done.text
    await papi.work()
    mails = {m.subject: m for m in inbox.to(ADA)}
    assert set(mails) == {
        "Confirm your access request",
        "We received your access request",
        "Your data is ready to download",
    }
    received = " ".join(mails["We received your access request"].text.split())
    assert "Under GDPR we will answer by 1 February 2026" in received
    results = mails["Your data is ready to download"]
    got = await papi.client.get(results.link("results") + "/data.json")
    assert got.status_code == 200
    data = json.loads(got.text)
    assert any(r["record"].get("profileData", {}).get("Name") == "Ada Lovelace" for r in data["records"])
    again = await papi.client.post("/privacy/verify", data={"token": verify.token()})
    assert again.status_code == 409 and "already used" in again.text
