"""SQLite on the event loop's own thread, behind the interface SQLAlchemy's aiosqlite dialect drives.

aiosqlite hands every cursor(), execute(), fetchall(), close() and commit() to a thread of its
own and wakes the loop when each is done: four round trips for one statement, each costing more
CPU than the statement itself (SQLite answers Rightly's indexed queries in microseconds). Here
each of those calls runs at once, on the caller's thread, and returns an already-finished
coroutine, so SQLAlchemy's async engine, sessions and dialect work unchanged.

The trade: while SQLite waits for another process's write lock, the loop waits too. Rightly's
write transactions last milliseconds and WAL keeps readers from blocking, so that wait is short;
``busy_timeout`` (set by the caller) bounds it. Deployments with many writers use PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any


class Cursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        self._cursor.execute(sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _Immediate:
    """Stands in for aiosqlite's queue to its thread: runs the function now and settles the future
    (SQLAlchemy sets the isolation level this way)."""

    __slots__ = ()

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class Connection:
    _tx = _Immediate()

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._conn: sqlite3.Connection | None = None

    def __await__(self) -> Any:
        return self._open().__await__()

    async def _open(self) -> Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self

    @property
    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._live.isolation_level

    async def cursor(self) -> Cursor:
        return Cursor(self._live.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        return Cursor(self._live.execute(sql, () if parameters is None else parameters))

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live.create_function(*args, **kwargs)

    async def commit(self) -> None:
        self._live.commit()

    async def rollback(self) -> None:
        self._live.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate; ``close`` does the same)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def connector(path: str, timeout: float) -> Callable[[], Awaitable[Connection]]:
    """An ``async_creator`` for ``create_async_engine``: one inline connection per call."""

    def open_connection() -> sqlite3.Connection:
        return sqlite3.connect(path, timeout=timeout, isolation_level="DEFERRED", check_same_thread=False)

    async def create() -> Connection:
        return await Connection(open_connection)

    return create
