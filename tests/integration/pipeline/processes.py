"""`llm-provider serve` / `worker` subprocesses on free ports, wired to the test infrastructure, stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

from tests.e2e.service_process import free_port, llm_provider_command
from tests.kafka_settings import TEST_KAFKA_SESSION_TIMEOUT_MS

READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
_POLL_SECONDS = 0.05
_WORKER_STARTED = b"started with concurrency"

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
    *, redis_url: str, postgres_url: str, kafka_bootstrap_servers: str, data_dir: Path, extra: Mapping[str, str]
) -> dict[str, str]:
    """The process environment: inherited non-service variables, real infrastructure, fast timings, `extra` last."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("LLM_PROVIDER_")}
    return {
        **inherited,
        **FAST_PIPELINE_ENV,
        "LLM_PROVIDER_DATA_DIR": str(data_dir),
        "LLM_PROVIDER_REDIS_URL": redis_url,
        "LLM_PROVIDER_DATABASE_URL": postgres_url,
        "LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        **extra,
    }


class ServiceProcess:
    """One `llm-provider serve ...` or `llm-provider worker ...` child; `stop()` (SIGTERM) or `kill()` (SIGKILL)."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, *args: str) -> None:
        self.args = args
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{args[0]}-{self.port}.log"
        self._env = dict(env)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def serves_http(self) -> bool:
        return self.args[0] == "serve"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("process not started")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> ServiceProcess:
        argv = [*llm_provider_command(), *self.args]
        if self.serves_http:
            argv += ["--port", str(self.port)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(argv, env=self._env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.args[0]} exited early:\n{self.log_tail()}")
            if self._is_ready():
                return
            time.sleep(_POLL_SECONDS)
        raise RuntimeError(f"{self.args[0]} not ready in {READY_TIMEOUT_SECONDS} s:\n{self.log_tail()}")

    def _is_ready(self) -> bool:
        if not self.serves_http:
            return _WORKER_STARTED in self.log_path.read_bytes()
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_bytes()[-size:].decode(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int:
        """SIGTERM (graceful drain), SIGKILL if it overruns; returns the exit code."""
        return self._signal(signal.SIGTERM)

    def kill(self) -> int:
        """SIGKILL at once, as a crash would: no drain, no lease hand-back."""
        return self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> int:
        process, self._process = self._process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode


class ProcessGroup:
    """Starts processes sharing one environment and stops every one of them on exit, whatever happened."""

    def __init__(self, env: Mapping[str, str], log_dir: Path) -> None:
        self._env = dict(env)
        self._log_dir = log_dir
        self._processes: list[ServiceProcess] = []

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> ServiceProcess:
        process = ServiceProcess({**self._env, **(env or {})}, self._log_dir, *args)
        self._processes.append(process)
        return process.start()

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
