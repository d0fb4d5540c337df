"""`llm-provider worker` as a subprocess: it exports its metrics and stops cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from llm_provider_service.infra.service_server import ServiceServer

pytestmark = pytest.mark.e2e


def test_worker_serves_metrics_and_drains_on_sigterm(tmp_path: Path) -> None:
    with ServiceServer(tmp_path, "worker") as worker:  # ready once its --metrics-port answers
        text = httpx.get(f"{worker.url}/metrics", timeout=5).text
        assert "llm_provider_outbox_backlog" in text
        assert worker.stop() == 0  # SIGTERM: stop claiming, drain, exit cleanly
