"""Creating and dropping databases on a PostgreSQL server, callable from synchronous code (fixtures, the CLI).

asyncpg is the only PostgreSQL driver installed, so each call runs a short-lived event loop in a worker thread:
safe even when the calling thread already runs an event loop.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information


class DatabaseAdminError(RuntimeError):
    """The server could not be reached or refused the statement."""


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
T = TypeVar("T")


def asyncpg_url(url: str) -> str:
    """The SQLAlchemy URL the service uses (`postgresql+asyncpg://`) for any PostgreSQL URL."""
    scheme, _, rest = url.partition("://")
    if scheme not in {"postgres", "postgresql", "postgresql+asyncpg"}:
        raise ValueError(f"not a PostgreSQL URL: {scheme}://...")
    return f"postgresql+asyncpg://{rest}"


def libpq_url(url: str, *, database: str | None = None) -> str:
    """`postgresql+asyncpg://u@h:p/db` -> `postgresql://u@h:p/<database or db>` for asyncpg itself."""
    scheme, _, rest = url.partition("://")
    if not scheme.startswith("postgres"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://...")
    if database is not None:
        authority, _, tail = rest.partition("/")
        query = tail.partition("?")[2]
        rest = f"{authority}/{database}" + (f"?{query}" if query else "")
    return f"postgresql://{rest}"


def with_database(url: str, database: str) -> str:
    """The same URL (same scheme and driver) pointing at another database."""
    scheme, _, rest = url.partition("://")
    authority, _, tail = rest.partition("/")
    query = tail.partition("?")[2]
    return f"{scheme}://{authority}/{database}" + (f"?{query}" if query else "")


def create_database(server_url: str, name: str, *, template: str | None = None) -> None:
    """CREATE DATABASE `name` (optionally from `template`) through the maintenance database."""
    statement = f'CREATE DATABASE "{_checked(name)}"'
    if template is not None:
        statement += f' TEMPLATE "{_checked(template)}"'
    _run_sync(lambda: _execute(libpq_url(server_url, database="postgres"), statement))


def drop_database(server_url: str, name: str) -> None:
    """DROP DATABASE IF EXISTS `name`, disconnecting its remaining sessions."""
    statement = f'DROP DATABASE IF EXISTS "{_checked(name)}" WITH (FORCE)'
    _run_sync(lambda: _execute(libpq_url(server_url, database="postgres"), statement))


def database_exists(server_url: str, name: str) -> bool:
    async def query() -> bool:
        connection = await asyncpg.connect(libpq_url(server_url, database="postgres"), timeout=10)
        try:
            found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        finally:
            await connection.close()
        return found is not None

    return _run_sync(query)


def apply_reloadable_settings(server_url: str, settings: list[str]) -> None:
    """`ALTER SYSTEM SET name = 'value'` for each `NAME=VALUE`, then reload: only settings PostgreSQL can change
    without a restart (e.g. `synchronous_commit=off`, to see how much of a latency is the WAL flush)."""
    if not settings:
        return
    statements = []
    for setting in settings:
        name, value = setting.split("=", 1)
        statements.append(f"ALTER SYSTEM SET {_checked(name)} = '{value}'")  # benchmarks' own flags, not user input

    async def apply() -> None:
        connection = await asyncpg.connect(libpq_url(server_url), timeout=10)
        try:
            for statement in statements:
                await connection.execute(statement)
            await connection.execute("SELECT pg_reload_conf()")
        finally:
            await connection.close()

    _run_sync(apply)


async def _execute(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _checked(identifier: str) -> str:
    # Database names are interpolated into DDL (no bind parameters there), so only plain identifiers pass.
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"unsupported database name: {identifier!r}")
    return identifier


def _run_sync(make: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await make()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres-admin") as pool:
        try:
            return pool.submit(asyncio.run, main()).result()
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseAdminError(f"{type(exc).__name__}: {exc}") from exc
