"""CleverTap requests: how each call is built (clevertap-api.md §2, §5, §7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rightly.connectors.clevertap.regions import region as region_named
from rightly.http.vendor import VendorRequest

LookupBy = Literal["email", "identity", "objectId"]
DeleteBy = Literal["identity", "guid"]
MAX_DELETE_VALUES = 100  # per identity array and per guid array (§7)


@dataclass(frozen=True)
class Account:
    """One CleverTap project in one region. The passcode never leaves the headers."""

    project_id: str
    passcode: str = field(repr=False)
    region: str
    api_base_url: str | None = None

    @property
    def base_url(self) -> str:
        return (self.api_base_url or region_named(self.region).base_url).rstrip("/")

    @property
    def budget_key(self) -> str:
        return f"{self.region}:{self.project_id}"

    def headers(self) -> dict[str, str]:
        return {"X-CleverTap-Account-Id": self.project_id, "X-CleverTap-Passcode": self.passcode}


def lookup_request(account: Account, by: LookupBy, value: str) -> VendorRequest:
    # GET without Content-Type (§2: the 2026 page says GETs should not carry it).
    return VendorRequest.get(f"{account.base_url}/1/profile.json", {by: value}, account.headers())


def delete_request(account: Account, by: DeleteBy, values: list[str]) -> VendorRequest:
    if not values or len(values) > MAX_DELETE_VALUES:
        raise ValueError(f"a deletion call takes 1 to {MAX_DELETE_VALUES} values, got {len(values)}")
    return VendorRequest.post_json(
        f"{account.base_url}/1/delete/profiles.json", {by: values}, account.headers()
    )


MAX_ID_LENGTH = 256  # an objectId or identity Rightly keeps and sends back (CleverTap's are ~40)


def plain_id(value: object) -> str | None:
    """A vendor-given id (objectId, identity) fit to keep and send back: a non-empty string of at
    most MAX_ID_LENGTH printable characters; anything else is not an id Rightly acts on."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        return None
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        return None
    return value


def object_ids(record: dict[str, object]) -> list[str]:
    """Every distinct objectId a profile lists in platformInfo (§5: they can differ per device)."""
    found: list[str] = []
    platforms = record.get("platformInfo")
    if isinstance(platforms, list):
        for item in platforms[:1000]:
            oid = plain_id(item.get("objectId")) if isinstance(item, dict) else None
            if oid is not None and oid not in found:
                found.append(oid)
    return found
