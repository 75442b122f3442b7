"""Which passwords Rightly accepts: 12 to 1024 characters, not a common or breached password, not
guessable from the account's own email.

Checked with zxcvbn (the Python port of Dropbox's estimator, MIT licence; pinned in pyproject): its
bundled frequency lists hold the 30,000 most common passwords of public breach corpora (Xato's ten
million) and common words and names, and its estimate catches their variations ("password1234",
"P@ssw0rd!", keyboard walks, dates). Everything is in the package: no network at run time. A
password must score 3 of 4 ("safely unguessable") on its first 72 characters (zxcvbn's own cap:
longer input costs quadratic time), and must not be on the common list at any length.
"""

from __future__ import annotations

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from rightly.services.errors import InvalidInput

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MIN_SCORE = 3
_ESTIMATED = 72  # zxcvbn refuses longer input
_COMMON = frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, email: str | None = None) -> None:
    """Raise InvalidInput saying why ``password`` is refused (never quoting it). CPU-bound for a
    few milliseconds: async code runs it off the event loop."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters",
            [{"field": "password", "message": f"{MIN_PASSWORD} to {MAX_PASSWORD} characters"}],
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise InvalidInput(
            "the password must not contain control characters", _field("no control characters")
        )
    if password.lower() in _COMMON:
        raise InvalidInput(
            "this password is on a list of common and breached passwords; choose another",
            _field("common password"),
        )
    hints = ["rightly"]
    if email:
        local, _, domain = email.lower().partition("@")
        hints += [email.lower(), local, *domain.split(".")]
    result = zxcvbn(password[:_ESTIMATED], user_inputs=[h for h in hints if h])
    if result["score"] < MIN_SCORE:
        feedback = result.get("feedback") or {}
        why = feedback.get("warning") or "it is too easy to guess"
        tip = " ".join(feedback.get("suggestions") or []) or "Use a passphrase of several uncommon words."
        raise InvalidInput(
            f"the password is too easy to guess: {why.rstrip('.')}. {tip}", _field("too easy to guess")
        )


def _field(message: str) -> list[dict[str, str]]:
    return [{"field": "password", "message": message}]
