"""Pipeline fixtures: a migrated database, an empty Redis, unique callback topics and a process group per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from llm_provider_service.adapters.kafka_events import ensure_topics
from llm_provider_service.adapters.sql_migrations import upgrade_database_async
from llm_provider_service.infra.local_server import LocalServer
from tests.conftest import KAFKA_ENV, POSTGRES_URL_ENV, REDIS_URL_ENV
from tests.integration.pipeline.processes import ProcessGroup, pipeline_env
from tests.kafka_consumer import CallbackCollector

TOPIC_PARTITIONS = 4
StoppableServer = Callable[[str], LocalServer]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Where one test's service processes point: its database, the Redis and broker, its own topics."""

    redis_url: str
    postgres_url: str
    kafka_bootstrap_servers: str
    callback_topic: str
    circuit_topic: str
    directory: Path

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return pipeline_env(
            redis_url=self.redis_url,
            postgres_url=self.postgres_url,
            kafka_bootstrap_servers=self.kafka_bootstrap_servers,
            extra={"LLM_PROVIDER_TOPIC_CIRCUIT_STATE_CHANGED": self.circuit_topic, **(extra or {})},
        )

    def processes(self, extra: Mapping[str, str] | None = None) -> ProcessGroup:
        return ProcessGroup(self.env(extra), self.directory / "data")

    def collector(self, *topics: str) -> CallbackCollector:
        return CallbackCollector(self.kafka_bootstrap_servers, list(topics) or [self.callback_topic])


@pytest.fixture
async def pipeline(redis_url: str, postgres_url: str, kafka_bootstrap_servers: str, tmp_path: Path) -> Pipeline:
    """Migrations applied (deployments run `llm-provider db upgrade` first) and this test's topics created."""
    await upgrade_database_async(postgres_url)
    suffix = uuid.uuid4().hex[:12]
    setup = Pipeline(
        redis_url=redis_url,
        postgres_url=postgres_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        callback_topic=f"pipeline.callbacks.{suffix}",
        circuit_topic=f"pipeline.circuit.{suffix}",
        directory=tmp_path,
    )
    await ensure_topics(
        kafka_bootstrap_servers, [setup.callback_topic, setup.circuit_topic], partitions=TOPIC_PARTITIONS
    )
    return setup


@pytest.fixture
def stoppable(request: pytest.FixtureRequest) -> Iterator[StoppableServer]:
    """`stoppable("redis"|"postgres"|"kafka")`: the private server (skips if an env URL names a shared one).

    Whatever the test did, every server it fetched runs again at teardown, so a fault never leaks into the next test.
    """
    names = {
        "redis": (REDIS_URL_ENV, "redis_server"),
        "postgres": (POSTGRES_URL_ENV, "postgres_server"),
        "kafka": (KAFKA_ENV, "kafka_broker"),
    }
    fetched: list[LocalServer] = []

    def get(name: str) -> LocalServer:
        env_name, fixture_name = names[name]
        if os.environ.get(env_name):
            pytest.skip(f"{env_name} points at a shared server; fault injection needs a private one")
        server: LocalServer = request.getfixturevalue(fixture_name)
        fetched.append(server)
        return server

    yield get
    for server in fetched:
        server.start()  # a no-op when it is running


@pytest.fixture
async def callbacks(pipeline: Pipeline) -> AsyncIterator[CallbackCollector]:
    """A consumer of this test's callback topic, already assigned its partitions."""
    async with pipeline.collector() as collector:
        await collector.wait_assigned()
        yield collector
