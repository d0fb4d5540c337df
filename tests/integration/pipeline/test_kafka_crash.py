"""Broker failures only a durable broker allows: SIGKILL mid-load, and an outage longer than the delivery timeout.

Apache Kafka keeps what it acknowledged across a SIGKILL, so after the restart every accepted job's callback must be
readable from the topic's beginning: the ones published before the crash and the ones the outbox held back. On Tansu
(memory only) these tests cannot hold, so they skip there with the reason; CI runs them on Apache Kafka.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import time

import httpx
import pytest

from tests.integration.pipeline.conftest import Pipeline, StoppableServer
from tests.integration.pipeline.jobs import (
    audit_callbacks,
    metric_value,
    outbox_backlog,
    submit_many,
    wait_until_terminal,
)
from tests.kafka_settings import TEST_KAFKA_BROKER

logger = logging.getLogger(__name__)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(300),  # broker restarts and a deliberate outage: above the suite's 120 s default
    pytest.mark.skipif(TEST_KAFKA_BROKER != "kafka", reason="needs a durable broker (Apache Kafka), not Tansu"),
]

LOAD_JOBS = 160
DELIVERY_TIMEOUT_SECONDS = 2.0
OUTAGE_JOBS = 30


async def _wait_drained(postgres_url: str, *, timeout_seconds: float) -> None:
    async with asyncio.timeout(timeout_seconds):
        while True:  # polling the table is the point: it is what an operator would watch
            if await outbox_backlog(postgres_url) == 0:
                return
            await asyncio.sleep(0.2)


async def _labelled_metric(base_url: str, name: str, label: str) -> float:
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
        text = (await client.get("/metrics")).text
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(label)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_sigkill_mid_load_loses_no_callback(pipeline: Pipeline, stoppable: StoppableServer) -> None:
    broker = stoppable("kafka")
    with pipeline.processes() as group:
        api = group.api()
        group.worker()
        published_before = await metric_value(api.base_url, "llm_provider_events_published_total")
        # Paced (4 clients, 0.1 s apart: ~40/s for ~4 s): the crash at 1 s lands mid-load on a fast host too.
        load = asyncio.create_task(
            submit_many(api.base_url, pipeline.callback_topic, LOAD_JOBS, clients=4, pause_seconds=0.1)
        )
        await asyncio.sleep(1.0)  # jobs are being accepted, processed and published
        assert not load.done(), "the load finished before the crash"
        await asyncio.to_thread(broker.kill)  # SIGKILL: no controlled shutdown, no flush
        await asyncio.sleep(1.0)
        await asyncio.to_thread(broker.start)  # the same log dir and port: what was acknowledged is still there
        accepted = await load
        assert len(accepted) == LOAD_JOBS  # the API accepted every job throughout (the outbox is in PostgreSQL)

        restarted = time.monotonic()
        statuses = await wait_until_terminal(pipeline.postgres_url, accepted, timeout_seconds=60)
        assert collections.Counter(statuses.values()) == {"completed": LOAD_JOBS}
        # The idempotent producer recovers by itself: the same processes drain the backlog, nobody restarts them.
        await _wait_drained(pipeline.postgres_url, timeout_seconds=60)
        drained_seconds = time.monotonic() - restarted
        assert await metric_value(api.base_url, "llm_provider_outbox_backlog") == 0
        assert await metric_value(api.base_url, "llm_provider_events_published_total") > published_before

    async with pipeline.collector() as reader:  # a new group, from the earliest offset
        await reader.wait_for(LOAD_JOBS, timeout_seconds=30)
        events = await reader.wait_quiet(quiet_seconds=1.5, timeout_seconds=20)
    audit = audit_callbacks(events, accepted)  # one valid callback per job; repeats only of the same event_id
    assert all(envelope["data"]["error_detail"] is None for envelope in audit.by_request.values())
    logger.info(
        "SIGKILL mid-load: %d jobs, %d callbacks read, %d redelivered with the same event_id, outbox drained %.1f s "
        "after the broker was back",
        LOAD_JOBS, len(events), audit.true_duplicates, drained_seconds,
    )  # fmt: skip


async def test_outage_longer_than_the_delivery_timeout_loses_nothing_and_says_so(
    pipeline: Pipeline, stoppable: StoppableServer
) -> None:
    broker = stoppable("kafka")
    fast_failure = {"LLM_PROVIDER_KAFKA_DELIVERY_TIMEOUT_SECONDS": str(DELIVERY_TIMEOUT_SECONDS)}
    with pipeline.processes(fast_failure) as group:
        # One process with its worker inside: one outbox relay, so its log and metrics tell the whole story.
        api = group.start("serve")
        await asyncio.to_thread(broker.stop)
        try:
            accepted = await submit_many(api.base_url, pipeline.callback_topic, OUTAGE_JOBS, clients=4)
            statuses = await wait_until_terminal(pipeline.postgres_url, accepted, timeout_seconds=30)
            assert collections.Counter(statuses.values()) == {"completed": OUTAGE_JOBS}
            # Down for well over the delivery timeout: several publish attempts have failed and been counted.
            async with asyncio.timeout(30):
                while True:  # scraping /metrics is the point: it is what Prometheus would see
                    failing = await metric_value(api.base_url, "llm_provider_outbox_relay_failing_seconds")
                    if failing >= 3 * DELIVERY_TIMEOUT_SECONDS:
                        break
                    await asyncio.sleep(0.5)
            failures = await _labelled_metric(
                api.base_url, "llm_provider_outbox_relay_failures_total", 'cause="broker"'
            )
            assert failures >= 2
            assert await metric_value(api.base_url, "llm_provider_outbox_backlog") >= 2 * OUTAGE_JOBS
            log = api.log_path.read_text(errors="replace")
            assert log.count("outbox relay cannot publish to the event broker") == 1, group.logs()
            assert "outbox relay still failing after" in log
        finally:
            await asyncio.to_thread(broker.start)
        await _wait_drained(pipeline.postgres_url, timeout_seconds=45)
        assert await metric_value(api.base_url, "llm_provider_outbox_relay_failing_seconds") == 0
        assert "outbox relay recovered after" in api.log_path.read_text(errors="replace")

    async with pipeline.collector() as reader:
        await reader.wait_for(OUTAGE_JOBS, timeout_seconds=30)
        events = await reader.wait_quiet(quiet_seconds=1.5, timeout_seconds=20)
    audit = audit_callbacks(events, accepted)
    logger.info(
        "outage: %d jobs, %.0f failed publish attempts counted, %d callbacks read, %d redelivered",
        OUTAGE_JOBS, failures, len(events), audit.true_duplicates,
    )  # fmt: skip
