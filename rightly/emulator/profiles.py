"""One CleverTap user profile, and the ``record`` that ``GET /1/profile.json`` returns for it.

The record's shape follows clevertap-api.md §5: ``identity``, ``email``, ``profileData``, the
``events`` summary (count, first_seen, last_seen in epoch seconds per event name) and
``platformInfo[]``, one entry per device, each with its own ``objectId``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EventSummary = dict[str, int]  # {"count", "first_seen", "last_seen"}


@dataclass(eq=False)
class Profile:
    identity: str | None = None
    email: str | None = None
    profile_data: dict[str, Any] = field(default_factory=dict)
    events: dict[str, EventSummary] = field(default_factory=dict)
    platform_info: list[dict[str, Any]] = field(default_factory=list)
    marked_at: float | None = None  # when a deletion request named this profile
    purge_at: float | None = None  # when the deletion batch removes it (set with marked_at)

    @property
    def object_ids(self) -> list[str]:
        return [str(p["objectId"]) for p in self.platform_info]

    @property
    def marked(self) -> bool:
        return self.marked_at is not None

    def add_object_id(self, object_id: str, platform: str = "Web") -> None:
        if object_id not in self.object_ids:
            self.platform_info.append({"platform": platform, "objectId": object_id})

    def add_event(self, name: str, ts: int) -> None:
        """Fold one event into the summary, as CleverTap's profile record reports it."""
        summary = self.events.get(name)
        if summary is None:
            self.events[name] = {"count": 1, "first_seen": ts, "last_seen": ts}
            return
        summary["count"] += 1
        summary["first_seen"] = min(summary["first_seen"], ts)
        summary["last_seen"] = max(summary["last_seen"], ts)

    def record(self) -> dict[str, Any]:
        """The JSON ``record`` of a profile lookup; unknown identity/email are left out."""
        rec: dict[str, Any] = {}
        if self.identity is not None:
            rec["identity"] = self.identity
        if self.email is not None:
            rec["email"] = self.email
        rec["profileData"] = dict(self.profile_data)
        rec["events"] = {name: dict(summary) for name, summary in self.events.items()}
        rec["platformInfo"] = [dict(p) for p in self.platform_info]
        return rec
