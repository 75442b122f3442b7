"""The pages of this feature, over HTTP: a finished deletion's proof downloads, the webhooks pages
(secret shown once, send test event, a disabled endpoint on the dashboard), the metrics page with its
chart, and the audit chain check."""

from __future__ import annotations

from sqlalchemy import update

from rightly.domain import proof as fmt
from rightly.domain.roles import Role
from rightly.store.models import WebhookEndpoint
from tests.web.conftest import Web


async def test_a_finished_deletion_page_offers_its_proof(web: Web) -> None:
    await web.api.connect()
    r = await web.api.call(
        "POST",
        "/requests",
        json={"type": "deletion", "subject": {"email": "nobody@example.com"}, "verified": True},
    )
    request_id = r.json()["id"]
    await web.api.work()
    viewer = await web.browser(Role.VIEWER)
    page = (await viewer.get(f"/requests/{request_id}")).text
    assert 'id="proof-json"' in page and f"/api/v1/requests/{request_id}/proof?format=pdf" in page
    proof = await viewer.get(f"/api/v1/requests/{request_id}/proof")
    assert proof.status_code == 200 and proof.headers["content-type"] == "application/json"
    assert fmt.verify(proof.content).proof["request"]["id"] == request_id
    pdf = await viewer.get(f"/api/v1/requests/{request_id}/proof?format=pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    key = (await web.api.call("GET", "/proof-key", None)).json()
    assert (
        key["current"]["key_id"] == fmt.verify(proof.content).key_id
        and "BEGIN PUBLIC KEY" in key["current"]["pem"]
    )


async def test_webhooks_pages_for_super_admins_only(web: Web) -> None:
    admin = await web.browser(Role.SUPER_ADMIN)
    added = await admin.post(
        "/webhooks",
        {"url": "https://tickets.example.com/hook", "events": ["request.completed"], "description": "desk"},
    )
    assert added.status_code == 201 and "shown only this once" in added.text and "whsec_" in added.text
    listing = (await admin.get("/webhooks")).text
    assert "https://tickets.example.com/hook" in listing and "whsec_" not in listing
    refused = await admin.post(
        "/webhooks", {"url": "https://a:b@example.com/", "events": ["request.completed"]}
    )
    assert refused.status_code == 422 and "user name or password" in refused.text
    (hook,) = (await web.api.call("GET", "/webhooks")).json()
    page = (await admin.get(f"/webhooks/{hook['id']}")).text
    assert "Send test event" in page and "Nothing sent yet." in page
    sent = await admin.post(f"/webhooks/{hook['id']}/test")
    assert sent.status_code == 303 and sent.headers["location"].endswith("notice=test-queued")
    viewer = await web.browser(Role.VIEWER)
    assert (await viewer.get("/webhooks")).status_code == 403

    async with web.api.rt.db.session() as s:
        await s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == hook["id"])
            .values(disabled_at=web.api.rt.clock.now(), disabled_reason="every delivery failed for 5 days")
        )
        await s.commit()
    dashboard = (await admin.get("/")).text
    assert "Webhook endpoints disabled (1)" in dashboard and "every delivery failed for 5 days" in dashboard
    assert "Webhook endpoints disabled" not in (await viewer.get("/")).text


async def test_the_metrics_page_and_the_audit_chain_check(web: Web) -> None:
    await web.api.connect()
    await web.api.call(
        "POST",
        "/requests",
        json={"type": "access", "subject": {"email": "ada@example.com"}, "verified": True},
    )
    await web.api.work()
    viewer = await web.browser(Role.VIEWER)
    page = await viewer.get("/reports/metrics?year=2026")
    assert page.status_code == 200 and "<svg" in page.text and "2026-01: 1 access" in page.text
    assert (await viewer.get("/reports/metrics?since=2026-02-01&until=2026-01-01")).status_code == 422
    admin = await web.browser(Role.SUPER_ADMIN)
    check = (await admin.get("/audit/verify")).text
    assert "Both chains verify." in check
    assert (await viewer.get("/audit/verify")).status_code == 403
