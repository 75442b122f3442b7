"""The connectors Rightly ships with. Adding a vendor: a folder under ``connectors/`` and a line here."""

from __future__ import annotations

from rightly.connectors.base import Registry


def builtin_registry() -> Registry:
    from rightly.connectors.clevertap.connector import CleverTap

    return Registry([CleverTap()])
