"""`llm-provider serve` / `worker` subprocesses on free ports, wired to the test infrastructure, stopped by PID."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from llm_provider_service.infra.service_server import ServiceServer
from tests.kafka_settings import TEST_KAFKA_SESSION_TIMEOUT_MS

# Short timings keep the tier fast: a dead worker's lease runs out in 2 s, the reconciler and relay poll often,
# retries back off for tens of milliseconds instead of seconds.
FAST_PIPELINE_ENV: Mapping[str, str] = {
    "LLM_PROVIDER_LEASE_SECONDS": "2",
    "LLM_PROVIDER_RECONCILE_INTERVAL_SECONDS": "0.5",
    "LLM_PROVIDER_OUTBOX_POLL_INTERVAL_SECONDS": "0.05",
    "LLM_PROVIDER_RETRY_BASE_DELAY_SECONDS": "0.05",
    "LLM_PROVIDER_RETRY_MAX_DELAY_SECONDS": "0.5",
    "LLM_PROVIDER_SHUTDOWN_GRACE_SECONDS": "3",
    "LLM_PROVIDER_KAFKA_SESSION_TIMEOUT_MS": str(TEST_KAFKA_SESSION_TIMEOUT_MS),
    "LLM_PROVIDER_WORKER_CONCURRENCY": "32",
    "LLM_PROVIDER_LOG_LEVEL": "INFO",
}


def pipeline_env(
    *, redis_url: str, postgres_url: str, kafka_bootstrap_servers: str, extra: Mapping[str, str]
) -> dict[str, str]:
    """The processes' settings: real infrastructure, fast timings, `extra` last (nothing inherited)."""
    return {
        **FAST_PIPELINE_ENV,
        "LLM_PROVIDER_REDIS_URL": redis_url,
        "LLM_PROVIDER_DATABASE_URL": postgres_url,
        "LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        **extra,
    }


class ServiceProcess(ServiceServer):
    """One `llm-provider serve ...` or `llm-provider worker ...` child; `stop()` (SIGTERM) or `kill()` (SIGKILL)."""

    @property
    def running(self) -> bool:
        return self.is_running()

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_bytes()[-size:].decode(errors="replace") if self.log_path.exists() else ""


class ProcessGroup:
    """Starts processes sharing one set of settings and stops every one of them on exit, whatever happened."""

    def __init__(self, settings: Mapping[str, str], data_dir: Path) -> None:
        self._settings = dict(settings)
        self._data_dir = data_dir
        self._processes: list[ServiceProcess] = []

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> ServiceProcess:
        process = ServiceProcess(self._data_dir, *args, settings={**self._settings, **(env or {})})
        self._processes.append(process)
        process.start()
        return process

    def api(self, env: Mapping[str, str] | None = None) -> ServiceProcess:
        """`serve --no-worker`: HTTP API, outbox relay and reconciler, no worker."""
        return self.start("serve", "--no-worker", env=env)

    def worker(self, env: Mapping[str, str] | None = None, *, concurrency: int | None = None) -> ServiceProcess:
        extra = ("--concurrency", str(concurrency)) if concurrency else ()
        return self.start("worker", *extra, env=env)

    def logs(self) -> str:
        """The end of every process's log, for assertion messages."""
        return "\n".join(f"--- {p.log_path.name}\n{p.log_tail(2000)}" for p in self._processes)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for process in reversed(self._processes):
            process.stop()
