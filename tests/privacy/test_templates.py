"""An operator's templates (RIGHTLY_TEMPLATES) replace the built-in ones, file by file."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from rightly.domain.clock import FakeClock
from rightly.mail.templates import Templates
from rightly.services import messages
from tests.api.conftest import open_api
from tests.privacy.conftest import privacy_settings


async def test_an_operators_templates_replace_the_built_in_ones(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> None:
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "verify.subject.txt").write_text("Please confirm, {{ request.type_words }} ({{ signature }})\n")
    (mine / "verify.txt").write_text("Click: {{ link }}\n")
    rendered = Templates(mine).render(
        "verify",
        {
            "request": {"type_words": "access"},
            "signature": "Example Shop",
            "link": "L",
            "link_expires": "x",
            "org": "Example Shop",
        }
        | {"request": {"type_words": "access", "type_phrase": "p", "reference": "r"}},
    )
    assert rendered.subject == "Please confirm, access (Example Shop)" and rendered.text == "Click: L\n"
    assert "Confirm my request" in rendered.html  # the HTML part stays built in
    settings = privacy_settings(tmp_path / "home", None, templates=mine)
    async with open_api(settings, clock, emulator_http) as api:
        await api.connect()
        await api.client.post(
            "/api/v1/privacy/requests", json={"type": "access", "email": "ada@example.com", "location": "eu"}
        )
        await api.work()
        async with api.rt.db.session() as s:
            [message], _ = await messages.list_messages(s)
            body = messages.body_of(api.rt, message)
        assert body.subject == "Please confirm, access (Example Shop)"
        assert re.fullmatch(r"Click: http://testserver/privacy/verify/[A-Za-z0-9_-]+\n", body.text)
