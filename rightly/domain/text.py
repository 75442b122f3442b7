"""Text every database can hold. Pure.

PostgreSQL refuses a NUL character in text (SQLite keeps it, and cuts strings at it in places),
neither database driver can encode a lone UTF-16 surrogate (which JSON's ``\\ud800`` escape and
Python's ``surrogateescape`` of a non-UTF-8 command-line argument produce), and PostgreSQL enforces
a column's length where SQLite does not. Input is checked with ``unstorable`` where it enters (and
refused with a clear error); text Rightly writes itself from mixed sources (an audit entry naming
what someone typed) goes through ``storable``, which cannot fail.
"""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


def _bad(c: str) -> bool:
    return c == "\x00" or 0xD800 <= ord(c) <= 0xDFFF


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is (a NUL, a lone surrogate), or None when it can."""
    for c in text:
        if c == "\x00":
            return "must not contain a NUL character"
        if 0xD800 <= ord(c) <= 0xDFFF:
            return "must be valid Unicode text (it holds a lone surrogate)"
    return None


def control_characters(text: str) -> bool:
    """True when ``text`` holds a control character (C0, DEL, C1) or cannot be stored at all."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 or _bad(c) for c in text)


def storable(text: str, limit: int | None = None) -> str:
    """``text`` with what no database can hold replaced (U+FFFD), cut to ``limit`` characters."""
    if any(_bad(c) for c in text):
        text = "".join(REPLACEMENT if _bad(c) else c for c in text)
    return text if limit is None else text[:limit]


def storable_json(value: Any, depth: int = 0) -> Any:
    """A JSON-like value whose strings (keys and values) are all ``storable``."""
    if isinstance(value, str):
        return storable(value)
    if depth > 50:
        return None
    if isinstance(value, dict):
        return {storable(str(k)): storable_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v, depth + 1) for v in value]
    return value
