"""Running Rightly's coroutines: on uvloop where it is installed (Linux, macOS), else asyncio's loop.

uvloop runs the same asyncio code with its event loop and sockets in C; for the engine that is
about a tenth less CPU per request (``docs/benchmark.md``). ``rightly serve`` gets it from uvicorn,
which picks uvloop by itself when it is installed.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

try:
    import uvloop
except ImportError:  # pragma: no cover - Windows has no uvloop
    uvloop = None  # type: ignore[assignment]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    tune_gc()
    if uvloop is not None:
        return uvloop.run(main)
    return asyncio.run(main)


def tune_gc() -> None:
    """Collect less often: the engine allocates many short-lived objects per vendor call and the
    default threshold (700 allocations) runs a collection every few calls. What the process built
    while starting (modules, settings) is frozen, so no collection rescans it."""
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
