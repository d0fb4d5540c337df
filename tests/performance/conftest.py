"""Performance-tier fixtures: real Redis/PostgreSQL/Apache Kafka, the service as a subprocess, uvloop as the test loop.

Function-scoped fixtures (`perf_infra`, `service`) give each test a fresh database and an empty Redis; the
module-scoped ones (`module_infra`) back one expensive measured run whose facets several tests assert on.
Missing infrastructure skips locally and fails under CI, exactly like the shared fixtures in tests/conftest.py.
`host` measures the Python floor before each test and the host's CPU contention during it
(tests/performance/baseline.py): absolute bounds scale with them.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import uvloop

from llm_provider_service.infra import postgres_admin
from llm_provider_service.infra.redis_server import flush_database
from tests.conftest import REDIS_URL_ENV
from tests.performance.baseline import FloorServer, HostSpeed
from tests.performance.measure import Gate
from tests.performance.service import Infrastructure, ServiceProcess

PERFORMANCE_DIR = Path(__file__).parent
NOISE_RERUNS = 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A bound must fail twice in a row: one slow run on a shared two-core machine is noise, two are a finding.

    Re-running cannot hide a real regression (it measures again); module-scoped runs are not repeated.
    """
    for item in items:
        if item.path.is_relative_to(PERFORMANCE_DIR):
            item.add_marker(pytest.mark.flaky(reruns=NOISE_RERUNS))


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Callable[[], object]]:
    """The generator runs on uvloop, as the toolkit's CLI does, so its overhead stays out of the numbers."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture
def gate(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> Gate:
    """Asserts a measured value against its bound and records both (JUnit property, LLM_PROVIDER_PERF_LOG)."""
    return Gate(request.node.nodeid, record_property)


@pytest.fixture(scope="session")
def floor() -> Iterator[FloorServer]:
    """The Python floor (`llm_loadtest.infra.floor`) in its own process: the same-run measure of this host's speed."""
    with FloorServer() as server:
        yield server


@pytest.fixture
async def host(floor: FloorServer) -> HostSpeed:
    """This host's speed: the floor's rate before the test, the host's CPU contention during it; scales bounds."""
    return await floor.speed()


@pytest.fixture
def perf_infra(redis_url: str, postgres_url: str, kafka_bootstrap_servers: str) -> Infrastructure:
    """A fresh, migrated database, an empty Redis and the shared broker."""
    infra = Infrastructure(redis_url, postgres_url, kafka_bootstrap_servers)
    infra.migrate()
    return infra


@pytest.fixture
def start_service(perf_infra: Infrastructure, tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """`start_service(*args, **env)` starts `llm-provider <args>` on `perf_infra`; all are stopped at teardown."""
    started: list[ServiceProcess] = []

    def start(*args: str, **env: str) -> ServiceProcess:
        infra = Infrastructure(
            perf_infra.redis_url,
            perf_infra.postgres_url,
            perf_infra.kafka_bootstrap_servers,
            {f"LLM_PROVIDER_{name.upper()}": value for name, value in env.items()},
        )
        process = ServiceProcess(infra, tmp_path / f"svc-{len(started)}", *(args or ("serve",)))
        started.append(process)
        process.start()
        return process

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
def service(start_service: Callable[..., ServiceProcess]) -> ServiceProcess:
    """`llm-provider serve` (HTTP API + worker + relay) on real infrastructure, mock in performance mode."""
    return start_service("serve")


@pytest.fixture(scope="module")
def module_infra(
    request: pytest.FixtureRequest, postgres_template: tuple[str, str], kafka_bootstrap_servers: str
) -> Iterator[Infrastructure]:
    """Like `perf_infra`, for one module: its own database (dropped afterwards) and a flushed Redis."""
    redis_url = os.environ.get(REDIS_URL_ENV) or request.getfixturevalue("redis_server").url
    flush_database(redis_url)
    server_url, template = postgres_template
    name = f"perf_{uuid.uuid4().hex[:16]}"
    postgres_admin.create_database(server_url, name, template=template)
    infra = Infrastructure(
        redis_url,
        postgres_admin.asyncpg_url(postgres_admin.with_database(server_url, name)),
        kafka_bootstrap_servers,
    )
    infra.migrate()
    yield infra
    with contextlib.suppress(postgres_admin.DatabaseAdminError):
        postgres_admin.drop_database(server_url, name)
