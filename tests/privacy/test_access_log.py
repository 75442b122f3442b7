"""A link's token never reaches the access log: uvicorn's line shows /privacy/verify/[token]."""

from __future__ import annotations

import logging

from rightly.web.pages.privacy import REDACT, redact_tokens


def test_the_access_log_line_hides_link_tokens() -> None:
    redact_tokens()
    redact_tokens()  # once, however often the app is built
    logger = logging.getLogger("uvicorn.access")
    assert logger.filters.count(REDACT) == 1
    token = "vDeimE4gpcRHtom2NGMVWJmvW-4yCZ3xbiKTY9WJBPg"
    for path in (f"/privacy/verify/{token}", f"/privacy/results/{token}/data.json"):
        record = logging.LogRecord(
            "uvicorn.access",
            logging.INFO,
            __file__,
            1,
            '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:5000", "GET", path, "1.1", 200),
            None,
        )
        assert REDACT.filter(record)
        line = record.getMessage()
        assert token not in line and "/privacy/" in line and "[token]" in line
