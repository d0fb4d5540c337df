"""`llm-provider serve` / `worker` as subprocesses wired to real Redis, PostgreSQL and Apache Kafka, stopped by PID."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from llm_provider_service.adapters.sql_migrations import upgrade_database
from llm_provider_service.infra.service_server import ServiceServer


@dataclass(frozen=True, slots=True)
class Infrastructure:
    """Where the service's Redis, PostgreSQL and Kafka live (loopback only)."""

    redis_url: str
    postgres_url: str
    kafka_bootstrap_servers: str
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def settings(self) -> dict[str, str]:
        """The service's settings: real infrastructure, the mock in performance mode, quiet logs."""
        return {
            "LLM_PROVIDER_DATABASE_URL": self.postgres_url,
            "LLM_PROVIDER_REDIS_URL": self.redis_url,
            "LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "LLM_PROVIDER_MOCK_PERFORMANCE_MODE": "true",
            # Short poll: other processes' outbox rows (a separate worker) are published promptly.
            "LLM_PROVIDER_OUTBOX_POLL_INTERVAL_SECONDS": "0.05",
            "LLM_PROVIDER_LOG_LEVEL": "WARNING",
            **self.extra_env,
        }

    def migrate(self) -> None:
        """PostgreSQL deployments run migrations before the service starts (`llm-provider db upgrade`)."""
        upgrade_database(self.postgres_url)


class ServiceProcess(ServiceServer):
    """One `llm-provider` process (`serve [--no-worker]` or `worker`) on `infra`; a context manager that stops it."""

    def __init__(self, infra: Infrastructure, data_dir: Path, *args: str) -> None:
        super().__init__(data_dir, *args, settings=infra.settings())
        self.infra = infra

    @property
    def pid(self) -> int:
        pid = super().pid
        if pid is None:
            raise RuntimeError("service not running")
        return pid
