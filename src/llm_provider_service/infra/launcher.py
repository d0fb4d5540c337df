"""`llm-provider infra up|down|status|env`: private Redis, PostgreSQL and a Kafka broker that outlive the command.

The broker is Apache Kafka (KRaft, one node, jars fetched once by Maven) unless `up(kafka="tansu")` asks for Tansu.
`up` starts each service as a detached process (its own session) with data under `base_dir` (`.infra/`, git-ignored)
and records PIDs, ports and URLs in `base_dir/state.json`; `down` stops them by recorded PID (SIGINT for PostgreSQL
and Tansu, SIGTERM for Redis and Apache Kafka). A service whose URL is already in the environment
(`LLM_PROVIDER_REDIS_URL`, `LLM_PROVIDER_DATABASE_URL`, `LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS`) is not started; its URL
is passed through.
Ports are kept in the state file, so `down` then `up` gives the same URLs again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from llm_provider_service.infra import postgres_admin
from llm_provider_service.infra.apache_kafka import ApacheKafkaBroker
from llm_provider_service.infra.kafka_broker import (
    DEFAULT_BROKER,
    BrokerKind,
    broker_description,
    consumer_session_timeout_ms,
    make_broker,
    parse_broker_kind,
)
from llm_provider_service.infra.local_server import LocalServer, port_accepts
from llm_provider_service.infra.postgres_server import PostgresServer, server_can_enter
from llm_provider_service.infra.redis_server import RedisServer

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"
DATABASE_NAME = "llm_provider"
ENV_NAMES = {
    "redis": "LLM_PROVIDER_REDIS_URL",
    "postgres": "LLM_PROVIDER_DATABASE_URL",
    "kafka": "LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS",
}
_STOP_SIGNALS = {"redis": signal.SIGTERM, "postgres": signal.SIGINT}
_STOP_TIMEOUT_SECONDS = 15.0


class InfraStateError(RuntimeError):
    """The infrastructure is not up (no state file) or its state file is unreadable."""


@dataclass(frozen=True, slots=True)
class InfraUrls:
    """Where the services are, as the service's settings expect them."""

    redis_url: str
    database_url: str
    kafka_bootstrap_servers: str


def up(base_dir: Path, *, environ: Mapping[str, str] | None = None, kafka: BrokerKind = DEFAULT_BROKER) -> InfraUrls:
    """Start whatever is neither running already nor given by the environment; create the `llm_provider` database.

    `kafka` picks the broker; a running broker of the other kind is stopped and replaced.
    """
    environ = os.environ if environ is None else environ
    base_dir = base_dir.resolve()
    state = _load(base_dir, missing_ok=True)
    for service in ENV_NAMES:
        entry: dict[str, Any] = state.get(service, {})
        given = environ.get(ENV_NAMES[service])
        if given:
            state[service] = {"url": given, "external": True}
            continue
        if service == "kafka" and entry and entry.get("kind", "tansu") != kafka:
            if _alive(entry):
                _stop_pid(entry["pid"], _stop_signal(service, entry))
            entry = {}  # another broker's ports and files: start afresh
        if not _alive(entry):
            state[service] = _start(service, base_dir, entry, kafka)
        _save(base_dir, state)  # after each start, so `down` can stop what did start if a later one fails
    database_url = state["postgres"]["url"]
    if not state["postgres"].get("external"):
        server_url = database_url
        database_url = postgres_admin.with_database(server_url, DATABASE_NAME)
        if not postgres_admin.database_exists(server_url, DATABASE_NAME):
            postgres_admin.create_database(server_url, DATABASE_NAME)
    return InfraUrls(
        redis_url=state["redis"]["url"], database_url=database_url, kafka_bootstrap_servers=state["kafka"]["url"]
    )


def down(base_dir: Path) -> list[str]:
    """Stop the services `up` started (by recorded PID); returns the names of those stopped."""
    base_dir = base_dir.resolve()
    state = _load(base_dir, missing_ok=True)
    stopped: list[str] = []
    for service, entry in state.items():
        if entry.get("external") or not _alive(entry):
            entry.pop("pid", None)
            continue
        _stop_pid(entry["pid"], _stop_signal(service, entry))
        entry.pop("pid", None)
        stopped.append(service)
    if state:
        _save(base_dir, state)
    return stopped


def status(base_dir: Path) -> dict[str, dict[str, Any]]:
    """Per service: url, pid, whether the process runs and whether its port answers; for Kafka also which broker.

    `running` and `answers` describe processes `up` started; a service given by the environment is `external`.
    """
    state = _load(base_dir.resolve(), missing_ok=True)
    report: dict[str, dict[str, Any]] = {}
    for service in ENV_NAMES:
        entry = state.get(service)
        if entry is None:
            report[service] = {"url": None, "pid": None, "running": False, "answers": False, "external": False}
            continue
        external = bool(entry.get("external"))
        running = _alive(entry)
        report[service] = {
            "url": entry["url"],
            "pid": entry.get("pid") if running else None,
            "running": running,
            "answers": running and port_accepts(entry["port"]),
            "external": external,
        }
        if service == "kafka" and not external:
            report[service] |= broker_description(parse_broker_kind(entry.get("kind", "tansu")))
    return report


def env_lines(base_dir: Path) -> list[str]:
    """`export NAME=value` lines for a shell: the service URLs and the shortest session timeout the broker allows."""
    state = _load(base_dir.resolve(), missing_ok=False)
    missing = [service for service in ENV_NAMES if service not in state]
    if missing:
        raise InfraStateError(f"no URL recorded for {', '.join(missing)}; run `llm-provider infra up`")
    postgres = state["postgres"]
    database_url = postgres["url"]
    if not postgres.get("external"):
        database_url = postgres_admin.with_database(database_url, DATABASE_NAME)
    values = {
        ENV_NAMES["redis"]: state["redis"]["url"],
        ENV_NAMES["postgres"]: database_url,
        ENV_NAMES["kafka"]: state["kafka"]["url"],
        # Short locally (quick group joins); an external broker is taken to be Apache Kafka (minimum 6 s).
        "LLM_PROVIDER_KAFKA_SESSION_TIMEOUT_MS": str(consumer_session_timeout_ms(_kind(state["kafka"]))),
    }
    return [f"export {name}={value}" for name, value in values.items()]


# --- starting and stopping ----------------------------------------------------------------------------


def _start(service: str, base_dir: Path, recorded: Mapping[str, Any], kafka: BrokerKind) -> dict[str, Any]:
    port = _free_or_none(recorded.get("port"))
    recorded_dir = recorded.get("dir")
    extra: dict[str, Any] = {}
    server: LocalServer
    if service == "redis":
        server = RedisServer(base_dir / "redis", port=port, durable=True, detached=True)
    elif service == "postgres":
        directory = Path(recorded_dir) if recorded_dir else _postgres_dir(base_dir)
        server = PostgresServer(directory, port=port, detached=True)
    else:
        controller_port = _free_or_none(recorded.get("controller_port"))
        broker = make_broker(kafka, base_dir / kafka, port=port, controller_port=controller_port, detached=True)
        extra = {"kind": kafka, "stop_signal": broker.stop_signal.name}
        if isinstance(broker, ApacheKafkaBroker):
            extra["controller_port"] = broker.controller_port
        server = broker
    started = time.monotonic()
    server.start()
    pid = server.pid
    assert pid is not None  # noqa: S101 - start() returned, so the process runs
    logger.info("started %s (pid %d) at %s in %.1f s", service, pid, server.url, time.monotonic() - started)
    return {
        "url": server.url,
        "port": server.port,
        "pid": pid,
        "create_time": psutil.Process(pid).create_time(),
        "dir": str(server.base_dir),
        **extra,
    }


def _free_or_none(port: int | None) -> int | None:
    # Someone else took the recorded port meanwhile: take a new one rather than fail.
    return None if port is None or port_accepts(port) else port


def _kind(entry: Mapping[str, Any]) -> BrokerKind:
    # State files from before the broker choice existed recorded Tansu; an external broker counts as Apache Kafka.
    if entry.get("external"):
        return "kafka"
    return parse_broker_kind(entry.get("kind", "tansu"))


def _stop_signal(service: str, entry: Mapping[str, Any]) -> signal.Signals:
    if service == "kafka":
        return signal.Signals[entry.get("stop_signal", "SIGINT")]
    return _STOP_SIGNALS[service]


def _postgres_dir(base_dir: Path) -> Path:
    if server_can_enter(base_dir):
        return base_dir / "postgres"
    # As root, PostgreSQL runs as `postgres`, which cannot enter e.g. a project under /root (0700).
    digest = hashlib.sha256(str(base_dir).encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"llm-provider-infra-{digest}"
    fallback.mkdir(mode=0o711, exist_ok=True)
    logger.warning("PostgreSQL cannot enter %s; its data goes to %s", base_dir, fallback)
    return fallback / "postgres"


def _alive(entry: Mapping[str, Any]) -> bool:
    """Whether the recorded process still runs (same PID *and* start time: PIDs are reused)."""
    pid = entry.get("pid")
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        return (
            abs(process.create_time() - entry.get("create_time", 0.0)) < 0.01
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:
        return False


def _stop_pid(pid: int, stop_signal: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, stop_signal)
    deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.02)
    if _running(pid):
        logger.warning("pid %d did not stop within %.0f s; killing it", pid, _STOP_TIMEOUT_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    # When `up` ran in this very process the server is our child: reap it so it does not linger as a zombie.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# --- state file ---------------------------------------------------------------------------------------


def _load(base_dir: Path, *, missing_ok: bool) -> dict[str, dict[str, Any]]:
    path = base_dir / STATE_FILE
    try:
        state: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        if missing_ok:
            return {}
        raise InfraStateError(f"{path} not found; run `llm-provider infra up`") from exc
    except (OSError, ValueError) as exc:
        raise InfraStateError(f"cannot read {path}: {exc}") from exc
    return state


def _save(base_dir: Path, state: Mapping[str, Any]) -> None:
    base_dir.mkdir(parents=True, exist_ok=True)
    path = base_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(path)
