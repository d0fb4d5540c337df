"""UsageRecorder: buffered, batched, bounded; keeps records while the store is down; flushes on stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from llm_provider_service.domain.errors import StoreUnavailableError
from llm_provider_service.domain.usage import UsageRecord
from llm_provider_service.service.usage_recorder import UsageRecorder
from tests.fakes import START, InMemoryJobStore


def record(number: int) -> UsageRecord:
    return UsageRecord(f"u-{number}", "gateway", "mock", "mock-comparison-v1", 10, 5, 0.0, 1, "ok", START)


class BatchRecordingStore(InMemoryJobStore):
    """Remembers the size of each write and signals each one."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.wrote = asyncio.Event()

    async def record_usage(self, records: Sequence[UsageRecord]) -> None:
        if self.unavailable is not None:
            raise self.unavailable
        self.batches.append(len(records))
        await super().record_usage(records)
        self.wrote.set()


async def test_add_buffers_and_flush_writes_in_batches() -> None:
    store = BatchRecordingStore()
    recorder = UsageRecorder(store, batch_size=2, max_buffered=10)
    for number in range(5):
        recorder.add(record(number))

    assert store.usage == []
    assert await recorder.flush() == 5
    assert store.batches == [2, 2, 1]
    assert [r.id for r in store.usage] == [f"u-{n}" for n in range(5)]
    assert recorder.pending == 0


async def test_records_survive_a_store_outage_in_order() -> None:
    store = BatchRecordingStore()
    recorder = UsageRecorder(store, batch_size=2, max_buffered=10)
    for number in range(3):
        recorder.add(record(number))
    store.unavailable = StoreUnavailableError("down")

    assert await recorder.flush() == 0
    assert recorder.pending == 3
    store.unavailable = None
    recorder.add(record(3))
    assert await recorder.flush() == 4
    assert [r.id for r in store.usage] == ["u-0", "u-1", "u-2", "u-3"]


async def test_the_buffer_is_bounded_and_drops_the_oldest() -> None:
    store = BatchRecordingStore()
    recorder = UsageRecorder(store, batch_size=2, max_buffered=3)
    for number in range(5):
        recorder.add(record(number))

    assert recorder.dropped == 2
    await recorder.flush()
    assert [r.id for r in store.usage] == ["u-2", "u-3", "u-4"]


async def test_a_full_batch_wakes_the_loop_and_stop_flushes_the_rest() -> None:
    store = BatchRecordingStore()
    # An interval far longer than the test: only a full batch or the stop can cause a write.
    recorder = UsageRecorder(store, batch_size=2, max_buffered=10, flush_interval_seconds=3600)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(recorder.run(stop))
        recorder.add(record(0))
        recorder.add(record(1))
        await store.wrote.wait()
        assert store.batches == [2]
        recorder.add(record(2))
        stop.set()

    assert store.batches == [2, 1]
    assert recorder.written == 3
