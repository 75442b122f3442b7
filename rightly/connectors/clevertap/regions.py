"""CleverTap data-center regions (clevertap-api.md §1)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    code: str
    name: str

    @property
    def base_url(self) -> str:
        return f"https://{self.code}.api.clevertap.com"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region("eu1", "Europe"),
        Region("in1", "India"),
        Region("sg1", "Singapore"),
        Region("us1", "United States"),
        Region("aps3", "Indonesia"),
        Region("mec1", "Middle East (UAE)"),
        Region("sk1", "South Korea"),
    )
}


class UnknownRegion(ValueError):
    def __init__(self, code: str) -> None:
        known = ", ".join(REGIONS)
        super().__init__(f"unknown CleverTap region {code!r}; expected one of: {known}")
        self.code = code


def region(code: str) -> Region:
    """The region for a code (case-insensitive); UnknownRegion otherwise."""
    found = REGIONS.get(code.strip().lower())
    if found is None:
        raise UnknownRegion(code)
    return found
