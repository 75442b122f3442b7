"""Rotating the key that encrypts stored secrets (``rightly secrets rotate``).

Every stored secret is decrypted with any key the install knows and encrypted again under the new
primary key, in one transaction: all or nothing. Two ways in:

* key-file mode (no ``RIGHTLY_SECRET_KEY``): a new key is generated and written beside the old one
  (``secret.key.next``) before any secret uses it, the secrets are re-encrypted and committed, then
  the new key replaces the key file. A crash between the steps leaves both files, and both are read
  at start. Running processes notice the new key file when a secret no longer opens with the old.
* ``RIGHTLY_SECRET_KEY`` mode: the operator sets the new key as ``RIGHTLY_SECRET_KEY`` and the old
  as ``RIGHTLY_PREVIOUS_SECRET_KEY`` on every process, then rotates (which re-encrypts under the
  new key), then drops ``RIGHTLY_PREVIOUS_SECRET_KEY``. The same command upgrades secrets stored by
  an earlier Rightly (an unsalted SHA-256 of the passphrase) to the scrypt-derived key.

A feature that stores another encrypted column adds it to ``ENCRYPTED_COLUMNS``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.services import audit
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.store import meta
from rightly.store import secrets as store
from rightly.store.models import Connection, WebhookEndpoint
from rightly.store.privacy_models import Message
from rightly.store.secrets import SecretError, Secrets

# (model, column) pairs holding ``Secrets.encrypt`` output.
ENCRYPTED_COLUMNS: tuple[tuple[Any, str], ...] = (
    (Connection, "secret_encrypted"),
    (WebhookEndpoint, "secret_encrypted"),
    (Message, "body_encrypted"),
)


async def rotate(session: AsyncSession, rt: Runtime, actor: Actor) -> int:
    """Re-encrypt every stored secret under a new key (key-file mode) or under RIGHTLY_SECRET_KEY;
    returns how many were re-encrypted. Nothing changes if any secret cannot be decrypted."""
    now = rt.clock.now()
    key_file = not rt.settings.secret_key
    target = rt.secrets
    if key_file:
        new_key = store.generate_key().encode()
        store.write_next_key(rt.settings.home, new_key)
        target = rt.secrets.rotated(new_key)
    try:
        count = await _reencrypt(session, rt.secrets, target)
        audit.record(
            session,
            actor,
            "secrets.rotate",
            "secrets:all",
            now,
            detail={"secrets": count, "mode": "key file" if key_file else "RIGHTLY_SECRET_KEY"},
        )
        await session.commit()
    except SecretError as exc:
        await audit.failure(session, actor, "secrets.rotate", "secrets:all", now, exc)
        if key_file:
            (rt.settings.home / store.NEXT_KEY_FILE).unlink(missing_ok=True)
        raise
    if key_file:
        store.promote_next_key(rt.settings.home)
    rt.secrets = target
    return count


async def _reencrypt(session: AsyncSession, current: Secrets, target: Secrets) -> int:
    count = 0
    unreadable: list[str] = []
    for model, column in ENCRYPTED_COLUMNS:
        rows = await session.execute(select(model).with_for_update())
        for row in rows.scalars():
            token = getattr(row, column)
            if token is None:
                continue
            try:
                plain = current.decrypt(token)
            except SecretError:
                unreadable.append(str(getattr(row, "name", getattr(row, "id", "?"))))
                continue
            setattr(row, column, target.encrypt(plain))
            count += 1
    count += await meta.reencrypt_mac_key(session, current, target)
    if unreadable:
        raise SecretError(
            f"{len(unreadable)} stored secret(s) open with no key this process has ({', '.join(unreadable[:5])}): "
            "set RIGHTLY_PREVIOUS_SECRET_KEY to the key they were saved under, or reconnect them; "
            "nothing was changed"
        )
    return count
