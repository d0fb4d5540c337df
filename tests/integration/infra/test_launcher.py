"""`infra up|status|env|down`: detached services that outlive the command, stopped by recorded PID."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

from llm_provider_service.infra import launcher, postgres_admin
from llm_provider_service.infra.kafka_broker import TANSU_VERSION
from llm_provider_service.infra.kafka_dist import KAFKA_VERSION
from llm_provider_service.infra.local_server import make_base_dir, port_accepts

pytestmark = pytest.mark.integration

_UP = (
    "import sys; from pathlib import Path; from llm_provider_service.infra import launcher; "
    "launcher.up(Path(sys.argv[1]), kafka=sys.argv[2])"
)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LLM_PROVIDER_")}
    return env | extra


def _up_in_subprocess(base_dir: Path, kafka: str = "kafka", **extra_env: str) -> None:
    # As the CLI does: the command exits, the services must keep running.
    subprocess.run(
        [sys.executable, "-c", _UP, str(base_dir), kafka], check=True, env=_clean_env(**extra_env), timeout=120
    )


@pytest.fixture
def infra_base_dir() -> Iterator[Path]:
    base_dir = make_base_dir("llm-provider-infra-test-")
    yield base_dir
    launcher.down(base_dir)  # whatever a failed test left running
    shutil.rmtree(base_dir, ignore_errors=True)


def test_up_status_env_down(infra_base_dir: Path) -> None:
    _up_in_subprocess(infra_base_dir)

    report = launcher.status(infra_base_dir)
    assert all(service["running"] and service["answers"] for service in report.values()), report
    assert (report["kafka"]["broker"], report["kafka"]["version"]) == ("apache-kafka", KAFKA_VERSION)

    exports = dict(line.removeprefix("export ").split("=", 1) for line in launcher.env_lines(infra_base_dir))
    assert exports["LLM_PROVIDER_KAFKA_SESSION_TIMEOUT_MS"] == "6000"  # Apache Kafka's group minimum
    assert exports["LLM_PROVIDER_DATABASE_URL"].endswith("/llm_provider")
    assert exports["LLM_PROVIDER_DATABASE_URL"].startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    assert exports["LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS"].startswith("127.0.0.1:")
    with redis.Redis.from_url(exports["LLM_PROVIDER_REDIS_URL"]) as client:
        assert client.ping()
    server_url = postgres_admin.with_database(exports["LLM_PROVIDER_DATABASE_URL"], "postgres")
    assert postgres_admin.database_exists(server_url, "llm_provider")

    pids = [service["pid"] for service in report.values()]
    assert sorted(launcher.down(infra_base_dir)) == ["kafka", "postgres", "redis"]
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)
    report = launcher.status(infra_base_dir)
    assert not any(service["running"] for service in report.values())
    assert not port_accepts(int(exports["LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1]))


def test_up_again_reuses_ports_and_keeps_running_services(infra_base_dir: Path) -> None:
    _up_in_subprocess(infra_base_dir)
    first = launcher.status(infra_base_dir)
    _up_in_subprocess(infra_base_dir)
    assert launcher.status(infra_base_dir) == first  # nothing restarted

    launcher.down(infra_base_dir)
    _up_in_subprocess(infra_base_dir)
    again = launcher.status(infra_base_dir)
    assert {name: service["url"] for name, service in again.items()} == {
        name: service["url"] for name, service in first.items()
    }


def test_urls_from_the_environment_are_honoured(infra_base_dir: Path) -> None:
    given = "redis://127.0.0.1:1/0"
    _up_in_subprocess(infra_base_dir, kafka="tansu", LLM_PROVIDER_REDIS_URL=given)  # the broker is not the point

    report = launcher.status(infra_base_dir)
    assert report["redis"]["external"]
    assert not report["redis"]["running"]
    assert f"export LLM_PROVIDER_REDIS_URL={given}" in launcher.env_lines(infra_base_dir)
    assert sorted(launcher.down(infra_base_dir)) == ["kafka", "postgres"]


def test_env_before_up_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(launcher.InfraStateError, match="infra up"):
        launcher.env_lines(tmp_path)


def test_tansu_is_selectable_and_replaces_a_running_kafka(infra_base_dir: Path) -> None:
    _up_in_subprocess(infra_base_dir)
    kafka_pid = launcher.status(infra_base_dir)["kafka"]["pid"]

    _up_in_subprocess(infra_base_dir, kafka="tansu")
    report = launcher.status(infra_base_dir)["kafka"]
    assert (report["broker"], report["version"], report["answers"]) == ("tansu", TANSU_VERSION, True)
    assert not (psutil.pid_exists(kafka_pid) and psutil.Process(kafka_pid).status() != psutil.STATUS_ZOMBIE)
    exports = dict(line.removeprefix("export ").split("=", 1) for line in launcher.env_lines(infra_base_dir))
    assert exports["LLM_PROVIDER_KAFKA_SESSION_TIMEOUT_MS"] == "2000"  # Tansu joins groups after session / 2
    assert "kafka" in launcher.down(infra_base_dir)


def test_cli_rejects_an_unknown_broker(infra_base_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llm_provider_service", "infra", "up", "--directory", str(infra_base_dir),
         "--kafka", "redpanda"],
        capture_output=True, text=True, env=_clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown Kafka broker" in done.stderr
    assert not (infra_base_dir / launcher.STATE_FILE).exists()  # nothing was started
