"""Human output: readable tables for requests and connections."""

from __future__ import annotations

from typing import Any

from rich.table import Table

STATUS_STYLE = {
    "complete": "green",
    "error": "red",
    "canceled": "dim",
    "processing": "yellow",
    "pending": "cyan",
    "received": "cyan",
    "pending_verification": "blue",
    "pending_review": "blue",
    "denied": "dim",
    "closed_unverified": "dim",
    "not_started": "dim",
    "ok": "green",
    "failing": "red",
    "untested": "dim",
}


def styled(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def request_table(view: dict[str, Any]) -> Table:
    subject = view["subject"]
    who = ", ".join(
        v for v in (subject.get("email"), subject.get("user_id") and f"user {subject['user_id']}") if v
    )
    table = Table(title=f"{view['type']} request {view['id']} — {who}", title_justify="left")
    table.add_column("integration")
    table.add_column("status")
    table.add_column("detail")
    for item in view["integrations"]:
        detail = item.get("error") or item.get("detail") or ""
        table.add_row(item["connection"], styled(item["status"]), detail)
    due = (
        f"due {view['due_at']} ({view['regulation']})"
        if view.get("due_at")
        else "the legal clock starts once verified"
    )
    table.caption = f"request status: {view['status']} · created {view['created_at']} · {due}"
    return table


def records_table(view: dict[str, Any]) -> Table | None:
    rows = [(i["connection"], r) for i in view["integrations"] for r in (i.get("records") or [])]
    if not rows:
        return None
    table = Table(title="records found", title_justify="left")
    for col in ("integration", "identity", "email", "profile data", "events", "devices"):
        table.add_column(col)
    for conn, rec in rows:
        data = rec.get("profileData") or {}
        events = rec.get("events") or {}
        table.add_row(
            conn,
            str(rec.get("identity") or ""),
            str(rec.get("email") or ""),
            ", ".join(f"{k}={v}" for k, v in list(data.items())[:6]) + (" …" if len(data) > 6 else ""),
            ", ".join(f"{k} x{(v or {}).get('count', '?')}" for k, v in list(events.items())[:6]),
            str(len(rec.get("platformInfo") or [])),
        )
    return table


def requests_table(views: list[dict[str, Any]], total: int) -> Table:
    table = Table(title=f"requests ({len(views)} of {total})", title_justify="left")
    for col in ("id", "type", "status", "email", "user id", "created", "integrations"):
        table.add_column(col)
    for v in views:
        chips = " ".join(f"{i['connection']}:{styled(i['status'])}" for i in v["integrations"])
        table.add_row(
            v["id"],
            v["type"],
            styled(v["status"]),
            v["subject"]["email"] or "",
            v["subject"]["user_id"] or "",
            v["created_at"],
            chips,
        )
    return table


def connections_table(views: list[dict[str, Any]]) -> Table:
    table = Table(title="connections", title_justify="left")
    for col in ("name", "integration", "account", "budget", "health"):
        table.add_column(col)
    for c in views:
        table.add_row(
            c["name"],
            c["vendor_label"],
            c["target"],
            f"{c['max_in_flight']} in flight, {c['rate']:g}/s",
            styled(c["health"]),
        )
    return table
