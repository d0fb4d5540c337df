"""The single SQLite writer: writes queued by many callers are committed together in one transaction (group commit).

aiosqlite pays one thread hop per statement (plus BEGIN and COMMIT); the raw sqlite3 module runs ~10x more
transactions per second. The writer owns one plain sqlite3 connection on its own thread and runs a whole batch
of queued writes there in one hop and one transaction. A caller's future resolves only after the batch's COMMIT
returned, so a write is durable before anyone sees it succeed. When the shared transaction fails, nothing of it
was applied: a transient failure (the database is unavailable) fails every caller in it; any other failure runs
each write again in its own transaction, so only the write that caused it sees its error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event, exc, pool
from sqlalchemy.engine import URL, make_url

from llm_provider_service.adapters.sql_engine import enable_sqlite_pragmas, is_transient_error
from llm_provider_service.domain.errors import StoreUnavailableError

T = TypeVar("T")
Write = Callable[[sa.Connection], Any]

MAX_BATCH = 256


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqliteWriter:
    """Runs `Write`s (sync functions of a connection) on one thread, many per transaction. Use `open` and `close`."""

    def __init__(self, url: str | URL, *, max_batch: int = MAX_BATCH, echo: bool = False) -> None:
        # The sync twin of the async URL: the same dialect family (aiosqlite's is a subclass of pysqlite's).
        self._url = make_url(url).set(drivername="sqlite+pysqlite")
        self._max_batch = max_batch
        self._echo = echo
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._engine: sa.Engine | None = None
        self._conn: sa.Connection | None = None
        self._pending: list[tuple[Write, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.transactions = 0  # committed batches; tests read it to see writes share transactions

    async def open(self) -> None:
        """Connect on the writer thread (a file that cannot be opened fails here) and start the writer task."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._connect)
        self._task = asyncio.create_task(self._run(), name="sqlite-writer")

    async def close(self) -> None:
        """Finish what is queued, then stop; later writes fail as unavailable."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await asyncio.get_running_loop().run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown(wait=True)

    async def write(self, write: Callable[[sa.Connection], T]) -> T:
        """Queue `write`; its result once the transaction it ran in has committed."""
        if self._closed or self._task is None or self._task.done():
            raise StoreUnavailableError("the store is closed", retry_after_seconds=1)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        self._wake.set()
        return await future

    # -- the writer task ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
                try:
                    outcomes = await loop.run_in_executor(self._thread, self._run_batch, [w for w, _ in batch])
                except BaseException as error:  # every caller must hear of it, then stop
                    outcomes = [(False, error)] * len(batch)
                    if not isinstance(error, Exception):
                        _settle(batch, outcomes)
                        raise
                _settle(batch, outcomes)
            if self._closed and not self._pending:
                return

    # -- on the writer thread -----------------------------------------------------------------------------

    def _connect(self) -> None:
        self._connection()

    def _connection(self) -> sa.Connection:
        if self._conn is None:
            if self._engine is None:
                # One connection, made and used on this thread only.
                self._engine = sa.create_engine(
                    self._url,
                    poolclass=pool.StaticPool,
                    echo=self._echo,
                    json_serializer=_json_dumps,
                    json_deserializer=orjson.loads,
                )
                event.listen(self._engine, "connect", enable_sqlite_pragmas)
            self._conn = self._engine.connect()
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _run_batch(self, writes: list[Write]) -> list[tuple[bool, Any]]:
        try:
            return [(True, result) for result in self._transaction(writes)]
        except Exception as error:  # noqa: BLE001 - handed to the callers, or narrowed down below
            if len(writes) == 1 or (isinstance(error, exc.DBAPIError) and is_transient_error(error)):
                return [(False, error)] * len(writes)
        # Not the database's fault but one write's (a constraint, a bug): find it, spare the others.
        outcomes: list[tuple[bool, Any]] = []
        for write in writes:
            try:
                outcomes.append((True, self._transaction([write])[0]))
            except Exception as error:  # noqa: BLE001 - handed to that write's caller
                outcomes.append((False, error))
        return outcomes

    def _transaction(self, writes: list[Write]) -> list[Any]:
        conn = self._connection()
        try:
            with conn.begin():  # commits at the end, rolls back on an exception
                results = [write(conn) for write in writes]
        except BaseException:
            if conn.invalidated or conn.closed:
                self._conn = None  # reconnect for the next batch
            raise
        self.transactions += 1
        return results


def _settle(batch: list[tuple[Write, asyncio.Future[Any]]], outcomes: list[tuple[bool, Any]]) -> None:
    for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
        if future.done():  # the caller was cancelled; its write ran (or failed) all the same
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
