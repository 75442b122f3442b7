"""Without a mail server, messages wait in the outbox: super admins read them in the web UI (each
reading audited), nobody else."""

from __future__ import annotations

import re

from rightly.domain.roles import Role
from tests.web.conftest import Web


async def test_super_admins_read_the_outbox_others_may_not(web: Web) -> None:
    api = web.api
    await api.connect()
    r = await api.client.post(
        "/api/v1/privacy/requests",
        json={"type": "access", "email": "ada@example.com", "location": "elsewhere"},
    )
    assert r.status_code == 202
    await api.work()
    admin = await web.browser(Role.SUPER_ADMIN)
    listing = await admin.get("/outbox")
    assert listing.status_code == 200
    assert "No mail server is configured" in listing.text and "Confirm your access request" in listing.text
    message_id = re.search(r'href="/outbox/(msg_[a-z0-9]+)"', listing.text)
    assert message_id
    shown = await admin.get(f"/outbox/{message_id.group(1)}")
    assert shown.status_code == 200 and "/privacy/verify/" in shown.text and "ada@example.com" in shown.text
    manager = await web.browser(Role.REQUEST_MANAGER)
    assert (await manager.get("/outbox")).status_code == 403
    assert (await manager.get(f"/outbox/{message_id.group(1)}")).status_code == 403
    reads = (await api.call("GET", "/audit?action=message.read")).json()["items"]
    assert [e["actor"] for e in reads] == ["super_admin@example.com"]
    sends = (await api.call("GET", "/audit?action=message.send")).json()["items"]
    assert sends[0]["detail"]["transport"] == "outbox" and "ada@example.com" not in str(sends)
    request_id = (await api.call("GET", "/requests")).json()["items"][0]["id"]
    page = await admin.get(f"/requests/{request_id}")
    assert (
        "Messages to the person" in page.text
        and "waiting for the subject to follow the emailed link" in page.text
    )
