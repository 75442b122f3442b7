"""Proofs of deletion: a finished deletion's proof verifies offline, names the subject only by
commitments, says how each deletion is known to be done (verified by lookups, or ended on submit),
and fails to verify after any byte of it changes."""

from __future__ import annotations

import json

import pytest

from rightly.domain import proof as fmt
from rightly.faces import proof_pdf
from rightly.services import proofs
from rightly.services.errors import Conflict
from rightly.services.runtime import Runtime
from tests.core.helpers import ACTOR, connect, run_until_done, submit


async def _proof(rt: Runtime, request_id: str) -> bytes:
    async with rt.db.session() as s:
        return await proofs.proof_for(s, rt, ACTOR, request_id)


async def _key(rt: Runtime) -> bytes:
    async with rt.db.session() as s:
        return bytes.fromhex((await proofs.public_keys(s, rt))["current"]["public_key"])


async def test_a_verified_deletion_has_a_proof_that_verifies_and_names_no_one(runtime: Runtime) -> None:
    await connect(runtime)
    request_id = await submit(runtime, "deletion", "ada@example.com", "user-42")
    await run_until_done(runtime)
    data = await _proof(runtime, request_id)
    checked = fmt.verify(data, [await _key(runtime)], email="Ada@Example.com", user_id="user-42")
    assert checked.key_checked and checked.subject == {"email": True, "user_id": True}
    assert fmt.verify(data, email="grace@example.com").subject == {"email": False}
    for secret in (b"ada@example.com", b"ada%40example.com", b"user-42", b"obj-ada"):
        assert secret not in data
    proof = checked.proof
    assert (
        proof["request"]["id"] == request_id
        and proof["request"]["regulation"] == runtime.settings.default_regulation
    )
    (ct,) = proof["integrations"]
    assert ct["verification"] == "verified" and ct["system"] == "CleverTap"
    assert ct["completion"].startswith("deletion verified: lookups by email= and identity= found nothing")
    kinds = [c["kind"] for c in ct["calls"]]
    assert kinds[0] == "lookup" and "delete" in kinds and kinds[-1] == "lookup"
    delete = next(c for c in ct["calls"] if c["kind"] == "delete")
    assert (delete["method"], delete["path"], delete["status_code"]) == (
        "POST",
        "/1/delete/profiles.json",
        200,
    )
    assert delete["host"].startswith("https://") and delete["evidence"]["seq"] >= 1
    lookup = ct["calls"][0]
    assert lookup["parameters"] == ["email"] and lookup["answer"] == "profile found"
    assert proof["outcome"] == "deleted at every integration (1) and verified by lookups afterwards"
    # asked again: the same document
    assert await _proof(runtime, request_id) == data


async def test_any_changed_byte_makes_the_proof_fail(runtime: Runtime) -> None:
    await connect(runtime)
    request_id = await submit(runtime, "deletion", "grace@example.com")
    await run_until_done(runtime)
    data = await _proof(runtime, request_id)
    key = await _key(runtime)
    fmt.verify(data, [key])
    for i in range(len(data)):
        changed = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        with pytest.raises(fmt.ProofInvalid):
            fmt.verify(changed, [key])
    # a proof re-signed by another key verifies only against that key
    other = fmt.sign(json.loads(data)["proof"], fmt.Ed25519PrivateKey.generate())
    fmt.verify(other)
    with pytest.raises(fmt.ProofInvalid, match="not the key given"):
        fmt.verify(other, [key])


async def test_a_deletion_that_ended_on_submit_says_it_was_not_verified(runtime: Runtime) -> None:
    await connect(runtime, deletion_behavior="on-submit")
    request_id = await submit(runtime, "deletion", user_id="user-7")
    await run_until_done(runtime)
    proof = fmt.verify(await _proof(runtime, request_id)).proof
    (ct,) = proof["integrations"]
    assert ct["verification"] == "submitted"
    assert "completes on submission, so no lookup verified that the profile is gone" in ct["completion"]
    assert "(not verified by a lookup)" in proof["outcome"]


async def test_only_a_finished_deletion_has_a_proof_and_the_pdf_carries_it(runtime: Runtime) -> None:
    await connect(runtime)
    access = await submit(runtime, "access", "ada@example.com")
    deletion = await submit(runtime, "deletion", "ada@example.com")
    with pytest.raises(Conflict, match="is received"):
        await _proof(runtime, deletion)
    await run_until_done(runtime)
    with pytest.raises(Conflict, match="only deletions have a proof"):
        await _proof(runtime, access)
    data = await _proof(runtime, deletion)
    pdf = proof_pdf.render(data, "proof.json")
    assert pdf.startswith(b"%PDF-") and b"/EmbeddedFile" in pdf and b"ada@example.com" not in pdf
    assert proof_pdf.render(data, "proof.json") == pdf  # the same proof, the same PDF
