"""A CleverTap REST API stand-in (an ASGI app) for tests, the demo and benchmarks.

Product code never imports it. Each behaviour follows ``clevertap-api.md`` (in shared/):

- Regions (§1): all seven (eu1, in1, sg1, us1, aps3, mec1, sk1), routed by path prefix
  (``http://HOST:PORT/us1``) or by host (``us1.api.clevertap.com``; ``api.clevertap.com`` is eu1).
  An account answers only in its own region; elsewhere its calls get 401.
- Auth (§2): ``X-CleverTap-Account-Id`` + ``X-CleverTap-Passcode``; wrong, missing or expired →
  401 ``{"status":"fail","error":"Invalid Credentials","code":401}``. An account holds several
  passcodes; one without the right to delete gets 403 "Operation is not allowed" (§2, inferred).
- ``GET /1/profile.json`` (§5): exactly one of ``email`` (case-insensitive), ``identity`` (exact),
  ``objectId`` (any in ``platformInfo``), else 400. Found → ``{"status":"success","record":{...}}``.
  Not found (§5 "UNKNOWN", §11.2), per account: ``"null"`` → 200 ``{"status":"success","record":null}``,
  or ``"fail"`` → 200 ``{"status":"fail","error":"User not found","code":404}`` (the emulator's
  choice of message and code; code 2 is avoided because §3 reports it for "Request still in progress").
- ``POST /1/delete/profiles.json`` (§7): ``identity`` xor ``guid``, a string or 1..100 strings,
  else 400; answers ``{"status":"success"}`` even for unknown ids. Profiles are marked and stay
  visible until the nightly batch (02:00-04:00 account-local, so within 48 hours) or a fixed
  ``deletion_delay`` purges them; a guid removes the whole profile that owns that objectId.
- ``POST /1/upload`` (§3): CleverTap's profile/event upload format, up to 1000 records, answering
  ``processed``/``unprocessed``; ``GET /v1/connect?partner=`` (§2): 200 ``{"status":"success"}``.
- Limits (§4): per account and API at most ``max_in_flight`` requests in flight (default 3;
  uploads 15) → 429 "Too many concurrent requests"; optionally ``rate`` requests per second
  (DESIGN.md's integration limit) over a sliding one-second window, also 429.
- Faults (§3): latency, 5xx, hangs, malformed bodies, HTTP 200 ``status:"fail"``, dropped
  connections; per account, from a seeded ``random.Random``.
- Time is injected: the state's clock drives expiry, the deletion batch and the rate window;
  latency and hangs use an injectable sleep (real ``asyncio.sleep`` by default).

``state.stats`` records calls, 429s, peak in-flight and every accepted deletion submission.
"""

from rightly.emulator.accounts import Account, Passcode
from rightly.emulator.app import EmulatorApp, create_emulator_app
from rightly.emulator.faults import FaultKind, Faults
from rightly.emulator.profiles import Profile
from rightly.emulator.seed import SeedError, load_seed, load_seed_file
from rightly.emulator.state import EmulatorState
from rightly.emulator.stats import DeletionRecord, Stats

__all__ = [
    "Account",
    "DeletionRecord",
    "EmulatorApp",
    "EmulatorState",
    "FaultKind",
    "Faults",
    "Passcode",
    "Profile",
    "SeedError",
    "Stats",
    "create_emulator_app",
    "load_seed",
    "load_seed_file",
]
