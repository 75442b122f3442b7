"""Hash chains over the append-only tables: every audit entry, and every vendor call (evidence),
seals the one before it.

Two chains, ``audit`` (audit_entries) and ``evidence`` (evidence), each its own sequence: row ``n``
holds ``seq`` = n, ``prev_hash`` = the hash of row n-1 (``GENESIS`` for the first) and

    hash = MAC("rightly-chain/1", table, seq, prev_hash, d_1, ..., d_k)
    d_i  = MAC("rightly-chain-field/1", canonical JSON of the row's i-th field)

where MAC is an HMAC-SHA256 keyed by the instance's secret key (``Secrets.keyed_hash``): someone who
can write to the database but does not hold that key cannot seal an edited, inserted or reordered
row so that it verifies. The chain is checked by ``rightly.services.integrity``.

Why two chains and not one: evidence rows are written by every worker's round transaction at the
rate of vendor calls, audit entries by the services on people's actions. One chain would make
every round wait for every service's transaction (and the reverse) on one lock, and would need a
sequence shared by two tables. Each chain is verified on its own; a proof of deletion quotes the
evidence rows it relies on by their place (``seq``) and ``hash`` in the evidence chain.

Redaction-stable: the hash covers a digest per field, not the field itself. Retention replaces a
subject's identifiers in some fields (``Chain.redactable``) and keeps, in ``redacted``, each such
field's original digest plus a seal (a MAC over the table, the row's place, those digests and the
new values). The row's hash still verifies from the kept digests; the seal, which again only the
key can make, shows that the new values are the ones the redaction wrote.

Appends to one chain are serialized by its ``chain_heads`` row: the appender updates it first (on
PostgreSQL that row lock is held until commit; on SQLite the write lock is), reads the head, seals
its rows and moves the head. Written by hand: no maintained library chains rows of a SQL table
(immudb and QLDB are databases of their own; sqlalchemy-continuum keeps versions, not seals).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Table, event, insert, select, update
from sqlalchemy.orm import Session

from rightly.store.auth_models import AuditEntry
from rightly.store.models import ChainHead, Evidence

GENESIS = "0" * 64
SEALER = "rightly.chain.sealer"  # the key of the Sealer in a session's ``info``


class Mac(Protocol):
    def keyed_hash(self, purpose: str, value: str) -> str: ...


@dataclass(frozen=True)
class Chain:
    name: str
    table: Table
    fields: tuple[str, ...]  # what the hash covers, in this order
    redactable: tuple[str, ...]  # what retention may replace (the triggers allow nothing else)


AUDIT = Chain(
    "audit",
    cast(Table, AuditEntry.__table__),
    ("at", "actor_type", "actor", "action", "target", "outcome", "detail", "message"),
    ("actor", "message", "detail"),
)
EVIDENCE = Chain(
    "evidence",
    cast(Table, Evidence.__table__),
    ("task_id", "at", "kind", "method", "host", "endpoint", "status_code", "duration_ms", "outcome", "data"),
    ("endpoint", "outcome", "data"),
)
CHAINS = {c.name: c for c in (AUDIT, EVIDENCE)}
H = cast(Table, ChainHead.__table__)


def _plain(value: Any) -> Any:
    """The value as the database gives it back: tuples are lists, a whole float is an int (SQLite
    stores 5 in a REAL column as 5.0), mappings are dicts."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def canonical(value: Any) -> str:
    if value is None or (isinstance(value, str | bool | int) and not isinstance(value, float)):
        return json.dumps(value, ensure_ascii=False)  # the common case, without the walk
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Sealer:
    """Computes a chain's MACs: HMAC-SHA256 under a key derived from the instance's secret key
    (``Secrets.keyed_hash``), one keyed state per purpose, copied for each value (cheap: a vendor
    call's row is sealed in tens of microseconds)."""

    def __init__(self, mac: Mac) -> None:
        key = bytes.fromhex(mac.keyed_hash("rightly-chain-key/1", "audit and evidence chains"))
        self._field = hmac.new(key, b"rightly-chain-field/1\x00", hashlib.sha256)
        self._row = hmac.new(key, b"rightly-chain/1\x00", hashlib.sha256)
        self._redaction = hmac.new(key, b"rightly-chain-redaction/1\x00", hashlib.sha256)

    @staticmethod
    def _mac(base: hmac.HMAC, text: str) -> str:
        h = base.copy()
        h.update(text.encode())
        return h.hexdigest()

    def digest(self, value: Any) -> str:
        return self._mac(self._field, canonical(value))

    def digests(self, chain: Chain, row: Mapping[str, Any]) -> list[str]:
        kept = ((row.get("redacted") or {}).get("fields") or {}) if row.get("redacted") else {}
        return [kept[f] if f in kept else self.digest(row.get(f)) for f in chain.fields]

    def row_hash(self, chain: Chain, seq: int, prev: str, row: Mapping[str, Any]) -> str:
        parts = [chain.table.name, str(seq), prev, *self.digests(chain, row)]
        return self._mac(self._row, "\n".join(parts))

    def redaction_seal(
        self, chain: Chain, seq: int, fields: Mapping[str, str], row: Mapping[str, Any]
    ) -> str:
        now = {f: row.get(f) for f in sorted(fields)}
        text = "\n".join([chain.table.name, str(seq), canonical(dict(fields)), canonical(now)])
        return self._mac(self._redaction, text)

    def redact(self, chain: Chain, row: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
        """The column values that replace ``changes`` in a sealed ``row`` and keep it verifiable."""
        bad = set(changes) - set(chain.redactable)
        if bad:
            raise ValueError(f"{chain.name}: {sorted(bad)} may not be redacted")
        previous = dict(((row.get("redacted") or {}).get("fields")) or {})
        fields = {f: previous.get(f) or self.digest(row.get(f)) for f in {*previous, *changes}}
        after = {**dict(row), **changes}
        seal = self.redaction_seal(chain, int(row["seq"]), fields, after)
        return {**changes, "redacted": {"fields": fields, "seal": seal}}


def sealer_of(session: Session) -> Sealer:
    sealer = session.info.get(SEALER)
    if not isinstance(sealer, Sealer):
        raise RuntimeError(
            "audit entries and evidence are written through a runtime's sessions, which carry the "
            "chain key (rightly.app.runtime.open_runtime)"
        )
    return sealer


def seal(session: Session, chain: Chain, rows: list[dict[str, Any]]) -> None:
    """Give ``rows`` (column values about to be inserted, in order) their place in ``chain``. Locks
    the chain's head until the transaction ends; the caller inserts the rows in the same transaction."""
    if not rows:
        return
    sealer = sealer_of(session)
    seq, prev = _lock_head(session, sealer, chain)
    for row in rows:
        seq += 1
        row["seq"], row["prev_hash"] = seq, prev
        row["hash"] = prev = sealer.row_hash(chain, seq, prev, row)
    session.execute(update(H).where(H.c.name == chain.name).values(seq=seq, hash=prev))


def _lock_head(session: Session, sealer: Sealer, chain: Chain) -> tuple[int, str]:
    touched = session.execute(update(H).where(H.c.name == chain.name).values(seq=H.c.seq))
    if not getattr(touched, "rowcount", 0):
        _start(session, sealer, chain)
    row = session.execute(select(H.c.seq, H.c.hash).where(H.c.name == chain.name)).one()
    return int(row.seq), str(row.hash)


def _start(session: Session, sealer: Sealer, chain: Chain) -> None:
    """No head row: start it after the last sealed row, or, on a database that has none, seal the rows
    written before chains existed (in the order they were written) and start after them."""
    t = chain.table
    last = session.execute(
        select(t.c.seq, t.c.hash).where(t.c.seq.is_not(None)).order_by(t.c.seq.desc()).limit(1)
    ).first()
    seq, prev = (int(last.seq), str(last.hash)) if last is not None else (0, GENESIS)
    if last is None:
        legacy = session.execute(select(t).where(t.c.seq.is_(None)).order_by(t.c.id)).mappings().all()
        for old in legacy:
            seq += 1
            digest = sealer.row_hash(chain, seq, prev, dict(old))
            session.execute(update(t).where(t.c.id == old["id"]).values(seq=seq, prev_hash=prev, hash=digest))
            prev = digest
    dialect = session.get_bind().dialect.name
    values = {"name": chain.name, "seq": seq, "hash": prev}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(H).values(**values).on_conflict_do_nothing(index_elements=["name"]))
        # another appender may have started it first: lock it as it now stands
        session.execute(update(H).where(H.c.name == chain.name).values(seq=H.c.seq))
    else:
        session.execute(insert(H).values(**values))


def _columns(obj: Any, chain: Chain) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in chain.fields}


@event.listens_for(Session, "before_flush")
def _seal_new_rows(session: Session, _context: Any, _instances: Iterable[Any] | None) -> None:
    """Audit entries (``services.audit.record``) and evidence added to a session as objects are sealed
    as they are flushed, whoever wrote them. (The engine inserts evidence in bulk and calls ``seal``.)"""
    from sqlalchemy import inspect

    for chain in (EVIDENCE, AUDIT):  # always in this order, so two appenders never wait on each other
        fresh = [o for o in session.new if getattr(o, "__chain__", None) == chain.name and o.seq is None]
        if not fresh:
            continue
        fresh.sort(key=lambda o: inspect(o).insert_order or 0)
        rows = [_columns(o, chain) for o in fresh]
        seal(session, chain, rows)
        for obj, row in zip(fresh, rows, strict=True):
            obj.seq, obj.prev_hash, obj.hash = row["seq"], row["prev_hash"], row["hash"]
