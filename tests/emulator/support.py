"""Constants and helpers shared by the emulator's tests."""

from __future__ import annotations

import httpx

from rightly.emulator import EmulatorState, create_emulator_app

PID = "TEST-123"
PASSCODE = "passcode-1"
AUTH = {"X-CleverTap-Account-Id": PID, "X-CleverTap-Passcode": PASSCODE}
US1 = "https://us1.api.clevertap.com"
INVALID = {"status": "fail", "error": "Invalid Credentials", "code": 401}
TOO_MANY = {"status": "fail", "error": "Too many concurrent requests", "code": 429}


def in_process(state: EmulatorState, base_url: str = US1) -> httpx.AsyncClient:
    """A client whose transport is the emulator app, the way product tests use it."""
    transport = httpx.ASGITransport(app=create_emulator_app(state))
    return httpx.AsyncClient(transport=transport, base_url=base_url, headers=AUTH)
