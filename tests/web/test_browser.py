"""The web UI in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright for Python)
against a live server with the CleverTap emulator behind it. Each test saves screenshots of the
pages it visits under test-artifacts/screenshots/ (or where RIGHTLY_SCREENSHOTS points:
``RIGHTLY_SCREENSHOTS=docs/screenshots`` refreshes the README's)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSCODE, PROJECT, REGION, sample_emulator
from tests.web.live import PASSWORD, Live, ShiftableClock, live_server

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / os.environ.get("RIGHTLY_SCREENSHOTS", "test-artifacts/screenshots")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    reason = f"{CHROMIUM} is missing: install Debian's chromium (make test does) to run the browser tests"
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    clock = ShiftableClock()
    emulator = sample_emulator(clock)
    with live_server(tmp_path / "home", emulator, clock) as server:
        yield server


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    # The pages run under a strict Content-Security-Policy (no inline script or style): anything it
    # blocked would show here, and the live updates (static/live.js) would stop working.
    blocked: list[str] = []
    pg.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    yield pg
    context.close()
    assert not blocked, blocked


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, who: str = "super_admin") -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.get_by_label("Email").fill(f"{who}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def connect(page: Page, passcode: str = PASSCODE) -> None:
    page.goto("/connections/new")
    page.get_by_label("Project ID").fill(PROJECT)
    page.get_by_label("Passcode").fill(passcode)
    page.get_by_label("Region").select_option(label="United States (us1)")
    page.get_by_role("button", name="Configure Integration").click()


def submit(page: Page, kind: str, email: str = "", user_id: str = "") -> None:
    page.goto("/requests/new")
    page.get_by_label(re.compile(f"{kind.capitalize()}: ")).check()
    page.get_by_label("Subject's email").fill(email)
    page.get_by_label("Subject's user ID").fill(user_id)
    page.get_by_label("I have verified the person's identity").check()
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_text("Request submitted")).to_be_visible()


def shows(locator: Locator, text: str, seconds: float) -> bool:
    """Whether the element's text becomes ``text`` within ``seconds`` (without reloading)."""
    for _ in range(int(seconds * 4)):
        if locator.inner_text().strip() == text:
            return True
        locator.page.wait_for_timeout(250)
    return False


def test_sign_in(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "sign-in")
    page.get_by_label("Email").fill("super_admin@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "rightly_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    shot(page, "dashboard")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_configure_clevertap_wrong_passcode_then_right(page: Page, live: Live) -> None:
    sign_in(page)
    page.goto("/connections/new")
    expect(page.get_by_label("Passcode")).to_have_attribute("type", "password")
    expect(page.get_by_label("Continue processing until the deletion request is completed")).to_be_checked()
    expect(page.get_by_text("Advanced settings")).to_be_visible()
    expect(page.get_by_label("API base URL (optional: a proxy, or a test server)")).to_be_hidden()
    connect(page, passcode="wrong-passcode")
    failed = page.locator("#connection-failed")
    expect(failed).to_contain_text("rejected the Project ID or Passcode")
    expect(failed).to_contain_text("Admin role")
    expect(page.get_by_label("Passcode")).to_have_value("")
    assert "wrong-passcode" not in page.content()
    shot(page, "connect-clevertap-failed")
    page.goto("/connections")
    expect(page.get_by_text("No connection yet.")).to_be_visible()
    connect(page)
    expect(page.get_by_text("CleverTap is connected")).to_be_visible()
    assert PASSCODE not in page.content()
    shot(page, "connection")
    page.get_by_role("button", name="Test").click()
    expect(page.locator("#test-result")).to_contain_text("Every check passed.")
    page.goto("/connections")
    expect(page.get_by_role("link", name="clevertap", exact=True)).to_be_visible()
    shot(page, "connections")


def test_an_access_request_shows_the_records(page: Page) -> None:
    sign_in(page)
    connect(page)
    expect(page.get_by_text("CleverTap is connected")).to_be_visible()
    submit(page, "access", email="ada@example.com")
    expect(page.get_by_text("Ada Lovelace")).to_be_visible(timeout=15_000)  # live.js, no reload
    expect(page.locator("#request-status")).to_have_text("complete")
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    shot(page, "access-request")
    page.goto("/requests")
    expect(page.get_by_text("clevertap: complete")).to_be_visible()
    shot(page, "requests")


def test_a_deletion_moves_from_processing_to_complete_as_the_clock_advances(page: Page, live: Live) -> None:
    sign_in(page)
    connect(page)
    expect(page.get_by_text("CleverTap is connected")).to_be_visible()
    submit(page, "deletion", user_id="user-42")
    page.evaluate("window.sameDocument = true")  # gone if the page were reloaded
    status = page.locator("#request-status")
    expect(page.get_by_text("Updating every 3 seconds.")).to_be_visible()
    expect(page.get_by_text("deletion submitted").first).to_be_visible(timeout=15_000)
    expect(status).to_have_text("processing")
    shot(page, "deletion-processing")
    # The session lasts 12 hours of this clock: move it 3 hours, then give live.js (every 3 s)
    # time to show the verification, up to three times.
    for _ in range(3):
        live.clock.advance(3 * 3600)
        if shows(status, "complete", seconds=5):
            break
    expect(status).to_have_text("complete")
    expect(page.get_by_text("deletion verified").first).to_be_visible()
    expect(page.get_by_text("Finished: live updates stopped.")).to_be_visible()
    assert page.evaluate("window.sameDocument === true"), "the page was reloaded"
    shot(page, "deletion-complete")


def test_a_viewer_is_not_offered_the_connection_form_and_is_refused(page: Page) -> None:
    sign_in(page, "viewer")
    page.goto("/connections")
    expect(page.get_by_role("heading", name="Connections")).to_be_visible()
    expect(page.get_by_role("link", name="Add CleverTap")).to_have_count(0)
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    response = page.goto("/connections/new")
    assert response is not None and response.status == 403
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    posted = page.request.post(
        "/connections/new",
        form={
            "csrf": csrf or "",
            "name": "ct",
            "project_id": PROJECT,
            "passcode": PASSCODE,
            "region": REGION,
        },
    )
    assert posted.status == 403
    assert "viewer may not" in posted.text()
    shot(page, "viewer-refused")


UNLABELLED = """() => Array.from(document.querySelectorAll("input, select, textarea"))
    .filter((el) => el.type !== "hidden")
    .filter((el) => !Array.from(el.labels || []).some((l) => l.textContent.trim())
        && !(el.getAttribute("aria-label") || "").trim() && !el.getAttribute("aria-labelledby"))
    .map((el) => el.outerHTML)"""
OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"
PHONE = {"width": 390, "height": 844}


def fits(page: Page) -> None:
    """Nothing overflows sideways. A mobile browser zooms out to show what overflows, widening
    innerWidth with it, so innerWidth must also still be the phone's own width."""
    width, inner = page.evaluate(OVERFLOW)
    assert inner == PHONE["width"] and width <= inner, (
        f"{page.url} is {width}px wide (innerWidth {inner}) on a {PHONE['width']}px phone"
    )


def test_a_phone_sees_every_page_fit_and_every_field_labelled(browser: Browser, live: Live) -> None:
    phone = browser.new_context(
        base_url=live.url,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = phone.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page)
        connect(page)
        expect(page.get_by_text("CleverTap is connected")).to_be_visible()
        submit(page, "deletion", email="ada@example.com", user_id="user-42")
        for path, heading in (
            ("/", "Dashboard"),
            ("/requests", "Requests"),
            ("/connections/new", "Add CleverTap"),
        ):
            page.goto(path)
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            fits(page)
            assert page.evaluate(UNLABELLED) == [], f"{path} has unlabelled fields"
        page.get_by_text("Advanced settings").click()  # the folded fields must fit too
        fits(page)
        page.get_by_text("Advanced settings").click()
        shot(page, "phone-connect")
    finally:
        phone.close()


FOCUSED = """() => { const el = document.activeElement; return {
    id: el.id, tag: el.tagName.toLowerCase(), text: (el.innerText || el.value || "").trim(),
    href: el.getAttribute("href") || "", outline: getComputedStyle(el).outlineStyle }; }"""


def tab_to(page: Page, what: str, presses: int = 15) -> dict[str, str]:
    """Press Tab until the focused element's id or text is ``what``; it must show its focus."""
    for _ in range(presses):
        here: dict[str, str] = page.evaluate(FOCUSED)
        if what in (here["id"], here["text"]):
            assert here["outline"] != "none", f"{what} has focus but shows no outline"
            return here
        page.keyboard.press("Tab")
    raise AssertionError(f"{presses} presses of Tab never reached {what!r}")


def test_sign_in_and_reach_the_requests_with_the_keyboard_only(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    tab_to(page, "email")
    page.keyboard.type("request_manager@example.com")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["id"] == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # The skip link comes first, then the brand and the main navigation.
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["text"] == "Skip to content"
    expect(page.get_by_role("link", name="Skip to content")).to_be_in_viewport()
    for name in ("Rightly", "Dashboard", "Requests"):
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUSED)["text"] == name
    tab_to(page, "Requests")  # and it shows its focus
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Requests", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/requests$"))
    expect(page.get_by_role("link", name="Requests", exact=True)).to_have_attribute("aria-current", "page")
    # On the new page, the skip link takes the focus past the navigation to the content.
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["text"] == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED)["id"] == "main"
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["text"] == "New request"
