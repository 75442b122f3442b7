"""A CleverTap connection's settings: what is stored (never the passcode), how each is checked, and
how a person is asked for them (clevertap-api.md §1, §2; DataGrail's connect form, §9a)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from rightly.connectors.base import FieldSpec, Policy
from rightly.connectors.clevertap.regions import REGIONS, UnknownRegion, region


class DeletionBehavior(StrEnum):
    UNTIL_COMPLETE = "until-complete"
    ON_SUBMIT = "on-submit"


MIN_VERIFY_INTERVAL = 0.1  # seconds: the demo compresses CleverTap's nightly batch to one
MAX_VERIFY_INTERVAL = 30 * 86400.0


class CleverTapSettings(BaseModel):
    """One CleverTap project in one region, and how Rightly works with it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    project_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    region: str
    deletion_behavior: DeletionBehavior = DeletionBehavior.UNTIL_COMPLETE
    email_is_identity: bool = False
    verify_interval: float | None = Field(default=None, ge=MIN_VERIFY_INTERVAL, le=MAX_VERIFY_INTERVAL)
    api_base_url: str | None = Field(default=None, max_length=500)
    timezone: str = Field(default="UTC", max_length=64)

    @field_validator("region", mode="before")
    @classmethod
    def _known_region(cls, value: Any) -> str:
        try:
            return region(str(value)).code
        except UnknownRegion as exc:
            raise ValueError(str(exc)) from None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        """An IANA time zone name (``Asia/Kolkata``, ``America/New_York``, ``UTC``)."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as UTC, Europe/London or Asia/Kolkata"
            ) from None
        return value

    @field_validator("api_base_url")
    @classmethod
    def _plain_url_to_an_allowed_host(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A plain http(s) URL. Calls carry the passcode: they go to the region's CleverTap host
        unless the operator allowed custom base URLs (the emulator, a reverse proxy)."""
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the API base URL must be an http(s) URL with a host")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise ValueError("the API base URL must not hold a user name or password")
        if parts.query or parts.fragment or any(c.isspace() for c in value):
            raise ValueError("the API base URL must be a plain URL: no query, fragment or spaces")
        value = value.rstrip("/")
        context = info.context or {}
        official = REGIONS[info.data["region"]].base_url if "region" in info.data else None
        if context.get("stored") or value == official:
            return value
        policy = context.get("policy")
        if not isinstance(policy, Policy) or not policy.allow_custom_base_urls:
            raise ValueError(
                "a custom API base URL is refused: calls carrying the passcode go to the region's "
                "CleverTap host unless the server sets RIGHTLY_ALLOW_CUSTOM_BASE_URLS=1"
            )
        return value

    @property
    def base_url(self) -> str:
        return self.api_base_url or REGIONS[self.region].base_url


BEHAVIOR_CHOICES = (
    (
        DeletionBehavior.ON_SUBMIT.value,
        "Mark integration as complete when a deletion request is successfully submitted",
        "Faster: the task is complete as soon as CleverTap accepts the deletion; nobody checks it "
        "really happened.",
    ),
    (
        DeletionBehavior.UNTIL_COMPLETE.value,
        "Continue processing until the deletion request is completed",
        "Proven: Rightly keeps looking the subject up until CleverTap's nightly batch has removed "
        "them (usually within 48 hours).",
    ),
)

FIELDS = (
    FieldSpec("project_id", "Project ID", required=True, help="In CleverTap: Settings > Project."),
    FieldSpec(
        "passcode",
        "Passcode",
        kind="secret",
        required=True,
        help="Write-only: Rightly stores it encrypted and never shows it. Deletions need an Admin's passcode.",
    ),
    FieldSpec(
        "region",
        "Region",
        kind="select",
        required=True,
        choices=tuple(
            sorted(((r.code, r.label, "") for r in REGIONS.values()), key=lambda c: c[1]),
        ),
        help="The data center your dashboard URL starts with (us1.dashboard.clevertap.com is us1).",
    ),
    FieldSpec(
        "deletion_behavior",
        "Asynchronous Deletion Behavior",
        kind="radio",
        choices=BEHAVIOR_CHOICES,
    ),
    FieldSpec(
        "email_is_identity",
        "The project's CleverTap identity is the user's email",
        kind="checkbox",
        help="Then a deletion by email goes by identity. Otherwise Rightly looks the email up and deletes "
        "every device ID (objectId) of that profile.",
    ),
    FieldSpec(
        "timezone",
        "Project time zone (CleverTap: Settings > Project)",
        kind="timezone",
        advanced=True,
        placeholder="UTC",
        help="CleverTap deletes marked profiles between 02:00 and 04:00 in this time zone; Rightly checks "
        "just after.",
    ),
    FieldSpec(
        "api_base_url",
        "API base URL (optional: a proxy, or a test server)",
        kind="url",
        advanced=True,
        placeholder="https://us1.api.clevertap.com",
        help="Only when the server allows custom base URLs (RIGHTLY_ALLOW_CUSTOM_BASE_URLS=1).",
    ),
    FieldSpec(
        "verify_interval",
        "First verification check after this many seconds",
        kind="number",
        cli_only=True,
        help="Scales the whole verification schedule (default: aimed after CleverTap's nightly batch).",
    ),
)

TROUBLESHOOTING = (
    (
        "Credentials",
        "Copy the Project ID and a Passcode again from Settings > Project in CleverTap; a passcode "
        "that expired or was deleted is refused.",
    ),
    (
        "Region",
        "Pick the region your dashboard URL starts with (us1.dashboard.clevertap.com is us1). A project "
        "in another region answers exactly like a wrong passcode.",
    ),
    (
        "Delete permission",
        "Deletions need an Admin: use the account passcode, or the passcode of a user with CleverTap's "
        "Admin role.",
    ),
    (
        "Network",
        "Rightly must reach https://<region>.api.clevertap.com over HTTPS: check firewalls and proxies "
        "(HTTPS_PROXY, NO_PROXY).",
    ),
)


def check_passcode(value: str) -> str:
    """The passcode travels in an HTTP header: printable ASCII only (never echoed in the error)."""
    value = value.strip()
    if not value:
        raise ValueError("the passcode is required")
    if len(value) > 200:
        raise ValueError("the passcode must be at most 200 characters")
    if not all(32 < ord(c) < 127 for c in value):
        raise ValueError("the passcode must be printable ASCII without spaces (copy it again from CleverTap)")
    return value
