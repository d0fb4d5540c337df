"""The reconciler and the outbox relay."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from llm_provider_service.bootstrap import compose
from llm_provider_service.domain.models import JobStatus, OutboxEvent
from llm_provider_service.service.outbox import OutboxRelay
from tests.fakes import RecordingPublisher
from tests.unit.service.harness import Harness, comparison


async def test_reconciler_re_enqueues_jobs_the_queue_lost() -> None:
    harness = Harness()
    job = (await harness.jobs.submit(comparison())).job
    await harness.queue.remove(job.id)  # e.g. Redis restarted empty
    harness.clock.advance(1)
    assert (await harness.reconciler.run_once()).requeued == 0  # within the grace a submit may still be enqueueing
    harness.clock.advance(2)
    report = await harness.reconciler.run_once()
    assert report.requeued == 1
    assert await harness.queue.contains([job.id]) == {job.id}
    assert (await harness.reconciler.run_once()).requeued == 0


async def test_reconciler_expires_queued_jobs_past_ttl_with_one_callback() -> None:
    harness = Harness(ttl_seconds=60)
    job = (await harness.jobs.submit(comparison())).job
    harness.clock.advance(61)
    assert (await harness.reconciler.run_once()).expired == 1
    assert harness.store.jobs[job.id].status == JobStatus.EXPIRED
    assert (await harness.reconciler.run_once()).expired == 0
    callbacks = await harness.callbacks()
    assert [c["data"]["error_detail"]["error_code"] for c in callbacks] == ["TIMEOUT"]
    assert callbacks[0]["data"]["error_detail"]["details"]["kind"] == "expired"


async def test_outbox_survives_a_broker_outage_and_drains() -> None:
    harness = Harness()
    for _ in range(3):
        await harness.jobs.submit(comparison())
        await harness.process_next()
    harness.publisher.failing = True
    assert await harness.relay.relay_once() == -1
    assert await harness.store.outbox_backlog() == 9
    harness.publisher.failing = False
    harness.clock.advance(1)  # the failed batch was handed back: no waiting out its claim
    assert len(await harness.callbacks()) == 3
    assert await harness.store.outbox_backlog() == 0
    ids = [event.event_id for event in harness.publisher.events]
    assert len(ids) == len(set(ids))


async def test_reconciler_prunes_old_published_events_only() -> None:
    harness = Harness()
    await harness.jobs.submit(comparison())
    await harness.process_next()
    await harness.published()
    assert (await harness.reconciler.run_once()).pruned == 0
    harness.clock.advance(86401)
    assert (await harness.reconciler.run_once()).pruned == 3
    assert harness.store.outbox == {}


class SlowPublisher(RecordingPublisher):
    """Lets another event arrive while a batch is being published."""

    def __init__(self, relay_holder: list[OutboxRelay], late: OutboxEvent) -> None:
        super().__init__()
        self._relay_holder = relay_holder
        self._late: OutboxEvent | None = late

    async def publish(self, events: Sequence[OutboxEvent]) -> None:
        if self._late is not None:
            self._relay_holder[0].publish_direct(self._late)
            self._late = None
        await super().publish(events)


async def test_direct_events_arriving_during_a_publish_are_not_lost() -> None:
    harness = Harness()
    first = harness.events.circuit_changed("mock", "closed", "open", now=harness.clock.now())
    late = harness.events.circuit_changed("mock", "open", "half_open", now=harness.clock.now())
    holder: list[OutboxRelay] = []
    publisher = SlowPublisher(holder, late)
    relay = OutboxRelay(store=harness.store, publisher=publisher, clock=harness.clock, poll_interval_seconds=0.01)
    holder.append(relay)
    relay.publish_direct(first)
    await relay.relay_once()
    await relay.relay_once()
    assert [event.event_id for event in publisher.events] == [first.event_id, late.event_id]


async def test_a_broker_outage_is_reported_once_loudly_then_as_a_duration_and_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()
    await harness.jobs.submit(comparison())
    await harness.process_next()
    failures: list[tuple[str, float]] = []
    recovered: list[float] = []
    relay = OutboxRelay(
        store=harness.store,
        publisher=harness.publisher,
        clock=harness.clock,
        poll_interval_seconds=0.01,
        lock_seconds=1.0,
        on_failure=lambda cause, seconds: failures.append((cause, seconds)),
        on_recovered=recovered.append,
    )
    harness.publisher.failing = True
    with caplog.at_level(logging.WARNING, logger="llm_provider_service.service.outbox"):
        assert await relay.relay_once() == -1
        harness.clock.advance(4)
        assert await relay.relay_once() == -1
        harness.publisher.failing = False
        harness.clock.advance(2)
        assert await relay.relay_once() == 3  # started, completed, callback: all still there

    assert failures == [("broker", 0.0), ("broker", 4.0)]
    assert recovered == [6.0]
    levels = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert levels[0][0] == logging.ERROR
    assert "none is lost" in levels[0][1]
    assert "still failing after 4.0 s" in levels[1][1]
    assert "recovered after 6.0 s" in levels[2][1]


async def test_a_publish_as_slow_as_the_delivery_timeout_is_not_published_again_by_another_process() -> None:
    """Two processes' relays share one outbox: a claim must outlive the slowest publish the broker allows."""
    harness = Harness()
    await harness.jobs.submit(comparison())
    await harness.process_next()
    other_process = compose(
        harness.settings,
        store=harness.store,
        queue=harness.queue,
        publisher=harness.publisher,
        providers={"mock": harness.provider},
        clock=harness.clock,
    )
    republished: list[int] = []

    class SlowBroker(RecordingPublisher):
        async def publish(self, events: Sequence[OutboxEvent]) -> None:
            # The broker acknowledges only at the very end of the delivery timeout; meanwhile the other relay polls.
            harness.clock.advance(harness.settings.kafka_delivery_timeout_seconds + 1.0)
            republished.append(await other_process.relay.relay_once())
            await super().publish(events)

    slow = SlowBroker()
    relay = compose(
        harness.settings,
        store=harness.store,
        queue=harness.queue,
        publisher=slow,
        providers={"mock": harness.provider},
        clock=harness.clock,
    ).relay
    assert await relay.relay_once() == 3
    assert republished == [0]
    assert len(slow.events) == 3
    assert harness.publisher.events == []
