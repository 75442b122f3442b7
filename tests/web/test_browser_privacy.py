"""The privacy center in headless Chromium, as the person plays it, against a live server with the
CleverTap emulator behind it and a real SMTP server (aiosmtpd) started by the test: ask at /privacy,
read the verification email, follow the link, get the results email, download the JSON and see the
CleverTap profile; the same for a deletion through to its completion email; a reused or altered link
is refused; nothing calls CleverTap before the email is verified."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSCODE, PROJECT, REGION, sample_emulator
from tests.privacy.mailbox import Inbox, Mail, smtp_server
from tests.web.live import PASSWORD, Live, ShiftableClock, live_server

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / os.environ.get("RIGHTLY_SCREENSHOTS", "test-artifacts/screenshots")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
ADA, GRACE = "ada@example.com", "grace@example.com"

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    reason = f"{CHROMIUM} is missing: install Debian's chromium (make test does) to run the browser tests"
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def live(tmp_path: Path, inbox: Inbox) -> Iterator[Live]:
    clock = ShiftableClock()
    emulator = sample_emulator(clock)
    with live_server(
        tmp_path / "home", emulator, clock, smtp_url=inbox.url, organization="Example Shop"
    ) as server:
        yield server


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live.url, viewport={"width": 1280, "height": 860}, accept_downloads=True
    )
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def connect_clevertap(page: Page) -> None:
    """A super admin connects the CleverTap project (through the API, signed in)."""
    signed = page.request.post(
        "/api/v1/session", data={"email": "super_admin@example.com", "password": PASSWORD}
    )
    assert signed.ok, signed.text()
    made = page.request.post(
        "/api/v1/connections",
        data={"name": "clevertap-prod", "project_id": PROJECT, "passcode": PASSCODE, "region": REGION},
    )
    assert made.status == 201, made.text()
    page.context.clear_cookies()  # the person is not signed in


def ask(page: Page, kind: str, where: str, email: str) -> None:
    page.goto("/privacy")
    expect(page.get_by_role("heading", name="Your data, your choice")).to_be_visible()
    page.get_by_label("Access" if kind == "access" else "Delete").check()
    page.get_by_label(re.compile("live")).select_option(label=where)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()


def mail(inbox: Inbox, to: str, subject: str, seconds: float = 20) -> Mail:
    for m in inbox.wait_for(to, 1, seconds):
        if m.subject == subject:
            return m
    for count in range(2, 10):
        for m in inbox.wait_for(to, count, seconds):
            if m.subject == subject:
                return m
    raise AssertionError(f"no {subject!r} to {to}")


def calls(live: Live) -> int:
    return sum(live.emulator.stats.calls.values())


def test_a_person_gets_their_data_then_their_deletion_by_email(page: Page, live: Live, inbox: Inbox) -> None:
    connect_clevertap(page)
    before = calls(live)
    ask(page, "access", "The EU, the EEA or the UK", ADA)
    shot(page, "privacy-check-email")
    verify = mail(inbox, ADA, "Confirm your access request")
    assert calls(live) == before, "an unverified request called CleverTap"
    assert verify.text.count("/privacy/verify/") == 1 and ADA not in verify.link()

    page.goto(verify.link())
    expect(page.get_by_role("heading", name="Confirm your request")).to_be_visible()
    assert calls(live) == before  # opening the link only looks
    page.get_by_role("button", name="Confirm my request").click()
    expect(
        page.get_by_text("your request is confirmed and we will answer by 1 February 2026")
    ).to_be_visible()
    shot(page, "privacy-confirmed")

    results = mail(inbox, ADA, "Your data is ready to download")
    received = mail(inbox, ADA, "We received your access request")
    assert "Under GDPR we will answer by 1 February 2026" in " ".join(received.text.split())
    page.goto(results.link("results"))
    expect(page.get_by_role("heading", name="Your data")).to_be_visible()
    expect(page.get_by_text("Ada Lovelace")).to_be_visible()
    shot(page, "privacy-results")
    with page.expect_download() as got:
        page.get_by_role("link", name="Download JSON").click()
    data = json.loads(Path(got.value.path()).read_text())
    [record] = data["records"]
    assert record["system"] == "CleverTap" and record["record"]["profileData"]["Name"] == "Ada Lovelace"
    with page.expect_download() as got:
        page.get_by_role("link", name="Download CSV").click()
    assert "Ada Lovelace" in Path(got.value.path()).read_text()

    page.goto(verify.link())  # a second click
    expect(page.get_by_role("heading", name="This link was already used")).to_be_visible()
    token = verify.token()
    altered = verify.link().replace(token, token[:-2] + ("xy" if token[-2:] != "xy" else "yz"))
    response = page.goto(altered)
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    response = page.goto(results.link("results").replace(results.token("results"), token))
    assert response is not None and response.status == 404  # a verify token opens no results

    ask(page, "deletion", "California", GRACE)
    confirm = mail(inbox, GRACE, "Confirm your deletion request")
    page.goto(confirm.link())
    page.get_by_role("button", name="Confirm my request").click()
    expect(page.get_by_role("heading", name="Request confirmed")).to_be_visible()
    done = None
    for _ in range(8):  # CleverTap's nightly deletion batch: move the clock on until it is proven
        live.clock.advance(3 * 3600)
        try:
            done = mail(inbox, GRACE, "Your data has been deleted", seconds=4)
            break
        except AssertionError:
            continue
    assert done is not None, [m.subject for m in inbox.to(GRACE)]
    assert "CleverTap (clevertap-prod): deleted, confirmed" in done.text
    assert "Your data has been deleted" in done.html


UNLABELLED = """() => Array.from(document.querySelectorAll("input, select, textarea"))
    .filter((el) => el.type !== "hidden")
    .filter((el) => !Array.from(el.labels || []).some((l) => l.textContent.trim())
        && !(el.getAttribute("aria-label") || "").trim() && !el.getAttribute("aria-labelledby"))
    .map((el) => el.outerHTML)"""


def test_the_form_works_on_a_phone_and_by_keyboard_alone(browser: Browser, live: Live, inbox: Inbox) -> None:
    phone = browser.new_context(
        base_url=live.url,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = phone.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/privacy")
        width, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert inner == 390 and width <= inner
        assert page.evaluate(UNLABELLED) == []
        shot(page, "privacy-phone")
        # Keyboard only: the hidden field is never reached, and Enter sends the form.
        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Enter")
        focused = []
        for _ in range(8):
            page.keyboard.press("Tab")
            focused.append(
                page.evaluate(
                    "() => document.activeElement.name || document.activeElement.textContent.trim()"
                )
            )
        assert "website" not in focused and {"type", "location", "email", "user_id"} <= set(focused)
        page.get_by_label("Delete").focus()
        page.keyboard.press("Space")
        page.get_by_label(re.compile("live")).focus()
        page.keyboard.press("ArrowDown")
        page.get_by_label("Email").focus()
        page.keyboard.type("kat@example.com")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        assert mail(inbox, "kat@example.com", "Confirm your deletion request").link()
    finally:
        phone.close()
