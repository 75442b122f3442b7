"""The privacy center's tests: the API harness with a real SMTP server behind Rightly's mail."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from rightly.domain.clock import FakeClock
from rightly.settings import Settings
from tests.api.conftest import Api, open_api
from tests.privacy.mailbox import Inbox, smtp_server


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


def privacy_settings(home: Path, inbox: Inbox | None, **more: object) -> Settings:
    return Settings(
        home=home,
        secret_key="test-key",
        deletion_batch_window=0.0,
        smtp_url=inbox.url if inbox else None,
        public_url="http://testserver",
        organization="Example Shop",
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture
async def papi(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient, inbox: Inbox
) -> AsyncIterator[Api]:
    """The API with mail going to the test's SMTP server; one CleverTap connection."""
    async with open_api(privacy_settings(tmp_path / "home", inbox), clock, emulator_http) as api:
        await api.connect()
        await api.rt.worker_started()  # queue the recurring sweeps, as a starting worker does
        yield api
