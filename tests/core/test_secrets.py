"""The key that encrypts stored secrets: a key of the right form used as it is, a passphrase stretched
with scrypt under the install's own salt, existing installs (an unsalted SHA-256) still working, and
`rightly secrets rotate` moving every secret to a new key (key file or RIGHTLY_SECRET_KEY)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from rightly.app.runtime import open_runtime
from rightly.domain.clock import FakeClock
from rightly.engine.dispatch import connection_config
from rightly.services import secrets as rotation
from rightly.settings import Settings
from rightly.store import secrets as store
from rightly.store.auth_models import AuditEntry
from rightly.store.models import Connection
from rightly.store.secrets import SecretError, Secrets, legacy_key
from tests.conftest import PASSCODE
from tests.core.helpers import ACTOR, connect

PASSPHRASE = "a long operator passphrase"


async def _stored(rt) -> bytes:  # type: ignore[no-untyped-def]
    async with rt.db.session() as s:
        return bytes((await s.execute(select(Connection.secret_encrypted))).scalar_one())


async def test_a_passphrase_is_stretched_under_each_installs_own_salt(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> None:
    made = []
    for name in ("one", "two"):
        settings = Settings(home=tmp_path / name, secret_key=PASSPHRASE)
        async with open_runtime(settings, clock=clock, http=emulator_http) as rt:
            await connect(rt)
            made.append((rt.secrets, await _stored(rt)))
    (first, token_one), (second, token_two) = made
    assert first.decrypt(token_one) == PASSCODE and second.decrypt(token_two) == PASSCODE
    assert first.keys[0] != second.keys[0]  # same passphrase, different salt, different key
    assert first.keys[0] != legacy_key(PASSPHRASE)
    with pytest.raises(SecretError):
        Secrets([first.keys[0]]).decrypt(token_two)
    assert PASSCODE.encode() not in token_one


def test_a_key_of_the_right_form_is_used_as_it_is(tmp_path: Path) -> None:
    key = store.generate_key()
    secrets = Secrets.load(tmp_path, key, salt=b"whatever")
    assert secrets.keys[0] == key.encode()
    assert Secrets([key.encode()]).decrypt(secrets.encrypt("x")) == "x"


async def test_an_existing_install_keeps_working_and_rotate_upgrades_it(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> None:
    settings = Settings(home=tmp_path / "home", secret_key=PASSPHRASE)
    async with open_runtime(settings, clock=clock, http=emulator_http) as rt:
        await connect(rt)
        # As stored by an earlier Rightly: under the unsalted SHA-256 of the passphrase.
        old = Secrets([legacy_key(PASSPHRASE)]).encrypt(PASSCODE)
        async with rt.db.session() as s:
            await s.execute(update(Connection).values(secret_encrypted=old))
            await s.commit()
    async with open_runtime(settings, clock=clock, http=emulator_http) as rt:
        async with rt.db.session() as s:
            conn = (await s.execute(select(Connection))).scalar_one()
            assert connection_config(conn, rt.registry, rt.secrets).secret == PASSCODE  # still works
        assert not rt.secrets.is_primary(await _stored(rt))
        async with rt.db.session() as s:
            assert await rotation.rotate(s, rt, ACTOR) == 2  # the passcode and the install's MAC key
        assert rt.secrets.is_primary(await _stored(rt))
        async with rt.db.session() as s:
            entry = (
                await s.execute(select(AuditEntry).where(AuditEntry.action == "secrets.rotate"))
            ).scalar_one()
        assert entry.detail and entry.detail["secrets"] == 2


async def test_rotating_to_a_new_passphrase_needs_the_previous_one(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> None:
    home = tmp_path / "home"
    async with open_runtime(
        Settings(home=home, secret_key="the old passphrase"), clock=clock, http=emulator_http
    ) as rt:
        await connect(rt)
    new = Settings(home=home, secret_key=store.generate_key())
    with pytest.raises(SecretError, match="RIGHTLY_PREVIOUS_SECRET_KEY"):
        async with open_runtime(new, clock=clock, http=emulator_http):
            pass  # refused at start: nothing changed
    both = Settings(home=home, secret_key=new.secret_key, previous_secret_key="the old passphrase")
    async with open_runtime(both, clock=clock, http=emulator_http) as rt, rt.db.session() as s:
        assert await rotation.rotate(s, rt, ACTOR) == 2  # the passcode and the install's MAC key
    async with open_runtime(new, clock=clock, http=emulator_http) as rt:  # the old key is gone now
        assert rt.secrets.decrypt(await _stored(rt)) == PASSCODE


async def test_key_file_rotation_is_followed_by_a_running_process(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> None:
    settings = Settings(home=tmp_path / "home")
    async with (
        open_runtime(settings, clock=clock, http=emulator_http) as running,
        open_runtime(settings, clock=clock, http=emulator_http) as rotating,
    ):
        await connect(running)
        old_key = (settings.home / "secret.key").read_bytes()
        async with rotating.db.session() as s:
            assert await rotation.rotate(s, rotating, ACTOR) == 2
        assert (settings.home / "secret.key").read_bytes() != old_key
        assert not (settings.home / "secret.key.next").exists()
        assert oct((settings.home / "secret.key").stat().st_mode & 0o777) == "0o600"
        with pytest.raises(SecretError):
            Secrets([old_key]).decrypt(await _stored(running))
        # The other process still holds the old key in memory: it reads the new key file and goes on.
        assert running.secrets.decrypt(await _stored(running)) == PASSCODE


def test_the_cli_rotates_and_generates_keys(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTLY_")} | {
        "RIGHTLY_HOME": str(tmp_path / "home")
    }
    rightly = [sys.executable, "-m", "rightly"]
    key = subprocess.run(
        [*rightly, "secrets", "generate-key"], env=env, capture_output=True, text=True, timeout=60
    )
    assert key.returncode == 0 and store.is_key(key.stdout.strip())
    done = subprocess.run(
        [*rightly, "secrets", "rotate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 1 secret under a new key file" in done.stdout
    bad = subprocess.run(
        [*rightly, "secrets", "rotate"],
        env=env | {"RIGHTLY_HTTP_TIMEOUT": "1e-300"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "RIGHTLY_HTTP_TIMEOUT" in bad.stderr and "Traceback" not in bad.stderr


async def test_rotation_keeps_every_keyed_hash_and_the_audit_chains(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> None:
    """Throttle counts, redaction tokens and the chains' seals use the install's MAC key, which
    rotation re-encrypts but never changes: the chains still verify under the new key."""
    from rightly.services import integrity

    settings = Settings(home=tmp_path / "home")
    async with open_runtime(settings, clock=clock, http=emulator_http) as rt:
        await connect(rt)
        before = rt.secrets.keyed_hash("throttle:login", "someone@example.com")
        async with rt.db.session() as s:
            await rotation.rotate(s, rt, ACTOR)
        assert rt.secrets.keyed_hash("throttle:login", "someone@example.com") == before
    async with open_runtime(settings, clock=clock, http=emulator_http) as rt:  # the new key only
        assert rt.secrets.keyed_hash("throttle:login", "someone@example.com") == before
        async with rt.db.session() as s:
            reports = await integrity.verify(s)
        assert [r.ok for r in reports] == [True, True] and reports[0].entries >= 2
