"""`llm-provider infra up|down|status|env`: private Redis, PostgreSQL and Tansu that outlive the command.

`up` starts each service as a detached process (its own session) with data under `base_dir` (`.infra/`, git-ignored)
and records PIDs, ports and URLs in `base_dir/state.json`; `down` stops them by recorded PID (SIGINT for PostgreSQL
and Tansu, SIGTERM for Redis). A service whose URL is already in the environment (`LLM_PROVIDER_REDIS_URL`,
`LLM_PROVIDER_DATABASE_URL`, `LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS`) is not started; its URL is passed through.
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
from llm_provider_service.infra.kafka_broker import CONSUMER_SESSION_TIMEOUT_MS, TansuBroker
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
_STOP_SIGNALS = {"redis": signal.SIGTERM, "postgres": signal.SIGINT, "kafka": signal.SIGINT}
_STOP_TIMEOUT_SECONDS = 15.0


class InfraStateError(RuntimeError):
    """The infrastructure is not up (no state file) or its state file is unreadable."""


@dataclass(frozen=True, slots=True)
class InfraUrls:
    """Where the services are, as the service's settings expect them."""

    redis_url: str
    database_url: str
    kafka_bootstrap_servers: str


def up(base_dir: Path, *, environ: Mapping[str, str] | None = None) -> InfraUrls:
    """Start whatever is neither running already nor given by the environment; create the `llm_provider` database."""
    environ = os.environ if environ is None else environ
    base_dir = base_dir.resolve()
    state = _load(base_dir, missing_ok=True)
    for service in ENV_NAMES:
        entry: dict[str, Any] = state.get(service, {})
        given = environ.get(ENV_NAMES[service])
        if given:
            state[service] = {"url": given, "external": True}
        elif not _alive(entry):
            state[service] = _start(service, base_dir, entry.get("port"), entry.get("dir"))
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
        _stop_pid(entry["pid"], _STOP_SIGNALS[service])
        entry.pop("pid", None)
        stopped.append(service)
    if state:
        _save(base_dir, state)
    return stopped


def status(base_dir: Path) -> dict[str, dict[str, Any]]:
    """Per service: url, pid, whether the process runs and whether its port answers.

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
    return report


def env_lines(base_dir: Path) -> list[str]:
    """`export NAME=value` lines for a shell: the service URLs and the Tansu-friendly consumer session timeout."""
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
        # Tansu answers JoinGroup after max(1 s, session timeout / 2): keep it short locally.
        "LLM_PROVIDER_KAFKA_SESSION_TIMEOUT_MS": str(CONSUMER_SESSION_TIMEOUT_MS),
    }
    return [f"export {name}={value}" for name, value in values.items()]


# --- starting and stopping ----------------------------------------------------------------------------


def _start(service: str, base_dir: Path, port: int | None, recorded_dir: str | None) -> dict[str, Any]:
    if port is not None and port_accepts(port):
        port = None  # someone else took the recorded port meanwhile: take a new one rather than fail
    server: LocalServer
    if service == "redis":
        server = RedisServer(base_dir / "redis", port=port, durable=True, detached=True)
    elif service == "postgres":
        directory = Path(recorded_dir) if recorded_dir else _postgres_dir(base_dir)
        server = PostgresServer(directory, port=port, detached=True)
    else:
        server = TansuBroker(base_dir / "tansu", port=port, detached=True)
    server.start()
    pid = server.pid
    assert pid is not None  # noqa: S101 - start() returned, so the process runs
    logger.info("started %s (pid %d) at %s", service, pid, server.url)
    return {
        "url": server.url,
        "port": server.port,
        "pid": pid,
        "create_time": psutil.Process(pid).create_time(),
        "dir": str(server.base_dir),
    }


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
