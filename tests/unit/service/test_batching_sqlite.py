"""Batch mode over the embedded store (SQLite, its single writer): collect, submit, resume, collect, end once."""

from __future__ import annotations

import json
from pathlib import Path

from llm_provider_service.adapters.memory_queue import InMemoryJobQueue
from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.bootstrap import Services, compose
from llm_provider_service.domain.batches import BatchState
from llm_provider_service.domain.models import JobStatus
from tests.compat.original_models import parse_callback
from tests.fake_batch_vendor import FakeBatchVendor
from tests.fakes import FakeClock, RecordingPublisher, ScriptedProvider
from tests.unit.service import harness
from tests.unit.service.harness import CALLBACK_TOPIC
from tests.unit.service.test_batching import POLL, batch_request


async def test_a_batch_survives_its_worker_on_sqlite(tmp_path: Path) -> None:
    vendor = FakeBatchVendor()
    settings = harness.test_settings(batch_max_size=2, batch_poll_interval_seconds=POLL)
    async with SqlJobStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}") as store:
        clock = FakeClock()
        queue = InMemoryJobQueue(capacity=100, clock=clock.epoch)
        publisher = RecordingPublisher()

        def services() -> Services:
            providers = {"openai": ScriptedProvider(name="openai")}
            return compose(
                settings, store=store, queue=queue, publisher=publisher, clock=clock, providers=providers,
                batch_clients={"openai": vendor},
            )  # fmt: skip

        first, second = services(), services()
        ids = [(await first.jobs.submit(batch_request(index))).job.id for index in range(2)]
        for lease in await queue.claim(max_jobs=2, lease_seconds=30):
            await first.processor.process(lease)
        assert vendor.submitted == {"vb-1": ids}
        vendor.lost.add(ids[1])
        vendor.end("vb-1", BatchState.COMPLETED)

        clock.advance(120)  # the first worker is gone: its poll lease ran out
        await second.batching.tick()

        while await second.relay.relay_once() > 0:
            pass
        [envelope] = [json.loads(e.value) for e in publisher.events if e.topic == CALLBACK_TOPIC]
        parse_callback(json.dumps(envelope))
        assert envelope["data"]["request_id"] == ids[0]
        lost = await store.get(ids[1])
        assert lost is not None
        assert lost.status is JobStatus.QUEUED  # back as an immediate job
        assert await store.open_batches(limit=10) == []
