"""Access results as a CSV file: what the API's results and the privacy center's download share."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any


def results_csv(rows: Iterable[tuple[str, Mapping[str, Any]]], first: str = "connection") -> str:
    """One row per record: where it came from (column ``first``), then each top-level field
    (nested values as JSON)."""
    rows = list(rows)
    columns: list[str] = []
    for _, record in rows:
        columns += [k for k in record if k not in columns]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([first, *columns])
    for source, record in rows:
        writer.writerow([cell(source), *(cell(record.get(c)) for c in columns)])
    return buf.getvalue()


def cell(value: Any) -> str:
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    # A spreadsheet would run a cell starting with one of these as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
