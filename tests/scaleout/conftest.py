"""The scaled-out mode for real: PostgreSQL and Redis shared by several workers."""

from __future__ import annotations

import os

import pytest
import redis

from tests.conftest import unavailable

REDIS_URL = os.environ.get("RIGHTLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1) as client:
            client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL} (set RIGHTLY_TEST_REDIS_URL): {exc}")
    return REDIS_URL
