"""A private Apache Kafka 4.x broker: one node in KRaft combined mode (broker + controller), durable on disk.

Recipe (tested on these machines, Java 17): the jars come from `kafka_dist.kafka_classpath()`; a
`server.properties` with `process.roles=broker,controller`, a static one-voter quorum and loopback listeners is
written on every start; the log dir is formatted once (`kafka.tools.StorageTool format -t <cluster id> -c ...`,
about 2 s of JVM start); then `java -Xmx... -cp 'libs/*' kafka.Kafka server.properties` runs in the foreground.
The PLAINTEXT acceptor only opens once the broker is registered and unfenced, so "the port accepts" means ready.

Start takes about 2-5 s (plus 2 s the first time, to format). After a SIGKILL the new process waits for the old
registration to expire (`broker.session.timeout.ms`, 9 s by default; 3 s here) before it serves again. Topics and
committed offsets survive a restart, SIGKILL included. Consumers must use `session.timeout.ms >= 6000` (the
broker's `group.min.session.timeout.ms`). Stop with SIGTERM (controlled shutdown, about 1 s).
"""

from __future__ import annotations

import base64
import signal
import subprocess
import uuid
from pathlib import Path

from llm_provider_service.infra.kafka_dist import KAFKA_VERSION, java_binary, kafka_classpath
from llm_provider_service.infra.local_server import LOOPBACK, LocalServer, ServerStartError, free_port, port_accepts

# librdkafka's default is 45 s; Kafka's group minimum is 6 s. Tests and `infra env` use the minimum.
CONSUMER_SESSION_TIMEOUT_MS = 6000
DEFAULT_HEAP_MB = 512
_FORMAT_TIMEOUT_SECONDS = 60.0

_LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
      - name: org.apache.kafka.server.BrokerLifecycleManager
        level: INFO
"""


class ApacheKafkaBroker(LocalServer):
    """`kafka.Kafka` on `127.0.0.1:port` (controller on a second loopback port), data under `base_dir/data`."""

    name = "kafka"
    stop_signal = signal.SIGTERM

    def __init__(
        self,
        base_dir: Path,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        detached: bool = False,
        heap_mb: int = DEFAULT_HEAP_MB,
        version: str = KAFKA_VERSION,
    ) -> None:
        super().__init__(base_dir, port=port, detached=detached, start_timeout_seconds=60.0)
        self._controller_port = controller_port
        self.heap_mb = heap_mb
        self.version = version
        self._classpath = ""

    @property
    def url(self) -> str:
        """The bootstrap servers string, `127.0.0.1:PORT`."""
        return self.bootstrap_servers

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def controller_port(self) -> int:
        if self._controller_port is None:
            self._controller_port = free_port()
        return self._controller_port

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def _prepare(self) -> None:
        libs = kafka_classpath(self.version)  # fetched once per machine; a no-op afterwards
        self._classpath = f"{libs}/*"
        (self.base_dir / "server.properties").write_text(self._properties(), encoding="utf-8")
        (self.base_dir / "log4j2.yaml").write_text(_LOG4J2, encoding="utf-8")
        if not (self.data_dir / "meta.properties").exists():
            self._format()

    def _command(self) -> list[str]:
        return [
            *self._java(),
            f"-Dlog4j2.configurationFile={self.base_dir / 'log4j2.yaml'}",
            "kafka.Kafka",
            str(self.base_dir / "server.properties"),
        ]

    def _is_ready(self) -> bool:
        return port_accepts(self.port)

    def _java(self) -> list[str]:
        return [
            str(java_binary()),
            f"-Xms{min(64, self.heap_mb)}m",
            f"-Xmx{self.heap_mb}m",
            # Serial GC: fewer threads on a 2-core machine shared with the tests; a single small broker needs no more.
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            "-cp",
            self._classpath,
        ]

    def _format(self) -> None:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        command = [
            *self._java(),
            "-Dlog4j2.level=WARN",
            "kafka.tools.StorageTool", "format",
            f"--cluster-id={cluster_id}",  # one token: a base64 id may start with "-"
            f"--config={self.base_dir / 'server.properties'}",
            "--ignore-formatted",
        ]  # fmt: skip
        done = subprocess.run(  # noqa: S603 - fixed argument list
            command, capture_output=True, text=True, timeout=_FORMAT_TIMEOUT_SECONDS, check=False
        )
        if done.returncode != 0:
            raise ServerStartError(f"kafka storage format failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def _properties(self) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            # A static one-voter quorum: `StorageTool format` needs no --standalone/--initial-controllers then.
            "controller.quorum.voters": f"1@{LOOPBACK}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{LOOPBACK}:{self.port},CONTROLLER://{LOOPBACK}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "4",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # After a SIGKILL the restarted broker waits for its old registration to expire: keep that short.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.retention.hours": "24",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())
