"""An unreachable database surfaces as `StoreUnavailableError` (503, retry in 1 s), never a library error."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.domain.errors import StoreUnavailableError
from tests.unit.store.contract import make_job


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_postgresql_on_a_closed_port_is_unavailable() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/nothing"

    async with SqlJobStore.from_url(url) as store:
        with pytest.raises(StoreUnavailableError) as raised:
            await store.add(make_job())
        with pytest.raises(StoreUnavailableError):
            await store.get("x")
        with pytest.raises(StoreUnavailableError):
            await store.ping()

    assert raised.value.retry_after_seconds == 1


async def test_a_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "store.db").mkdir()  # a directory where the database file should be

    with pytest.raises(StoreUnavailableError):
        async with SqlJobStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"):
            pass
