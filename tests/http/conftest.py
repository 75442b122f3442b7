"""Fixtures for the http tests: Redis keys of each test's own (``redis_url`` is in tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys, and only those, are deleted afterwards."""
    prefix = f"rightly-test:{uuid.uuid4().hex}:"
    yield prefix
    with redis.Redis.from_url(redis_url) as client:
        stale = list(client.scan_iter(match=prefix + "*"))
        if stale:
            client.delete(*stale)
