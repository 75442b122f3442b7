"""A proof of deletion as a printable PDF: the same content as the signed JSON, laid out for a person,
with the signed JSON itself attached inside the PDF (save the attachment from any PDF reader and
check it with ``rightly proof verify``).

fpdf2 draws it: pure Python, on PyPI, no system libraries (its dependencies, Pillow and fontTools,
ship wheels), maintained, and it attaches files. ReportLab would do too but is larger and its
richer layout engine is not needed for tables of calls. The PDF uses the core Helvetica font, so
text is shown in Latin-1 (other characters as "?"); the attached JSON keeps every character.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rightly.domain import proof as fmt

if TYPE_CHECKING:
    from fpdf import FPDF


def _t(value: Any) -> str:
    text = "-" if value is None or value == "" else str(value)
    return text.encode("latin-1", "replace").decode("latin-1")


def render(data: bytes, filename: str = "proof.json") -> bytes:
    """The PDF of a proof file (``data``: the signed JSON, as issued)."""
    from fpdf import (
        FPDF,  # imported when a PDF is asked for: it takes a while, and most commands never need it
    )
    from fpdf.enums import XPos, YPos

    class _Doc(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", size=7)
            self.set_text_color(90)
            self.cell(0, 5, f"Rightly proof of deletion - page {self.page_no()}/{{nb}}", align="C")

    envelope = json.loads(data)
    proof, sig = envelope["proof"], envelope["signature"]
    req = proof["request"]
    pdf = _Doc(format="A4")
    pdf.set_title(f"Proof of deletion {req['id']}")
    pdf.set_author("Rightly")
    # the proof's own time, so the same proof gives the same PDF
    pdf.set_creation_date(datetime.fromisoformat(proof["issued_at"].replace("Z", "+00:00")))
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    width = pdf.epw
    pdf.set_font("Helvetica", "B", 17)
    pdf.cell(0, 10, "Proof of deletion", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(width, 5, _t(proof["outcome"].capitalize() + "."), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    _facts(
        pdf,
        [
            ("Request", req["id"]),
            ("Regulation", req["regulation"]),
            ("Status", req["status"]),
            ("Received", req["received_at"]),
            ("Legal deadline", req["due_at"]),
            ("Completed", req["completed_at"]),
            ("Issued", proof["issued_at"]),
        ],
    )
    subject = proof["subject"]
    pdf.ln(1)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Subject", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(
        width,
        4,
        "The proof does not hold the person's email or user ID. It holds a salted SHA-256 of each: "
        "whoever knows them can confirm it (rightly proof verify FILE --email ...).",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    _facts(
        pdf,
        [
            (name, f"sha256 {c['sha256']}\nsalt   {c['salt']}" if isinstance(c, dict) else "(none)")
            for name, c in (("Email", subject.get("email")), ("User ID", subject.get("user_id")))
        ],
        mono=True,
    )
    for item in proof["integrations"]:
        _integration(pdf, item)
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Signature", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _facts(
        pdf,
        [
            ("Algorithm", sig["algorithm"]),
            ("Key id", sig["key_id"]),
            ("Public key", sig["public_key"]),
            ("Signature", sig["value"]),
        ],
        mono=True,
    )
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(
        width,
        4,
        f"The signed document ({fmt.FORMAT}) is attached to this PDF as {filename} (PDF readers list "
        f"attachments). To check it: rightly proof verify {filename} --key rightly-proof-key.pem (the "
        "instance publishes its keys at GET /api/v1/proof-key). Any change to the document makes the "
        "check fail.",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.embed_file(basename=filename, bytes=data, desc="The signed proof (RFC 8785 JSON, Ed25519)")
    return bytes(pdf.output())


def _facts(pdf: FPDF, rows: list[tuple[str, Any]], mono: bool = False) -> None:
    from fpdf.enums import XPos, YPos

    label = 32
    for name, value in rows:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(label, 5, _t(name))
        pdf.set_font("Courier" if mono else "Helvetica", size=8 if mono else 9)
        pdf.multi_cell(pdf.epw - label, 5, _t(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _integration(pdf: FPDF, item: dict[str, Any]) -> None:
    from fpdf.enums import XPos, YPos

    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 12)
    pdf.multi_cell(
        pdf.epw, 7, _t(f"{item['system']}: {item['connection']}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    _facts(
        pdf,
        [
            ("Account", item.get("account")),
            ("Status", f"{item['status']} ({item.get('detail') or '-'})"),
            ("Verification", item.get("verification") or "none"),
            ("How it is known", item.get("completion")),
            ("Submitted", item.get("submitted_at")),
            ("Completed", item.get("completed_at")),
        ],
    )
    calls = item["calls"]
    if not calls:
        pdf.set_font("Helvetica", "I", 9)
        pdf.cell(0, 6, "No call was made.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    pdf.ln(1)
    pdf.set_font("Helvetica", size=7)
    with pdf.table(col_widths=(30, 28, 12, 62, 50), text_align="LEFT", line_height=3.6) as table:
        table.row(["When (UTC)", "Call", "HTTP", "Answer", "Evidence chain"])
        for call in calls:
            where = f"{call['method']} {call['host']}{call['path']}"
            if call["parameters"]:
                where += "?" + "&".join(f"{p}=..." for p in call["parameters"])
            table.row(
                [
                    _t(call["at"]),
                    _t(f"{call['kind']}: {where}"),
                    _t(call["status_code"] or "none"),
                    _t(f"{call['answer']} ({call['duration_ms']} ms)"),
                    _t(f"#{call['evidence']['seq']} {str(call['evidence']['hash'])[:16]}..."),
                ]
            )
