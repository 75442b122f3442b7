"""Serving the emulator over a real socket with uvicorn (the CLI, socket tests, benchmarks)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from rightly.emulator.app import DroppedConnection, EmulatorApp


class _QuietDrops(logging.Filter):
    """Drop faults are deliberate: keep their tracebacks out of uvicorn's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


_QUIET_DROPS = _QuietDrops()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; ``port=0`` picks a free one. OSError if the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # accepted sockets inherit it. Without it, Nagle and delayed ACKs add ~40 ms to every answer
    # on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(app: EmulatorApp, **config: Any) -> uvicorn.Server:
    # h11, uvicorn's pure-Python parser, whatever else is installed: the emulator needs no
    # compiled dependency of its own.
    settings: dict[str, Any] = {"lifespan": "off", "ws": "none", "http": "h11", "log_level": "warning"}
    settings.update(config)
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    logging.getLogger("uvicorn.error").addFilter(_QUIET_DROPS)  # after Config, which sets up logging
    return server


@asynccontextmanager
async def serving(app: EmulatorApp, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` on a socket in this event loop; yields the server's root URL (no region)."""
    sock = bind(host, port)
    server = make_server(app, log_config=None)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)
        yield base_url(sock)
    finally:
        server.should_exit = True
        await task
        sock.close()
