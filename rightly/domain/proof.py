"""A proof of deletion as a file: its content, how it is signed, and how anyone checks it offline.

The file is one JSON object, ``{"proof": {...}, "signature": {...}}``, written in RFC 8785 canonical
form (the ``rfc8785`` package: sorted keys, no insignificant whitespace). The signature is Ed25519
(the ``cryptography`` package) over the canonical bytes of ``proof``; ``signature`` carries the
algorithm, the signing key's id (the first 16 bytes of the SHA-256 of its raw public key, in hex),
that public key and the signature, both in lowercase hex. Content holds no number that is not an
integer, so its canonical form is the same in every language.

The subject is named only by salted SHA-256 commitments (``commitment``): the proof does not hold
the email or user ID, but whoever already knows them can confirm that the proof is about them
(``verify(..., email=...)``). So a proof survives retention's redaction unchanged.

``verify`` checks, without any network or database: that the file is that JSON, that the signature
is valid for the canonical form of ``proof`` under the key it names (and, when given, that this is the
key expected), that the key id is that key's, and that the content has the shape of this format.
Any change to the content, the signature or the key makes it fail.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = "rightly-proof-of-deletion/1"
ALGORITHM = "Ed25519"
MAX_FILE = 16 * 2**20
VERIFICATIONS = ("verified", "submitted", "not_verified")


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()[:32]


def commitment(value: str, salt: str | None = None) -> dict[str, str]:
    """A salted SHA-256 of an identifier (an email is compared in lower case)."""
    salt = salt or secrets.token_hex(16)
    return {"salt": salt, "sha256": hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()}


def matches(commit: Any, value: str) -> bool:
    return (
        isinstance(commit, dict)
        and isinstance(commit.get("salt"), str)
        and commitment(value, commit["salt"]) == {"salt": commit["salt"], "sha256": commit.get("sha256")}
    )


def canonical(value: Any) -> bytes:
    return bytes(rfc8785.dumps(value))


def sign(proof: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """The proof file: ``proof`` and its signature, canonical JSON, ending with a newline."""
    public = public_bytes(key.public_key())
    envelope = {
        "proof": proof,
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id(public),
            "public_key": public.hex(),
            "value": key.sign(canonical(proof)).hex(),
        },
    }
    return canonical(envelope) + b"\n"


class ProofInvalid(Exception):
    """The file is not a valid proof: what is wrong, in words."""


@dataclass
class Verified:
    proof: dict[str, Any]
    key_id: str
    public_key: str  # hex
    key_checked: bool  # the key was compared with one given by the caller
    subject: dict[str, bool] = field(default_factory=dict)  # "email"/"user_id" -> matches


def verify(
    data: bytes,
    expected_keys: list[bytes] | None = None,
    *,
    email: str | None = None,
    user_id: str | None = None,
) -> Verified:
    """Check a proof file offline; ``ProofInvalid`` says what is wrong. ``expected_keys``: the public
    keys (raw bytes) it must be signed by; ``email``/``user_id``: confirm the subject."""
    if len(data) > MAX_FILE:
        raise ProofInvalid("the file is larger than any proof")
    try:
        envelope = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProofInvalid(f"the file is not JSON: {exc}") from None
    if not isinstance(envelope, dict) or set(envelope) != {"proof", "signature"}:
        raise ProofInvalid("the file does not have the two parts of a proof (proof, signature)")
    proof, sig = envelope["proof"], envelope["signature"]
    if not isinstance(sig, dict) or set(sig) != {"algorithm", "key_id", "public_key", "value"}:
        raise ProofInvalid("the signature part is not as this format writes it")
    if sig["algorithm"] != ALGORITHM:
        raise ProofInvalid(f"unknown signature algorithm {sig['algorithm']!r}")
    public = _hex(sig["public_key"], 32, "public key")
    signature = _hex(sig["value"], 64, "signature")
    if sig["key_id"] != key_id(public):
        raise ProofInvalid("the key id does not belong to the public key in the file")
    try:
        canonical_proof = canonical(proof)
    except Exception as exc:  # rfc8785 refuses what JSON cannot carry faithfully
        raise ProofInvalid(f"the proof cannot be put in canonical form: {exc}") from None
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, canonical_proof)
    except InvalidSignature:
        raise ProofInvalid("the signature does not match the content: the proof was changed") from None
    if data.rstrip(b"\n") != canonical(envelope):
        raise ProofInvalid("the file is not in the canonical form it was signed in: it was changed")
    _check_content(proof)
    checked = expected_keys is not None
    if expected_keys is not None and public not in expected_keys:
        raise ProofInvalid(f"signed by key {sig['key_id']}, which is not the key given")
    result = Verified(proof, sig["key_id"], sig["public_key"], checked)
    subject = proof["subject"]
    if email is not None:
        result.subject["email"] = matches(subject.get("email"), email.strip().lower())
    if user_id is not None:
        result.subject["user_id"] = matches(subject.get("user_id"), user_id.strip())
    return result


def _hex(value: Any, size: int, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * size or value != value.lower():
        raise ProofInvalid(f"the {what} is not {size} bytes of lowercase hex")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ProofInvalid(f"the {what} is not hex") from None


def _check_content(proof: Any) -> None:
    """The shape a proof of this format has (a signed file of another shape is not one of ours)."""
    if not isinstance(proof, dict) or proof.get("format") != FORMAT:
        raise ProofInvalid(f"not a {FORMAT} document")
    request = proof.get("request")
    if not isinstance(request, dict) or request.get("type") != "deletion" or not request.get("id"):
        raise ProofInvalid("the proof does not describe a deletion request")
    if not isinstance(proof.get("subject"), dict):
        raise ProofInvalid("the proof names no subject")
    integrations = proof.get("integrations")
    if not isinstance(integrations, list):
        raise ProofInvalid("the proof lists no integrations")
    for item in integrations:
        if not isinstance(item, dict) or not isinstance(item.get("calls"), list):
            raise ProofInvalid("an integration in the proof has no list of calls")
        if item.get("verification") not in (*VERIFICATIONS, None):
            raise ProofInvalid(f"unknown verification outcome {item.get('verification')!r}")
