"""Submitting comparison jobs over HTTP, reading the store directly, and checking callbacks for exactly-once."""

from __future__ import annotations

import asyncio
import collections
import itertools
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import redis.asyncio as redis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from llm_provider_service.adapters.redis_keys import QueueKeys
from tests.integration.pipeline.callback_schema import validate_callback
from tests.kafka_consumer import ReceivedEvent

PROMPT = "Which essay argues better?\n\nEssay A: {n} Cats sleep a lot.\n\nEssay B: {n} Dogs need long walks."


def comparison_body(topic: str, number: int, *, mock: Mapping[str, Any] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"test_number": number}
    if mock is not None:
        metadata["mock"] = dict(mock)
    return {
        "user_prompt": PROMPT.format(n=number),
        "callback_topic": topic,
        "correlation_id": str(uuid.uuid4()),
        "metadata": metadata,
    }


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer to a submission."""

    status: int
    body: dict[str, Any]
    retry_after: str | None
    content_type: str


async def submit(client: httpx.AsyncClient, body: Mapping[str, Any]) -> Answer:
    response = await client.post("/api/v1/comparison", json=dict(body))
    return Answer(
        response.status_code,
        response.json(),
        response.headers.get("retry-after"),
        response.headers.get("content-type", ""),
    )


async def submit_many(
    base_url: str,
    topic: str,
    count: int,
    *,
    clients: int = 8,
    mock: Mapping[str, Any] | None = None,
    pause_seconds: float = 0.0,
) -> list[str]:
    """`count` jobs from `clients` concurrent tasks (one connection pool each); the accepted queue ids.

    `pause_seconds` after each submission paces the load, so it lasts about as long on a fast host as on a slow one."""
    numbers = iter(range(count))
    accepted: list[str] = []

    async def client_task() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
            for number in numbers:  # a shared iterator: each job is sent by exactly one task
                answer = await submit(client, comparison_body(topic, number, mock=mock))
                assert answer.status == 202, f"job {number}: {answer.status} {answer.body}"
                accepted.append(answer.body["queue_id"])
                if pause_seconds:
                    await asyncio.sleep(pause_seconds)

    async with asyncio.TaskGroup() as group:
        for _ in range(clients):
            group.create_task(client_task())
    return accepted


async def job_statuses(postgres_url: str, job_ids: Iterable[str] | None = None) -> dict[str, str]:
    """queue_id -> status straight from the jobs table (all jobs, or just `job_ids`)."""
    query = sa.text("SELECT id, status FROM jobs")
    engine = create_async_engine(postgres_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).all()
    finally:
        await engine.dispose()
    statuses = {str(row[0]): str(row[1]) for row in rows}
    if job_ids is None:
        return statuses
    return {job_id: statuses.get(job_id, "missing") for job_id in job_ids}


async def job_attempts(postgres_url: str, job_id: str) -> int:
    engine = create_async_engine(postgres_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(sa.text("SELECT attempts FROM jobs WHERE id = :id"), {"id": job_id})
            return int(result.scalar_one())
    finally:
        await engine.dispose()


async def outbox_backlog(postgres_url: str) -> int:
    engine = create_async_engine(postgres_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
            return int(result.scalar_one())
    finally:
        await engine.dispose()


async def wait_until_terminal(postgres_url: str, job_ids: list[str], *, timeout_seconds: float) -> dict[str, str]:
    """Statuses once every job is terminal in the store; `AssertionError` with the stragglers otherwise."""
    terminal = {"completed", "failed", "expired", "cancelled"}
    statuses: dict[str, str] = {}
    try:
        async with asyncio.timeout(timeout_seconds):
            while True:
                statuses = await job_statuses(postgres_url, job_ids)
                if all(status in terminal for status in statuses.values()):
                    return statuses
                await asyncio.sleep(0.2)
    except TimeoutError:
        waiting = collections.Counter(s for s in statuses.values() if s not in terminal)
        raise AssertionError(f"jobs not terminal after {timeout_seconds} s: {dict(waiting)}") from None


@dataclass(frozen=True, slots=True)
class CallbackAudit:
    """Callbacks per request id after dropping true duplicates (same request and same event_id)."""

    by_request: dict[str, dict[str, Any]]
    true_duplicates: int  # the same event published again (same event_id, another offset)
    rereads: int  # the same message (topic, partition, offset) read twice by the test consumer


def audit_callbacks(events: list[ReceivedEvent], accepted: Iterable[str]) -> CallbackAudit:
    """Exactly one valid terminal callback per accepted job, none for anything else.

    A redelivery of the same event (same `event_id`) is allowed and counted; two different events for one
    request id are a violation of exactly-once terminal state.
    """
    accepted_ids = set(accepted)
    by_request: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    problems: list[str] = []
    seen: set[tuple[str, int, int, bytes]] = set()
    rereads = 0
    for event in events:
        # The value is part of the position: a restarted in-memory broker hands out offsets from 0 again.
        position = (event.topic, event.partition, event.offset, event.value)
        if position in seen:
            rereads += 1  # a consumer-group rebalance replays from the last committed offset
            continue
        seen.add(position)
        envelope = event.envelope
        errors = validate_callback(envelope, key=event.key, headers=event.headers)
        if errors:
            problems.append(f"{event.key}: {errors}")
            continue
        by_request[envelope["data"]["request_id"]].append(envelope)
    duplicates = 0
    unique: dict[str, dict[str, Any]] = {}
    for request_id, envelopes in by_request.items():
        event_ids = {envelope["event_id"] for envelope in envelopes}
        if len(event_ids) > 1:
            problems.append(f"{request_id}: {len(event_ids)} different terminal callbacks")
        duplicates += len(envelopes) - 1
        unique[request_id] = envelopes[0]
    assert not problems, f"{len(problems)} invalid callbacks, e.g. {list(itertools.islice(problems, 3))}"
    assert set(unique) == accepted_ids, (
        f"missing callbacks: {len(accepted_ids - set(unique))}, unexpected: {len(set(unique) - accepted_ids)}"
    )
    return CallbackAudit(unique, duplicates, rereads)


async def queued_job_ids(redis_url: str) -> set[str]:
    """Every job id the Redis queue holds in any state (ready, delayed or leased)."""
    client = redis.Redis.from_url(redis_url)
    try:
        ids = await client.hkeys(QueueKeys.for_namespace().priority)
    finally:
        await client.aclose()
    return {job_id.decode() if isinstance(job_id, bytes) else job_id for job_id in ids}


async def metric_value(base_url: str, name: str) -> float:
    """One unlabelled sample from a process's /metrics."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"metric {name} not exported")
