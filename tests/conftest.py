"""Shared fixtures: real Redis, PostgreSQL and a Kafka broker (Apache Kafka 4.x by default) for integration tests.

Each service comes from an environment URL if set (LLM_PROVIDER_TEST_REDIS_URL, LLM_PROVIDER_TEST_POSTGRES_URL,
LLM_PROVIDER_TEST_KAFKA_BOOTSTRAP_SERVERS), else from a private, session-scoped instance started from local binaries
on a free loopback port (`llm_provider_service.infra`). A missing binary skips the test locally and fails it when
the CI variable is set. `redis_server`, `postgres_server` and `kafka_broker` expose the private launchers so that
fault-injection tests can stop and start them (the URL stays the same); the function-scoped URL fixtures start a
stopped private server again, so one test's fault does not leak into the next.

The private broker is Apache Kafka (KRaft, one node, durable) unless LLM_PROVIDER_TEST_KAFKA_BROKER=tansu picks the
fast, memory-only Tansu for a quick local loop. `TEST_KAFKA_SESSION_TIMEOUT_MS` is the consumer session timeout the
chosen broker allows (6000 on Kafka, 2000 on Tansu); consumers use `fetch.wait.max.ms=10` on both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

from llm_provider_service.infra import postgres_admin
from llm_provider_service.infra.binaries import MissingBinaryError
from llm_provider_service.infra.kafka_broker import KafkaBroker, make_broker
from llm_provider_service.infra.local_server import LocalServer, make_base_dir
from llm_provider_service.infra.postgres_server import PostgresServer
from llm_provider_service.infra.redis_server import RedisServer, flush_database
from tests.kafka_settings import TEST_KAFKA_BROKER

REDIS_URL_ENV = "LLM_PROVIDER_TEST_REDIS_URL"
POSTGRES_URL_ENV = "LLM_PROVIDER_TEST_POSTGRES_URL"
KAFKA_ENV = "LLM_PROVIDER_TEST_KAFKA_BOOTSTRAP_SERVERS"
ServerT = TypeVar("ServerT", bound=LocalServer)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"required test infrastructure is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def _running(server: ServerT) -> Iterator[ServerT]:
    try:
        server.start()
    except MissingBinaryError as exc:
        _unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def infra_dir() -> Iterator[Path]:
    """A session directory under the system temp dir that the `postgres` OS user can enter (unlike tmp_path)."""
    base_dir = make_base_dir("llm-provider-test-")
    yield base_dir
    shutil.rmtree(base_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(infra_dir: Path) -> Iterator[RedisServer]:
    yield from _running(RedisServer(infra_dir / "redis"))


@pytest.fixture(scope="session")
def postgres_server(infra_dir: Path) -> Iterator[PostgresServer]:
    # fsync=off and friends: fast, and fine for tests that do not restart the machine.
    yield from _running(PostgresServer(infra_dir / "postgres", fast=True))


@pytest.fixture(scope="session")
def kafka_broker(infra_dir: Path) -> Iterator[KafkaBroker]:
    yield from _running(make_broker(TEST_KAFKA_BROKER, infra_dir / TEST_KAFKA_BROKER))


def _private(request: pytest.FixtureRequest, fixture_name: str) -> LocalServer:
    server: LocalServer = request.getfixturevalue(fixture_name)
    server.start()  # a no-op unless an earlier fault-injection test left it stopped
    return server


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """A Redis URL whose database is empty at the start of the test."""
    url = os.environ.get(REDIS_URL_ENV) or _private(request, "redis_server").url
    flush_database(url)
    return url


@pytest.fixture(scope="session")
def postgres_template(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(server URL, name of an empty template database) for cheap per-test databases."""
    server_url = os.environ.get(POSTGRES_URL_ENV) or _private(request, "postgres_server").url
    template = f"llm_provider_template_{uuid.uuid4().hex[:8]}"
    postgres_admin.create_database(server_url, template)
    yield server_url, template
    with contextlib.suppress(postgres_admin.DatabaseAdminError):
        postgres_admin.drop_database(server_url, template)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, postgres_template: tuple[str, str]) -> Iterator[str]:
    """`postgresql+asyncpg://` URL of a fresh, empty database for this test (dropped afterwards)."""
    server_url, template = postgres_template
    if not os.environ.get(POSTGRES_URL_ENV):
        _private(request, "postgres_server")
    name = f"test_{uuid.uuid4().hex[:16]}"
    postgres_admin.create_database(server_url, name, template=template)
    yield postgres_admin.asyncpg_url(postgres_admin.with_database(server_url, name))
    # The server may be down after a fault-injection test; an orphaned test database is harmless.
    with contextlib.suppress(postgres_admin.DatabaseAdminError):
        postgres_admin.drop_database(server_url, name)


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(request: pytest.FixtureRequest) -> str:
    """`127.0.0.1:PORT` of a Kafka-protocol broker; use unique topic names per test."""
    return os.environ.get(KAFKA_ENV) or _private(request, "kafka_broker").url
