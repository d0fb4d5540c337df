"""`llm-provider mock-server` as a subprocess on a free port, so a service under test can use it as a vendor."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from tests.e2e.service_process import free_port, llm_provider_command

READY_TIMEOUT_SECONDS = 20.0


class MockServerProcess:
    def __init__(self, log_dir: Path, *, env: Mapping[str, str] | None = None) -> None:
        """`env`: the server's own `LLM_PROVIDER_MOCK_*` settings (e.g. fault rates); nothing else is inherited."""
        self.port = free_port()
        self._env = dict(env or {})
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_dir / f"mock-server-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MockServerProcess:
        env = {name: value for name, value in os.environ.items() if not name.startswith("LLM_PROVIDER_")}
        env.update(self._env)
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [*llm_provider_command(), "mock-server", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mock server exited: {self._log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self._stop()
        raise RuntimeError("mock server did not start listening")

    def _stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=5)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()
