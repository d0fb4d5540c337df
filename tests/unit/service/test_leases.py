"""A lost lease stops the vendor call; a shutdown still cancels as before."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from llm_provider_service.domain.models import JobStatus
from llm_provider_service.service.processing_report import Outcome
from tests.fakes import ScriptedProvider
from tests.unit.service.harness import Harness, comparison

QUICK_LEASE = {"lease_seconds": 0.03}  # renewals every 10 ms of real time


async def _calling(harness: Harness, provider: ScriptedProvider) -> tuple[str, asyncio.Task[object]]:
    job_id = (await harness.jobs.submit(comparison())).job.id
    [lease] = await harness.queue.claim(max_jobs=1, lease_seconds=30)
    task: asyncio.Task[object] = asyncio.create_task(harness.processor.process(lease))
    async with asyncio.timeout(2):
        while not provider.requests:  # noqa: ASYNC110 - the scripted provider offers no event
            await asyncio.sleep(0)
    return job_id, task


async def test_a_lease_taken_over_in_the_store_cancels_the_call() -> None:
    provider = ScriptedProvider()
    provider.gate = asyncio.Event()  # the vendor never answers on its own
    harness = Harness(provider=provider, settings_overrides=QUICK_LEASE)
    job_id, task = await _calling(harness, provider)

    harness.store.jobs[job_id] = replace(harness.store.jobs[job_id], lease_owner="another-worker")
    async with asyncio.timeout(2):
        report = await task

    assert getattr(report, "outcome", None) == Outcome.LOST
    job = harness.store.jobs[job_id]
    assert (job.status, job.lease_owner, job.result) == (JobStatus.PROCESSING, "another-worker", None)
    assert harness.breakers.get("mock").state.value == "closed"  # not the vendor's fault


async def test_a_shutdown_during_the_call_still_cancels_the_worker() -> None:
    provider = ScriptedProvider()
    provider.gate = asyncio.Event()
    harness = Harness(provider=provider, settings_overrides=QUICK_LEASE)
    job_id, task = await _calling(harness, provider)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    job = harness.store.jobs[job_id]
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)  # handed back, the attempt not spent
