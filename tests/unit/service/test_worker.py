"""The worker loop: bounded concurrency, graceful drain, hand-back on cancel, store fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from llm_provider_service.adapters.memory_queue import InMemoryJobQueue
from llm_provider_service.domain.errors import QueueUnavailableError
from llm_provider_service.domain.models import Job, JobStatus, LLMConfigOverrides, ProviderName
from llm_provider_service.ports import AttemptStart, JobFinish, Lease
from llm_provider_service.worker import Worker
from tests.fakes import InMemoryJobStore, ScriptedProvider
from tests.unit.service.harness import Harness, comparison


def _harness(concurrency: int, provider: ScriptedProvider | None = None, **settings: Any) -> Harness:
    """A harness whose composed worker runs `concurrency` jobs at once."""
    overrides = {"worker_concurrency": concurrency, **settings}
    return Harness(provider=provider or ScriptedProvider(), settings_overrides=overrides)


async def _until(predicate: Callable[[], bool], timeout_seconds: float = 5.0) -> None:
    """Yield to the worker until `predicate` holds; the fakes give no event to wait on."""
    async with asyncio.timeout(timeout_seconds):
        while not predicate():  # noqa: ASYNC110 - polling fakes that have no notification
            await asyncio.sleep(0)


async def test_concurrency_is_bounded_and_drain_finishes_running_jobs() -> None:
    provider = ScriptedProvider()
    provider.gate = asyncio.Event()
    harness = _harness(2, provider)
    ids = [(await harness.jobs.submit(comparison())).job.id for _ in range(5)]
    worker = harness.services.worker
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(worker.run(stop, grace_seconds=5))
        await _until(lambda: len(provider.requests) == 2)
        await asyncio.sleep(0.01)
        assert worker.in_flight == 2
        assert len(provider.requests) == 2  # never more than the concurrency
        stop.set()
        provider.gate.set()  # the running jobs finish during the drain
    statuses = [harness.store.jobs[job_id].status for job_id in ids]
    assert statuses.count(JobStatus.COMPLETED) == 2
    assert statuses.count(JobStatus.QUEUED) == 3


async def test_jobs_still_running_after_the_grace_period_are_handed_back() -> None:
    provider = ScriptedProvider()
    provider.gate = asyncio.Event()  # never opened: the call hangs
    harness = _harness(1, provider)
    job_id = (await harness.jobs.submit(comparison())).job.id
    worker = harness.services.worker
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(worker.run(stop, grace_seconds=0.05))
        await _until(lambda: len(provider.requests) == 1)
        stop.set()
    job = harness.store.jobs[job_id]
    assert job.status == JobStatus.QUEUED
    assert job.attempts == 0  # the interrupted attempt is not spent
    assert await harness.queue.contains([job_id]) == {job_id}


class UnreachableQueue(InMemoryJobQueue):
    """Claims fail as if Redis were down; everything else works."""

    async def claim(self, *, max_jobs: int, lease_seconds: float, wait_seconds: float = 0.0) -> list[Lease]:
        raise QueueUnavailableError("redis down")


async def test_claims_from_the_store_when_the_queue_is_down() -> None:
    harness = Harness()
    job_id = (await harness.jobs.submit(comparison())).job.id
    worker = Worker(
        queue=UnreachableQueue(capacity=10),
        store=harness.store,
        processor=harness.processor,
        clock=harness.clock,
        metrics=harness.services.metrics,
        concurrency=4,
        lease_seconds=30,
    )
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(worker.run(stop, grace_seconds=1))
        await _until(lambda: harness.store.jobs[job_id].status == JobStatus.COMPLETED)
        stop.set()
    assert len(await harness.callbacks()) == 1


async def test_answered_jobs_are_recorded_as_usage() -> None:
    harness = _harness(1)
    job_id = (await harness.jobs.submit(comparison())).job.id
    recorder = harness.services.usage_recorder
    worker = harness.services.worker
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(worker.run(stop, grace_seconds=1))
        await _until(lambda: recorder.pending == 1)
        stop.set()
    await recorder.flush()
    [record] = harness.store.usage
    assert (record.source, record.provider, record.prompt_tokens, record.completion_tokens) == ("job", "mock", 120, 30)
    assert record.id.startswith(f"job:{job_id}:")


async def test_job_metrics_label_a_model_outside_the_manifest_other() -> None:
    compatible = ScriptedProvider(name="openai_compatible")
    harness = Harness(providers={"mock": ScriptedProvider(), "openai_compatible": compatible})
    overrides = LLMConfigOverrides(provider=ProviderName.OPENAI_COMPATIBLE, model="callers-own-llama-7b")
    job_id = (await harness.jobs.submit(comparison(overrides=overrides))).job.id
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(harness.services.worker.run(stop, grace_seconds=1))
        await _until(lambda: harness.store.jobs[job_id].status == JobStatus.COMPLETED)
        stop.set()
    registry = harness.services.metrics.registry
    models = {
        sample.labels["model"]
        for metric in registry.collect()
        for sample in metric.samples
        if sample.labels.get("provider") == "openai_compatible" and "model" in sample.labels
    }
    assert models == {"other"}  # calls, tokens, cost, processing time and finished jobs alike


class CountingStore(InMemoryJobStore):
    """Records the size of every batched read, begin and finish."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: dict[str, list[int]] = {"get_many": [], "begin_attempts": [], "finish_many": []}

    async def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        self.batches["get_many"].append(len(job_ids))
        return await super().get_many(job_ids)

    async def begin_attempts(self, starts: Sequence[AttemptStart]) -> list[Job | None]:
        self.batches["begin_attempts"].append(len(starts))
        return await super().begin_attempts(starts)

    async def finish_many(self, finishes: Sequence[JobFinish]) -> list[bool]:
        self.batches["finish_many"].append(len(finishes))
        return await super().finish_many(finishes)


async def test_a_claim_is_read_begun_and_finished_in_one_store_call_each() -> None:
    store = CountingStore()
    harness = Harness(provider=ScriptedProvider(), store=store, settings_overrides={"worker_concurrency": 8})
    ids = [(await harness.jobs.submit(comparison())).job.id for _ in range(5)]
    worker = harness.services.worker
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(worker.run(stop, grace_seconds=5))
        await _until(lambda: all(store.jobs[job_id].status == JobStatus.COMPLETED for job_id in ids))
        stop.set()
    # The five jobs were claimed together: one read, one begin and one finish transaction for all of them.
    assert store.batches == {"get_many": [5], "begin_attempts": [5], "finish_many": [5]}
    assert await harness.queue.contains(ids) == set()  # and all acked
