"""The Kafka jar cache is used only when every jar matches its pinned sha256, and the pins cover the broker."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llm_provider_service.infra import kafka_dist
from llm_provider_service.infra.kafka_broker import consumer_session_timeout_ms, parse_broker_kind


def _jars(directory: Path, contents: dict[str, bytes]) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (directory / name).write_bytes(data)
    return {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}


def test_pins_cover_the_broker_the_storage_tool_and_logging() -> None:
    pinned = kafka_dist.pinned_checksums()
    version = kafka_dist.KAFKA_VERSION
    for jar in (f"kafka_2.13-{version}.jar", f"kafka-server-{version}.jar", f"kafka-clients-{version}.jar",
                f"kafka-storage-{version}.jar", f"log4j-slf4j-impl-{kafka_dist.LOG4J_VERSION}.jar"):  # fmt: skip
        assert jar in pinned
    assert all(len(digest) == 64 and int(digest, 16) >= 0 for digest in pinned.values())


def test_matching_jars_pass(tmp_path: Path) -> None:
    pinned = _jars(tmp_path, {"a.jar": b"a", "b.jar": b"b"})
    kafka_dist.verify(tmp_path, pinned)


def test_a_tampered_jar_is_refused(tmp_path: Path) -> None:
    pinned = _jars(tmp_path, {"a.jar": b"a", "b.jar": b"b"})
    (tmp_path / "b.jar").write_bytes(b"evil")
    with pytest.raises(kafka_dist.KafkaFetchError, match=r"unexpected \['b.jar'\]"):
        kafka_dist.verify(tmp_path, pinned)


def test_a_missing_or_extra_jar_is_refused(tmp_path: Path) -> None:
    pinned = _jars(tmp_path, {"a.jar": b"a"})
    with pytest.raises(kafka_dist.KafkaFetchError, match=r"missing \['c.jar'\]"):
        kafka_dist.verify(tmp_path, pinned | {"c.jar": "0" * 64})
    (tmp_path / "extra.jar").write_bytes(b"x")
    with pytest.raises(kafka_dist.KafkaFetchError, match=r"extra\.jar"):
        kafka_dist.verify(tmp_path, pinned)


def test_a_published_cache_is_used_without_maven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(kafka_dist.CACHE_DIR_ENV, str(tmp_path))
    libs = tmp_path / kafka_dist.KAFKA_VERSION / "libs"
    libs.mkdir(parents=True)
    monkeypatch.setenv("PATH", "")  # no mvn: fetching would fail
    assert kafka_dist.kafka_classpath() == libs


def test_cache_lives_outside_the_work_tree_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(kafka_dist.CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/someone")
    assert kafka_dist.cache_root() == Path("/var/cache/someone/llm-provider/kafka")


def test_broker_kinds_and_their_session_timeouts() -> None:
    assert parse_broker_kind(" Tansu ") == "tansu"
    assert consumer_session_timeout_ms("kafka") >= 6000  # Apache Kafka's group.min.session.timeout.ms
    assert consumer_session_timeout_ms("tansu") == 2000
    with pytest.raises(ValueError, match="unknown Kafka broker"):
        parse_broker_kind("redpanda")
