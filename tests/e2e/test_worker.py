"""`llm-provider worker` as a subprocess: it exports its metrics and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.service_process import free_port, llm_provider_command

pytestmark = pytest.mark.e2e


def test_worker_serves_metrics_and_drains_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LLM_PROVIDER_DATA_DIR": str(tmp_path)}
    for name in ("LLM_PROVIDER_DATABASE_URL", "LLM_PROVIDER_REDIS_URL", "LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS"):
        env.pop(name, None)
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [*llm_provider_command(), "worker", "--metrics-port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline and "llm_provider_outbox_backlog" not in text:
            assert process.poll() is None, (tmp_path / "worker.log").read_text()
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except httpx.TransportError:
                time.sleep(0.05)
        assert "llm_provider_outbox_backlog" in text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
