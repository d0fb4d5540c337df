"""`llm-provider serve` / `worker` as subprocesses wired to real Redis, PostgreSQL and Apache Kafka, stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from llm_provider_service.adapters.sql_migrations import upgrade_database
from tests.e2e.service_process import free_port, llm_provider_command

READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class Infrastructure:
    """Where the service's Redis, PostgreSQL and Kafka live (loopback only)."""

    redis_url: str
    postgres_url: str
    kafka_bootstrap_servers: str
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def env(self, data_dir: Path) -> dict[str, str]:
        """The service's environment: real infrastructure, the mock in performance mode, quiet logs."""
        return {
            **os.environ,
            "LLM_PROVIDER_DATA_DIR": str(data_dir),
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


class ServiceProcess:
    """One `llm-provider` process (`serve [--no-worker]` or `worker`); a context manager that always stops it."""

    def __init__(self, infra: Infrastructure, data_dir: Path, *args: str) -> None:
        self.infra = infra
        self.args = args
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir / f"{args[0]}-{self.port}.log"
        self.ready_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("service not started")
        return self._process.pid

    @property
    def serves_http(self) -> bool:
        return self.args[0] == "serve"

    def start(self) -> ServiceProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [*llm_provider_command(), *self.args]
        if self.serves_http:
            argv += ["--port", str(self.port)]
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                argv, env=self.infra.env(self.data_dir), stdout=log, stderr=subprocess.STDOUT
            )
        if self.serves_http:
            self._wait_ready()
        self.ready_seconds = time.monotonic() - started
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.args[0]} exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.args[0]} not ready in {READY_TIMEOUT_SECONDS} s:\n{self.log_path.read_text()}")

    def stop(self) -> int:
        """SIGTERM (graceful drain), SIGKILL if the drain overruns; returns the exit code."""
        process, self._process = self._process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
