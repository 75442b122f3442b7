"""The pages' permissions, CSRF, sessions and forms, without a browser."""

from __future__ import annotations

import importlib
import pkgutil
import re

import httpx

import rightly.web.pages as web_pages
from rightly.app.web import create_app
from rightly.domain.clock import FakeClock
from rightly.domain.roles import Role
from rightly.services import connections as conn_svc
from rightly.settings import Settings
from rightly.web.security import PAGE_PERMISSIONS
from tests.api.conftest import PASSWORD
from tests.conftest import PASSCODE, PROJECT
from tests.web.conftest import Web, hidden_csrf

CONNECT = {
    "name": "clevertap-prod",
    "project_id": PROJECT,
    "passcode": PASSCODE,
    "region": "us1",
    "deletion_behavior": "until-complete",
    "max_in_flight": "3",
    "rate": "3.0",
    "api_base_url": "",
}


def test_every_page_has_a_permission_entry(sqlite_settings: Settings) -> None:
    app = create_app(sqlite_settings, start_worker=False)
    pages = [
        importlib.import_module(m.name)
        for m in pkgutil.iter_modules(web_pages.__path__, "rightly.web.pages.")
    ]
    routes = [r for m in pages for r in m.router.routes]
    assert {getattr(r, "name", None) for r in routes} == set(PAGE_PERMISSIONS)
    assert not {"/", "/login", "/connections/new"} & set(app.openapi()["paths"])


async def test_pages_send_a_stranger_to_sign_in(web: Web) -> None:
    r = await web.api.client.get("/requests?status=error")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/requests%3Fstatus%3Derror"


async def test_sign_in_needs_the_form_token_and_sets_a_strict_cookie(web: Web) -> None:
    client = web.api.client
    page = await client.get("/login")
    assert page.status_code == 200 and 'type="password"' in page.text
    token = hidden_csrf(page.text)
    form = {"email": "super_admin@example.com", "password": PASSWORD, "next": "/connections"}
    assert (await client.post("/login", data=form | {"csrf": "forged"})).status_code == 403
    wrong = await client.post("/login", data=form | {"csrf": token, "password": "not the password"})
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    r = await client.post("/login", data=form | {"csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/connections"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain http
    assert (await client.get("/")).status_code == 200
    assert (
        await client.post("/logout", data={"csrf": hidden_csrf((await client.get("/")).text)})
    ).status_code == 303
    assert (await client.get("/")).status_code == 303


async def test_sign_in_never_redirects_off_site(web: Web) -> None:
    client = web.api.client
    token = hidden_csrf((await client.get("/login")).text)
    form = {"email": "viewer@example.com", "password": PASSWORD, "next": "//evil.example/", "csrf": token}
    r = await client.post("/login", data=form)
    assert r.headers["location"] == "/"


async def test_a_session_expires(web: Web, clock: FakeClock) -> None:
    browser = await web.browser(Role.VIEWER)
    assert (await browser.get("/")).status_code == 200
    clock.advance(13 * 3600)
    r = await browser.get("/")
    assert r.status_code == 303 and r.headers["location"].endswith("reason=expired")
    assert "session has expired" in (await browser.get(r.headers["location"])).text


async def test_every_post_checks_the_csrf_token(web: Web) -> None:
    admin = await web.browser(Role.SUPER_ADMIN)
    for path in ("/connections/new", "/requests/new", "/users", "/logout"):
        r = await admin.post(path, {"email": "x@example.com"}, csrf=False)
        assert r.status_code == 403, path
        assert "security token" in r.text
    other = await web.browser(Role.SUPER_ADMIN)  # another session's token is no good here
    r = await admin.client.post("/connections/new", data=CONNECT | {"csrf": other.csrf})
    assert r.status_code == 403


async def test_a_viewer_is_not_offered_what_it_may_not_do_and_is_refused_anyway(web: Web) -> None:
    viewer = await web.browser(Role.VIEWER)
    page = await viewer.get("/connections")
    assert page.status_code == 200 and "Add CleverTap" not in page.text
    assert "New request" not in (await viewer.get("/requests")).text
    assert "/users" not in (await viewer.get("/")).text
    assert (await viewer.get("/connections/new")).status_code == 403
    r = await viewer.post("/connections/new", CONNECT)
    assert r.status_code == 403 and "viewer may not" in r.text
    async with web.api.rt.db.session() as s:
        assert await conn_svc.list_connections(s) == []
    audit = await web.api.call("GET", "/audit?action=denied")
    assert audit.json()["items"][0]["target"] == "POST /connections/new"
    for path in ("/users", "/audit"):
        assert (await viewer.get(path)).status_code == 403


async def test_connect_clevertap_shows_what_failed_then_saves(web: Web) -> None:
    admin = await web.browser(Role.SUPER_ADMIN)
    form = await admin.get("/connections/new")
    assert "United States (us1)" in form.text and "Europe (eu1)" in form.text
    assert form.text.count('type="radio" name="deletion_behavior"') == 2
    assert 'value="until-complete" aria-describedby="deletion_behavior-until-complete" checked' in form.text
    bad = await admin.post("/connections/new", CONNECT | {"passcode": "wrong-passcode"})
    assert bad.status_code == 422 and "Not saved." in bad.text and "Admin role" in bad.text
    assert "wrong-passcode" not in bad.text
    async with web.api.rt.db.session() as s:
        assert await conn_svc.list_connections(s) == []
    ok = await admin.post("/connections/new", CONNECT)
    assert ok.status_code == 303
    page = await admin.get(ok.headers["location"])
    assert "CleverTap is connected" in page.text and PASSCODE not in page.text


async def test_editing_with_an_empty_passcode_keeps_it(web: Web) -> None:
    admin = await web.browser(Role.CONNECTIONS_MANAGER)
    conn = await web.api.connect()
    edit = CONNECT | {"passcode": "", "rate": "2.0"}
    r = await admin.post(f"/connections/{conn['id']}/edit", edit)
    assert r.status_code == 303
    tested = await admin.post(f"/connections/{conn['id']}/test")
    assert tested.status_code == 200 and "Every check passed." in tested.text
    assert "2.0 per second" in tested.text and PASSCODE not in tested.text
    wrong = await admin.post(f"/connections/{conn['id']}/edit", edit | {"passcode": "nope"})
    assert wrong.status_code == 422 and "Not saved." in wrong.text


async def test_an_access_request_shows_its_records_and_timeline(web: Web) -> None:
    await web.api.connect()
    manager = await web.browser(Role.REQUEST_MANAGER)
    bad = await manager.post("/requests/new", {"type": "access", "email": "", "user_id": ""})
    assert bad.status_code == 422 and "email or user ID" in bad.text
    r = await manager.post(
        "/requests/new", {"type": "access", "email": "ada@example.com", "user_id": "", "verified": "true"}
    )
    assert r.status_code == 303
    await web.api.work()
    page = await manager.get(r.headers["location"].split("?")[0])
    assert "Ada Lovelace" in page.text and "Download CSV" in page.text
    assert "request.submit" in page.text and "vendor." in page.text
    listing = await manager.get("/requests?type=access&email=ada@example.com")
    assert "clevertap-prod: complete" in listing.text


async def test_cancel_and_retry_are_offered_to_request_managers_only(web: Web) -> None:
    await web.api.connect()
    made = await web.api.call(
        "POST", "/requests", json={"type": "deletion", "subject": {"user_id": "user-7"}}
    )
    rid = made.json()["id"]
    viewer = await web.browser(Role.VIEWER)
    assert "Cancel request" not in (await viewer.get(f"/requests/{rid}")).text
    assert (await viewer.post(f"/requests/{rid}/cancel")).status_code == 403
    manager = await web.browser(Role.REQUEST_MANAGER)
    assert "Cancel request" in (await manager.get(f"/requests/{rid}")).text
    assert (await manager.post(f"/requests/{rid}/cancel")).status_code == 303
    page = await manager.get(f"/requests/{rid}")
    assert "Retry failed integrations" in page.text and "canceled" in page.text
    assert (await manager.post(f"/requests/{rid}/retry")).status_code == 303


async def test_users_invite_change_role_disable(web: Web) -> None:
    admin = await web.browser(Role.SUPER_ADMIN)
    r = await admin.post("/users", {"email": "new@example.com", "role": "viewer", "password": ""})
    assert r.status_code == 303
    users = await web.api.call("GET", "/users")
    new = next(u for u in users.json() if u["email"] == "new@example.com")
    assert (await admin.post(f"/users/{new['id']}", {"role": "request_manager"})).status_code == 303
    assert (await admin.post(f"/users/{new['id']}", {"disabled": "true"})).status_code == 303
    after = next(u for u in (await web.api.call("GET", "/users")).json() if u["email"] == "new@example.com")
    assert (after["role"], after["disabled"]) == ("request_manager", True)
    audit = await admin.get("/audit?action=user")
    assert "user.disable" in audit.text and "user.set_role" in audit.text


async def test_the_dashboard_counts_and_flags(web: Web, clock: FakeClock) -> None:
    await web.api.connect()
    await web.api.call("POST", "/requests", json={"type": "deletion", "subject": {"user_id": "user-7"}})
    clock.advance(25 * 86400)
    viewer = await web.browser(Role.VIEWER)
    page = await viewer.get("/")
    assert "Due within 7 days (1)" in page.text and "Overdue (0)" in page.text


async def test_no_page_ever_contains_a_passcode(web: Web) -> None:
    await web.api.connect()
    admin = await web.browser(Role.SUPER_ADMIN)
    conn = (await web.api.call("GET", "/connections")).json()[0]
    for path in ("/", "/connections", f"/connections/{conn['id']}", "/audit", "/users", "/requests"):
        r = await admin.get(path)
        assert r.status_code == 200 and PASSCODE not in r.text, path
    assert isinstance(httpx, object)


async def test_a_request_page_follows_its_progress_through_a_fragment(web: Web) -> None:
    await web.api.connect()
    made = await web.api.call("POST", "/requests", json={"type": "access", "subject": {"user_id": "user-42"}})
    rid = made.json()["id"]
    viewer = await web.browser(Role.VIEWER)
    page = await viewer.get(f"/requests/{rid}")
    assert f'data-live="/requests/{rid}/status" data-live-state="open"' in page.text
    assert '<script src="/static/live.js" defer>' in page.text
    running = await viewer.get(f"/requests/{rid}/status")
    assert running.status_code == 200 and running.headers["cache-control"] == "no-store"
    assert running.text.lstrip().startswith('<div data-live-state="open">')
    assert 'id="request-integrations"' in running.text and "<html" not in running.text
    listing = await viewer.get("/requests/table?type=access")
    assert '<div data-live-state="open">' in listing.text and 'id="request-table"' in listing.text
    await web.api.work()
    done = await viewer.get(f"/requests/{rid}/status")
    assert '<div data-live-state="done">' in done.text and "Ada Lovelace" in done.text
    assert 'data-live-state="done"' in (await viewer.get(f"/requests/{rid}")).text
    assert '<div data-live-state="done">' in (await viewer.get("/requests/table")).text
    assert (await viewer.get("/requests/req_nope/status")).status_code == 404
    stranger = await web.api.client.get(f"/requests/{rid}/status")
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/login")


async def test_removing_a_connection_confirms_then_cancels_its_unfinished_tasks(web: Web) -> None:
    conn = (await web.api.connect())["id"]
    for user in ("user-7", "user-8"):
        await web.api.call("POST", "/requests", json={"type": "deletion", "subject": {"user_id": user}})
    manager = await web.browser(Role.CONNECTIONS_MANAGER)
    assert f'href="/connections/{conn}/remove"' in (await manager.get(f"/connections/{conn}")).text
    confirm = await manager.get(f"/connections/{conn}/remove")
    assert confirm.status_code == 200 and "2 unfinished tasks will be canceled" in confirm.text
    r = await manager.post(f"/connections/{conn}/remove")
    assert r.status_code == 303 and r.headers["location"] == "/connections?notice=removed&canceled=2"
    listing = await manager.get(r.headers["location"])
    assert "The connection is removed; 2 unfinished tasks were canceled." in listing.text
    assert "No connection yet." in listing.text
    requests = (await web.api.call("GET", "/requests")).json()["items"]
    assert {t["detail"] for req in requests for t in req["integrations"]} == {"connection removed"}
    audit = await web.api.call("GET", "/audit?action=connection.remove")
    assert audit.json()["items"][0]["target"] == f"connection:{conn}"
    assert (await manager.get(f"/connections/{conn}/remove")).status_code == 404
    assert (await manager.post(f"/connections/{conn}/remove")).status_code == 404


async def test_removing_a_connection_needs_the_permission_and_the_form_token(web: Web) -> None:
    conn = (await web.api.connect())["id"]
    viewer = await web.browser(Role.VIEWER)
    assert "/remove" not in (await viewer.get(f"/connections/{conn}")).text
    assert (await viewer.get(f"/connections/{conn}/remove")).status_code == 403
    refused = await viewer.post(f"/connections/{conn}/remove")
    assert refused.status_code == 403 and "viewer may not" in refused.text
    admin = await web.browser(Role.SUPER_ADMIN)
    nothing = await admin.get(f"/connections/{conn}/remove")
    assert "nothing will be canceled" in nothing.text
    forged = await admin.post(f"/connections/{conn}/remove", csrf=False)
    assert forged.status_code == 403 and "security token" in forged.text
    assert len((await web.api.call("GET", "/connections")).json()) == 1
    done = await admin.post(f"/connections/{conn}/remove")
    assert done.headers["location"] == "/connections?notice=removed&canceled=0"


async def test_the_removal_notice_only_shows_a_number(web: Web) -> None:
    viewer = await web.browser(Role.VIEWER)
    page = await viewer.get("/connections?notice=removed&canceled=<b>9</b>")
    assert "The connection is removed." in page.text and "<b>9" not in page.text


async def test_a_new_token_is_shown_once_and_can_be_revoked(web: Web) -> None:
    admin = await web.browser(Role.SUPER_ADMIN)
    page = await admin.get("/tokens")
    assert page.status_code == 200 and "Create a token" in page.text and "rly_" not in page.text
    made = await admin.post("/tokens", {"user": "viewer@example.com", "name": "helpdesk", "expires": "90"})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-token"[^>]* value="(rly_[^"]+)"', made.text)
    assert secret and "shown only this once" in made.text
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    me = await web.api.client.get("/api/v1/me", headers=bearer)
    assert me.status_code == 200 and me.json()["email"] == "viewer@example.com"
    listing = await admin.get("/tokens")
    assert "helpdesk" in listing.text and secret.group(1) not in listing.text
    token_id = next(t["id"] for t in (await web.api.call("GET", "/tokens")).json() if t["name"] == "helpdesk")
    row = listing.text[listing.text.index("<td>helpdesk</td>") :].split("</tr>")[0]
    assert "viewer@example.com" in row and "active" in row and "never" not in row  # just used
    assert "2026-04-01" in row  # expires 90 days after it was made
    r = await admin.post(f"/tokens/{token_id}/revoke")
    assert r.status_code == 303 and r.headers["location"] == "/tokens?notice=token-revoked"
    assert (await web.api.client.get("/api/v1/me", headers=bearer)).status_code == 401
    after = await admin.get(r.headers["location"])
    assert "Token revoked" in after.text
    assert "revoked" in after.text[after.text.index("<td>helpdesk</td>") :].split("</tr>")[0]
    assert f"/tokens/{token_id}/revoke" not in after.text
    audit = await web.api.call("GET", "/audit?action=token")
    assert {e["action"] for e in audit.json()["items"]} >= {"token.create", "token.revoke"}


async def test_token_forms_check_input_and_the_form_token(web: Web) -> None:
    admin = await web.browser(Role.SUPER_ADMIN)
    forged = await admin.post("/tokens", {"user": "viewer@example.com", "name": "x"}, csrf=False)
    assert forged.status_code == 403
    unknown = await admin.post("/tokens", {"user": "nobody@example.com", "name": "x"})
    assert unknown.status_code == 422 and 'role="alert"' in unknown.text and "rly_" not in unknown.text
    assert (await admin.post("/tokens/tok_nope/revoke")).status_code == 404


async def test_only_super_admins_manage_tokens(web: Web) -> None:
    token_id = (await web.api.call("GET", "/tokens")).json()[0]["id"]
    for role in (Role.VIEWER, Role.REQUEST_MANAGER, Role.CONNECTIONS_MANAGER):
        someone = await web.browser(role)
        assert "/tokens" not in (await someone.get("/")).text
        assert (await someone.get("/tokens")).status_code == 403, role
        made = await someone.post("/tokens", {"user": f"{role.value}@example.com", "name": "mine"})
        assert made.status_code == 403 and "rly_" not in made.text, role
        assert (await someone.post(f"/tokens/{token_id}/revoke")).status_code == 403, role
    listed = (await web.api.call("GET", "/tokens")).json()
    assert not any(t["revoked_at"] for t in listed) and not any(t["name"] == "mine" for t in listed)
