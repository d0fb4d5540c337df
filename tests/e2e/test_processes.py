"""`llm-provider serve --processes 2`: two API processes answer on one port and all stop on one SIGTERM."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from llm_provider_service.adapters.sql_migrations import upgrade_database
from llm_provider_service.infra.service_server import ServiceServer, llm_provider_command, service_environment

pytestmark = pytest.mark.e2e

CONNECTIONS = 24  # each a new source port: all on one child by chance has probability 2**-23


def _listeners_with_connections(children: list[psutil.Process], port: int) -> dict[int, int]:
    """Established connections on `port`, per child PID (what the kernel's SO_REUSEPORT spread did)."""
    counts: dict[int, int] = {}
    for child in children:
        established = [
            c for c in child.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
        ]
        counts[child.pid] = len(established)
    return counts


def test_two_processes_share_one_port_and_stop_together(tmp_path: Path, redis_url: str, postgres_url: str) -> None:
    upgrade_database(postgres_url)
    settings = {"LLM_PROVIDER_REDIS_URL": redis_url, "LLM_PROVIDER_DATABASE_URL": postgres_url}
    with ServiceServer(tmp_path, "serve", "--processes", "2", settings=settings) as service:
        assert service.pid is not None
        supervisor = psutil.Process(service.pid)
        for _ in range(100):  # both children up (the first to be ready made the supervisor ready)
            children = supervisor.children()
            if len(children) == 2 and all(_ready(service.url) for _ in range(4)):
                break
            time.sleep(0.1)
        assert len(children) == 2
        clients = [httpx.Client(base_url=service.url, timeout=10) for _ in range(CONNECTIONS)]
        try:
            for client in clients:
                accepted = client.post("/api/v1/comparison", json={"user_prompt": "Essay A\n\nEssay B"})
                assert accepted.status_code == 202, accepted.text
            spread = _listeners_with_connections(children, service.port)
        finally:
            for client in clients:
                client.close()
        assert sorted(spread) == sorted(child.pid for child in children)
        assert all(count >= 1 for count in spread.values()), spread  # both processes answered
        assert sum(spread.values()) == CONNECTIONS
        assert service.stop() == 0  # one SIGTERM to the supervisor drains and stops every child
    assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_processes_on_the_embedded_queue_are_refused(tmp_path: Path) -> None:
    refused = subprocess.run(
        [*llm_provider_command(), "serve", "--processes", "2"],
        env=service_environment(tmp_path, {}),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert b"LLM_PROVIDER_REDIS_URL" in refused.stderr
