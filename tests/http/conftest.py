"""Fixtures for the http tests: a Redis to share budgets through, when one is running."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = os.environ.get("RIGHTLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis; skipped with the reason when it does not answer, but failed under CI=true."""
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1) as client:
            client.ping()
    except redis.RedisError as exc:
        reason = f"Redis not reachable at {REDIS_URL} (set RIGHTLY_TEST_REDIS_URL): {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys, and only those, are deleted afterwards."""
    prefix = f"rightly-test:{uuid.uuid4().hex}:"
    yield prefix
    with redis.Redis.from_url(redis_url) as client:
        stale = list(client.scan_iter(match=prefix + "*"))
        if stale:
            client.delete(*stale)
