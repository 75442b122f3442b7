"""A CleverTap account (project): its region, passcodes, limits, faults and profiles."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rightly.connectors.clevertap.regions import region as find_region
from rightly.domain.clock import Clock
from rightly.emulator.batch import purge_time
from rightly.emulator.faults import Faults
from rightly.emulator.profiles import EventSummary, Profile

NotFoundShape = Literal["null", "fail"]
NOT_FOUND_SHAPES: tuple[NotFoundShape, ...] = ("null", "fail")

# clevertap-api.md §4: uploads allow 15 concurrent requests; other APIs take the account's number.
DEFAULT_ENDPOINT_LIMITS = {"upload": 15}


@dataclass
class Passcode:
    """One of an account's passcodes (clevertap-api.md §2: several per account, each may expire)."""

    value: str
    can_delete: bool = True
    expires_at: float | None = None  # epoch seconds; None = "Forever"

    def valid_at(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


class Account:
    """One project in one region. Build it with ``EmulatorState.add_account``."""

    def __init__(
        self,
        project_id: str,
        passcode: str,
        region: str,
        *,
        clock: Clock,
        seed: int = 0,
        max_in_flight: int = 3,
        rate: float | None = None,
        not_found_shape: NotFoundShape = "null",
        deletion_delay: float | None = None,
        timezone: str = "UTC",
    ) -> None:
        if not project_id:
            raise ValueError("project_id must not be empty")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if not_found_shape not in NOT_FOUND_SHAPES:
            raise ValueError(f"not_found_shape must be 'null' or 'fail', got {not_found_shape!r}")
        if deletion_delay is not None and deletion_delay < 0:
            raise ValueError(f"deletion_delay must be >= 0, got {deletion_delay}")
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {timezone!r}") from exc
        self.project_id = project_id
        self.region = find_region(region).code
        self.max_in_flight = max_in_flight
        self.endpoint_limits: dict[str, int] = dict(DEFAULT_ENDPOINT_LIMITS)
        self.rate = rate
        self.not_found_shape: NotFoundShape = not_found_shape
        self.deletion_delay = deletion_delay
        self.timezone = timezone
        self.faults = Faults()
        self.profiles: list[Profile] = []
        self._next_purge = math.inf  # the earliest purge_at of a marked profile
        self.purged: list[Profile] = []
        self.passcodes: dict[str, Passcode] = {}
        self.random = random.Random(f"{seed}:faults:{project_id}")
        self._ids = random.Random(f"{seed}:ids:{project_id}")
        self._batch_key = f"{seed}:batch:{project_id}"
        self._clock = clock
        self.add_passcode(passcode)

    def __repr__(self) -> str:
        return f"Account({self.project_id!r}, region={self.region!r}, profiles={len(self.profiles)})"

    # -- credentials and limits ---------------------------------------------------------------

    def add_passcode(
        self, passcode: str, *, can_delete: bool = True, expires_at: float | None = None
    ) -> Passcode:
        if not passcode:
            raise ValueError("passcode must not be empty")
        entry = Passcode(passcode, can_delete=can_delete, expires_at=expires_at)
        self.passcodes[passcode] = entry
        return entry

    def passcode(self, value: str | None) -> Passcode | None:
        """The passcode if it is this account's and has not expired."""
        entry = self.passcodes.get(value or "")
        if entry is None or not entry.valid_at(self._clock.now()):
            return None
        return entry

    def max_in_flight_for(self, endpoint: str) -> int:
        return self.endpoint_limits.get(endpoint, self.max_in_flight)

    # -- profiles ------------------------------------------------------------------------------

    def new_object_id(self) -> str:
        return uuid.UUID(int=self._ids.getrandbits(128)).hex

    def add_profile(
        self,
        *,
        identity: str | None = None,
        email: str | None = None,
        profile_data: dict[str, Any] | None = None,
        events: dict[str, EventSummary] | None = None,
        object_ids: list[str] | None = None,
    ) -> Profile:
        """Store a profile; ``object_ids=None`` gives it one generated objectId."""
        if identity is not None and self._by_identity(identity) is not None:
            raise ValueError(f"a profile with identity {identity!r} already exists")
        ids = list(object_ids) if object_ids is not None else [self.new_object_id()]
        for object_id in ids:
            if self._by_object_id(object_id) is not None:
                raise ValueError(f"objectId {object_id!r} already belongs to a profile")
        profile = Profile(
            identity=identity,
            email=email,
            profile_data=dict(profile_data or {}),
            events={name: dict(summary) for name, summary in (events or {}).items()},
        )
        for object_id in ids:
            profile.add_object_id(object_id)
        self.profiles.append(profile)
        return profile

    def find(
        self,
        *,
        identity: str | None = None,
        email: str | None = None,
        object_id: str | None = None,
        include_marked: bool = True,
    ) -> Profile | None:
        """The profile a lookup returns (email case-insensitive, identity exact, any objectId).

        Marked profiles are returned until the deletion batch purges them, as CleverTap does;
        ``include_marked=False`` hides them.
        """
        self.run_due_deletions()
        if identity is not None:
            found = self._by_identity(identity)
        elif email is not None:
            wanted = email.casefold()
            found = next(
                (p for p in self.profiles if p.email is not None and p.email.casefold() == wanted), None
            )
        elif object_id is not None:
            found = self._by_object_id(object_id)
        else:
            raise ValueError("find needs identity, email or object_id")
        if found is not None and found.marked and not include_marked:
            return None
        return found

    def profile_count(self, *, include_marked: bool = True) -> int:
        self.run_due_deletions()
        return sum(1 for p in self.profiles if include_marked or not p.marked)

    def _by_identity(self, identity: str) -> Profile | None:
        return next((p for p in self.profiles if p.identity == identity), None)

    def _by_object_id(self, object_id: str) -> Profile | None:
        return next((p for p in self.profiles if object_id in p.object_ids), None)

    # -- deletion ------------------------------------------------------------------------------

    def mark_for_deletion(self, *, identities: Sequence[str] = (), guids: Sequence[str] = ()) -> int:
        """Mark the profiles named by identity or guid (= objectId); returns how many matched."""
        now = self._clock.now()
        matched: list[Profile] = []
        for identity in identities:
            matched += [p for p in self.profiles if p.identity == identity]
        for guid in guids:
            matched += [p for p in self.profiles if guid in p.object_ids]
        for profile in dict.fromkeys(matched):
            if profile.marked_at is None:
                profile.marked_at = now
                profile.purge_at = purge_time(now, self.tz, self._batch_key, self.deletion_delay)
                self._next_purge = min(self._next_purge, profile.purge_at)
        return len(dict.fromkeys(matched))

    def run_due_deletions(self) -> int:
        """Purge every marked profile whose batch has run; returns how many went."""
        now = self._clock.now()
        if now < self._next_purge:
            return 0  # every call asks this: no scan of the profiles until a batch is due
        due = [p for p in self.profiles if p.purge_at is not None and p.purge_at <= now]
        self._next_purge = min(
            (p.purge_at for p in self.profiles if p.purge_at is not None and p.purge_at > now),
            default=math.inf,
        )
        if due:
            self.profiles = [p for p in self.profiles if p not in due]
            self.purged.extend(due)
        return len(due)
