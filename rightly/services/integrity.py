"""Checking the audit trail's hash chains, and exporting the trail with its seals.

``verify`` walks each chain (``rightly.store.chain``: audit entries, vendor calls) in order and names
the first entry that was changed, removed or put where it does not belong, and any row written
outside the chain. It recomputes every seal with the instance's key, so it does not rely on the
database's triggers: an edit made by someone who dropped them is found all the same. What a chain
alone cannot show is the removal of its newest entries together with its head row: keep the head
``verify`` prints (or a proof's evidence hashes) somewhere else to compare later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.domain.clock import iso
from rightly.store import chain as chains
from rightly.store.chain import GENESIS, Chain, Sealer

BATCH = 2000
_NAMES = {"audit": "audit entry", "evidence": "vendor call"}
_PREFIX = {"audit": "a", "evidence": "e"}  # as the audit listing names rows ("a12", "e7")


@dataclass
class Problem:
    kind: str  # changed | removed | outside | head
    entry: str  # "audit entry #17 (a17)"
    seq: int | None
    id: str | None
    message: str


@dataclass
class ChainReport:
    chain: str
    ok: bool
    entries: int
    head: dict[str, Any] | None  # {"seq", "hash"}: keep it elsewhere to detect a cut-off tail
    problems: list[Problem] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return asdict(self)


def _name(chain: Chain, seq: int | None, row_id: Any) -> str:
    where = f"#{seq} " if seq is not None else ""
    return f"{_NAMES[chain.name]} {where}({_PREFIX[chain.name]}{row_id})"


async def verify(session: AsyncSession) -> list[ChainReport]:
    """Walk both chains; the first problem of each, any row outside it, and its head."""
    sealer = chains.sealer_of(session.sync_session)
    return [await verify_chain(session, sealer, c) for c in (chains.AUDIT, chains.EVIDENCE)]


async def verify_chain(session: AsyncSession, sealer: Sealer, chain: Chain) -> ChainReport:
    t = chain.table
    report = ChainReport(chain.name, True, 0, None)
    expected, prev, last_hash = 1, GENESIS, None
    problem: Problem | None = None
    while problem is None:
        rows = (
            (await session.execute(select(t).where(t.c.seq >= expected).order_by(t.c.seq).limit(BATCH)))
            .mappings()
            .all()
        )
        if not rows:
            break
        for row in rows:
            problem = _check(sealer, chain, row, expected, prev)
            if problem is not None:
                break
            expected, prev, last_hash = expected + 1, str(row["hash"]), str(row["hash"])
            report.entries += 1
    if problem is not None:
        report.problems.append(problem)
    outside = (
        await session.execute(select(t.c.id).where(t.c.seq.is_(None)).order_by(t.c.id).limit(1))
    ).scalar()
    if outside is not None:
        report.problems.append(
            Problem(
                "outside",
                _name(chain, None, outside),
                None,
                f"{_PREFIX[chain.name]}{outside}",
                f"{_name(chain, None, outside)} is not in the chain: it was written bypassing Rightly",
            )
        )
    head = (
        await session.execute(select(chains.H.c.seq, chains.H.c.hash).where(chains.H.c.name == chain.name))
    ).first()
    if head is not None:
        report.head = {"seq": int(head.seq), "hash": str(head.hash)}
        last = expected - 1
        if problem is None and (int(head.seq) != last or (last and head.hash != last_hash)):
            report.problems.append(
                Problem(
                    "head",
                    f"{_NAMES[chain.name]} #{last + 1}"
                    if int(head.seq) > last
                    else f"{_NAMES[chain.name]} #{last}",
                    last + 1 if int(head.seq) > last else last,
                    None,
                    f"the chain ends at #{last} but its head records #{head.seq}: "
                    + ("the newest entries were removed" if int(head.seq) > last else "the head was changed"),
                )
            )
    elif report.entries:
        report.problems.append(
            Problem("head", f"{_NAMES[chain.name]} head", None, None, "the chain's head row is missing")
        )
    report.ok = not report.problems
    return report


def _check(sealer: Sealer, chain: Chain, row: Any, expected: int, prev: str) -> Problem | None:
    seq, row_id = int(row["seq"]), row["id"]
    ref = f"{_PREFIX[chain.name]}{row_id}"
    if seq != expected:
        gone = f"{_NAMES[chain.name]} #{expected}"
        return Problem(
            "removed",
            gone,
            expected,
            None,
            f"{gone} was removed: {_name(chain, seq, row_id)} comes after #{expected - 1}",
        )
    if sealer.row_hash(chain, seq, str(row["prev_hash"] or ""), row) != row["hash"]:
        return Problem(
            "changed",
            _name(chain, seq, row_id),
            seq,
            ref,
            f"{_name(chain, seq, row_id)} was changed (or put there from elsewhere): its seal does not match",
        )
    if row["prev_hash"] != prev:
        return Problem(
            "changed",
            _name(chain, seq, row_id),
            seq,
            ref,
            f"{_name(chain, seq, row_id)} does not follow #{seq - 1}: an entry was inserted or reordered here",
        )
    redacted = row["redacted"]
    if redacted is not None:
        fields = redacted.get("fields") if isinstance(redacted, dict) else None
        if not isinstance(fields, dict) or sealer.redaction_seal(chain, seq, fields, row) != redacted.get(
            "seal"
        ):
            return Problem(
                "changed",
                _name(chain, seq, row_id),
                seq,
                ref,
                f"{_name(chain, seq, row_id)} was changed after its personal data was redacted",
            )
    return None


# -- export ---------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "chain",
    "seq",
    "id",
    "at",
    "actor_type",
    "actor",
    "action",
    "target",
    "outcome",
    "message",
    "detail",
    "task_id",
    "kind",
    "method",
    "host",
    "endpoint",
    "status_code",
    "duration_ms",
    "data",
    "redacted",
    "prev_hash",
    "hash",
)


async def export(
    session: AsyncSession, since: float | None = None, until: float | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Every audit entry and vendor call at or after ``since`` and before ``until``, oldest first
    (each chain in its own order), with the seals a reader can check against ``verify``'s."""
    streams = [_rows(session, c, since, until) for c in (chains.AUDIT, chains.EVIDENCE)]
    heads: list[dict[str, Any] | None] = [await anext(s, None) for s in streams]
    while any(h is not None for h in heads):
        i = min((i for i, h in enumerate(heads) if h is not None), key=lambda i: (heads[i]["_at"], i))  # type: ignore[index]
        row = heads[i]
        assert row is not None
        row.pop("_at")
        yield row
        heads[i] = await anext(streams[i], None)


async def _rows(
    session: AsyncSession, chain: Chain, since: float | None, until: float | None
) -> AsyncIterator[dict[str, Any]]:
    t = chain.table
    after: tuple[float, int] | None = None
    while True:
        query = select(t).order_by(t.c.at, t.c.id).limit(BATCH)
        if since is not None:
            query = query.where(t.c.at >= since)
        if until is not None:
            query = query.where(t.c.at < until)
        if after is not None:
            query = query.where((t.c.at > after[0]) | ((t.c.at == after[0]) & (t.c.id > after[1])))
        rows = (await session.execute(query)).mappings().all()
        if not rows:
            return
        for row in rows:
            out: dict[str, Any] = {c: row.get(c) for c in EXPORT_COLUMNS if c in row}
            out |= {
                "chain": chain.name,
                "id": f"{_PREFIX[chain.name]}{row['id']}",
                "at": iso(row["at"]),
                "redacted": row["redacted"] is not None,
                "_at": row["at"],
            }
            yield out
        after = (rows[-1]["at"], rows[-1]["id"])
