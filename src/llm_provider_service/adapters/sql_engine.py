"""Engine construction for PostgreSQL (asyncpg) and SQLite (aiosqlite), and database errors -> domain errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, exc, pool
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from llm_provider_service.domain.errors import StoreUnavailableError

SQLITE_BUSY_TIMEOUT_MS = 5000
WAL_SWITCH_RETRY_SECONDS = 0.02
CONNECT_TIMEOUT_SECONDS = 5.0
# SQLSTATE classes that mean "try again later": connection exception, transaction rollback (serialization,
# deadlock), insufficient resources (too many connections), operator intervention (shutdown, starting up).
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57"})


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


SQLITE_READERS = 2


def enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed while one writer commits; busy_timeout makes writers queue instead of failing;
    # synchronous=NORMAL is durable across application crashes in WAL mode (only an OS crash may lose the tail).
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch a file to WAL once (the mode is stored in the file), tolerating a racing first open.

    Converting needs an exclusive lock, and SQLite answers "database is locked" at once, without its busy handler,
    when another connection holds the write lock (waiting could deadlock): several processes or engines opening a
    new file together hit that. A file already in WAL needs no conversion, so read the mode first and retry the
    switch for up to the busy timeout.
    """
    cursor.execute("PRAGMA journal_mode")
    row = cursor.fetchone()
    if row is not None and str(row[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception as error:  # the driver's OperationalError (sqlite3 or aiosqlite's adaptation)
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_SWITCH_RETRY_SECONDS)  # only a brand-new file's first connections ever wait here
        else:
            return


def create_engine(
    url: str | URL,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout_seconds: float = 10.0,
    echo: bool = False,
    pooled: bool = True,
    readonly: bool = False,
) -> AsyncEngine:
    """An async engine for `url`; the caller owns it and must `dispose()` it.

    `pooled=False` opens a connection per use (one-off work such as migrations); `readonly=True` builds the pool
    of SQLite read connections that sits beside the single writer."""
    options: dict[str, Any] = {
        "echo": echo,
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if not pooled:
        options["poolclass"] = pool.NullPool
    if is_sqlite(url):
        if readonly:
            # Readers never take the write lock (WAL), so a few of them can run beside the single writer. They are
            # autocommit from their first connect, with nothing to roll back on return: setting and resetting the
            # isolation level per checkout cost two aiosqlite thread hops per read, and the ROLLBACK that closing
            # a connection issues even in autocommit mode (a no-op for the driver) a third.
            options.update(
                pool_size=SQLITE_READERS, max_overflow=0, pool_timeout=pool_timeout_seconds,
                isolation_level="AUTOCOMMIT", pool_reset_on_return=None, skip_autocommit_rollback=True,
            )  # fmt: skip
        elif pooled:
            # SQLite has one writer at a time: several pooled connections would only contend for the file lock
            # and sleep in its busy handler. One connection serialises writes in-process, without sleeping.
            options.update(pool_size=1, max_overflow=0, pool_timeout=pool_timeout_seconds)
        engine = create_async_engine(url, **options)
        event.listen(engine.sync_engine, "connect", enable_sqlite_pragmas)
        return engine
    if pooled:
        options.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout_seconds)
    return create_async_engine(url, connect_args={"timeout": CONNECT_TIMEOUT_SECONDS}, **options)


def is_transient_error(error: exc.DBAPIError) -> bool:
    if error.connection_invalidated or isinstance(error, exc.OperationalError | exc.InterfaceError):
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES


@contextmanager
def store_errors(operation: str) -> Iterator[None]:
    """Translate "the database cannot be reached right now" into `StoreUnavailableError` (503, retry in 1 s).

    Anything else (a constraint the caller did not expect, a programming error) is a bug and propagates.
    """
    try:
        yield
    except exc.DBAPIError as error:
        if not is_transient_error(error):
            raise
        raise StoreUnavailableError(f"database unavailable ({operation})", retry_after_seconds=1) from error
    except (exc.TimeoutError, OSError) as error:
        # Pool exhausted, connection refused or connect timeout (TimeoutError is an OSError).
        raise StoreUnavailableError(f"database unavailable ({operation})", retry_after_seconds=1) from error
