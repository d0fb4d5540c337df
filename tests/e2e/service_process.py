"""Starts `llm-provider serve` as a user would, on a free port, and stops it by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

READY_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def llm_provider_command() -> list[str]:
    """The installed console script next to this interpreter."""
    script = Path(sys.executable).with_name("llm-provider")
    return [str(script)]


class ServiceProcess:
    """`llm-provider serve` in a subprocess; a context manager that always stops it."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._data_dir = data_dir
        self._args = args
        self._env = env or {}
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"serve-{self.port}.log"

    def start(self) -> ServiceProcess:
        env = {**os.environ, "LLM_PROVIDER_DATA_DIR": str(self._data_dir), **self._env}
        env.pop("LLM_PROVIDER_DATABASE_URL", None)
        env.pop("LLM_PROVIDER_REDIS_URL", None)
        env.pop("LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS", None)
        self._data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [*llm_provider_command(), "serve", "--port", str(self.port), *self._args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"serve not ready in {READY_TIMEOUT_SECONDS} s:\n{self.log_path.read_text()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_seconds: float = 20.0) -> int:
        if self._process is None:
            return 0
        if self._process.poll() is None:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        code = self._process.returncode
        self._process = None
        return code

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
