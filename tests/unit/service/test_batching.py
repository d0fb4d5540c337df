"""Batch mode on fakes and a fake clock: collect, submit, record, poll, end each job once — by policy when the
vendor's batch loses, expires or cancels items — and a second worker resumes a dead one's batch."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from llm_provider_service.domain.batches import BatchPhase, BatchState, batch_job_owner
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import (
    BatchingMode,
    ComparisonRequest,
    JobStatus,
    LLMConfigOverrides,
    ProviderName,
    TokenUsage,
)
from llm_provider_service.domain.rate_limits import (
    Dimension,
    DimensionReading,
    RateLimitObservation,
    report_rate_limits,
)
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.service.budgets import BudgetPolicy
from llm_provider_service.service.processing_report import Outcome
from tests.compat.original_models import parse_callback
from tests.fake_batch_vendor import FakeBatchVendor
from tests.fakes import InMemoryJobStore, ScriptedProvider
from tests.unit.service.harness import CALLBACK_TOPIC, Harness, comparison

MODEL = "gpt-4.1"
WINDOW, POLL = 10.0, 5.0


def harness(vendor: FakeBatchVendor, store: InMemoryJobStore | None = None, **settings: Any) -> Harness:
    values = {"batch_window_seconds": WINDOW, "batch_max_size": 3, "batch_poll_interval_seconds": POLL, **settings}
    return Harness(
        providers={"openai": ScriptedProvider(name="openai"), "mock": ScriptedProvider()},
        batch_clients={"openai": vendor},
        settings_overrides=values,
        store=store if store is not None else InMemoryJobStore(),
    )


def batch_request(
    index: int, *, mode: BatchingMode | None = BatchingMode.PROVIDER_BATCH_API, provider: str = "openai"
) -> ComparisonRequest:
    model = MODEL if provider == "openai" else None
    overrides = LLMConfigOverrides(provider=ProviderName(provider), model=model, batching_mode=mode)
    return comparison(correlation_id=f"7b0c1c4e-0000-4000-8000-00000000001{index}", overrides=overrides)


async def collect(h: Harness, count: int) -> list[str]:
    ids = [(await h.jobs.submit(batch_request(index))).job.id for index in range(count)]
    for _ in ids:
        assert (await h.process_next()).outcome is Outcome.BATCHED
    return ids


async def callbacks(h: Harness) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event in await h.published():
        if event.topic == CALLBACK_TOPIC:
            parse_callback(event.value)  # every callback as the original client's model reads it
            data = json.loads(event.value)["data"]
            assert data["request_id"] not in found, "a job ended twice"
            found[data["request_id"]] = data
    return found


async def poll(h: Harness) -> None:
    h.clock.advance(POLL)
    await h.services.batching.tick()


async def test_a_full_collection_is_one_vendor_batch_and_each_job_completes_at_the_batch_price() -> None:
    vendor = FakeBatchVendor()
    h = harness(vendor)
    ids = await collect(h, 3)

    [(vendor_id, submitted)] = vendor.submitted.items()
    assert submitted == ids
    [record] = await h.store.open_batches(limit=10)
    assert (record.phase, record.vendor_batch_id, record.job_ids) == (BatchPhase.SUBMITTED, vendor_id, tuple(ids))
    for job_id in ids:
        job = h.store.jobs[job_id]
        assert (job.status, job.lease_owner) == (JobStatus.PROCESSING, batch_job_owner(record.id))
    await poll(h)
    assert await callbacks(h) == {}  # still running at the vendor

    vendor.end(vendor_id)
    await poll(h)

    ended = await callbacks(h)
    assert sorted(ended) == sorted(ids)
    price = default_catalog().lookup("openai", MODEL).batch_cost_usd(TokenUsage(120, 30))
    for data in ended.values():
        assert data["winner"] == "Essay A"
        assert data["attempts"] == 1
        assert data["cost_estimate"] == pytest.approx(price)
        assert data["error_detail"] is None
    assert await h.store.open_batches(limit=10) == []
    assert h.providers is not None
    openai = h.providers["openai"]
    assert isinstance(openai, ScriptedProvider)
    assert openai.requests == []  # nothing went to the immediate API


async def test_a_partial_collection_waits_for_its_window() -> None:
    vendor = FakeBatchVendor()
    h = harness(vendor)
    await collect(h, 2)
    h.clock.advance(WINDOW - 1)
    await h.services.batching.tick()
    assert vendor.submitted == {}
    h.clock.advance(1)
    await h.services.batching.tick()
    assert [len(items) for items in vendor.submitted.values()] == [2]


@pytest.mark.parametrize("state", [BatchState.EXPIRED, BatchState.CANCELLED])
async def test_lost_and_unfinished_items_run_again_as_immediate_jobs(state: BatchState) -> None:
    vendor = FakeBatchVendor()
    h = harness(vendor)
    lost, unfinished, answered = await collect(h, 3)
    vendor.lost.add(lost)
    vendor.unfinished.add(unfinished)
    vendor.end("vb-1", state)

    await poll(h)

    assert sorted(await callbacks(h)) == [answered]
    for job_id in (lost, unfinished):
        job = h.store.jobs[job_id]
        assert job.status is JobStatus.QUEUED
        assert job.last_error is not None
        assert job.last_error["batch_fallback"] is True
    reports = [await h.process_next(), await h.process_next()]  # now immediate: the provider answers
    assert {report.outcome for report in reports} == {Outcome.COMPLETED}
    ended = await callbacks(h)
    assert sorted(ended) == sorted([lost, unfinished, answered])
    assert ended[lost]["attempts"] == 2
    assert len(vendor.submitted) == 1  # not batched again


async def test_with_the_fail_policy_unanswered_jobs_fail_once() -> None:
    vendor = FakeBatchVendor()
    h = harness(vendor, batch_fallback="fail")
    lost, unfinished, answered = await collect(h, 3)
    vendor.lost.add(lost)
    vendor.unfinished.add(unfinished)
    vendor.end("vb-1", BatchState.EXPIRED)

    await poll(h)
    await poll(h)  # a second look at the ended batch changes nothing

    ended = await callbacks(h)
    assert sorted(ended) == sorted([lost, unfinished, answered])
    assert ended[answered]["error_detail"] is None
    for job_id in (lost, unfinished):
        detail = ended[job_id]["error_detail"]
        assert detail is not None
        assert detail["details"]["kind"] in ("server_error", "timeout")
        assert ended[job_id]["cost_estimate"] == 0
    assert h.store.jobs[lost].status is JobStatus.FAILED


async def test_a_terminal_item_error_fails_the_job_whatever_the_policy() -> None:
    vendor = FakeBatchVendor()
    h = harness(vendor)
    bad, good, _ = await collect(h, 3)
    vendor.errors[bad] = ProviderError(ProviderErrorKind.INVALID_REQUEST, "bad params", provider="openai")
    vendor.end("vb-1")
    await poll(h)
    ended = await callbacks(h)
    assert ended[bad]["error_detail"]["details"]["kind"] == "invalid_request"
    assert ended[good]["error_detail"] is None


async def test_a_refused_submission_sends_the_jobs_back_as_immediate_jobs() -> None:
    vendor = FakeBatchVendor(refuse_submit=ProviderError(ProviderErrorKind.SERVER_ERROR, "down", provider="openai"))
    h = harness(vendor)
    ids = await collect(h, 3)
    assert all(h.store.jobs[job_id].status is JobStatus.QUEUED for job_id in ids)
    assert await h.store.open_batches(limit=10) == []


async def test_another_worker_resumes_polling_the_batch_of_a_dead_one() -> None:
    vendor = FakeBatchVendor()
    first = harness(vendor)
    ids = await collect(first, 3)  # submitted; then this worker dies before collecting
    second = harness(vendor, store=first.store)
    second.clock.advance(POLL)
    await second.services.batching.tick()
    assert vendor.status_calls == 0  # the first worker's poll lease still holds

    vendor.end("vb-1")
    second.clock.advance(3 * POLL + 30)
    await second.services.batching.tick()

    assert sorted(await callbacks(second)) == sorted(ids)
    assert len(vendor.submitted) == 1


async def test_jobs_of_a_worker_killed_while_collecting_are_collected_again() -> None:
    vendor = FakeBatchVendor()
    first = harness(vendor)
    [job_id] = await collect(first, 1)  # collected, not yet submitted; then this worker dies
    second = harness(vendor, store=first.store)
    second.clock.advance(WINDOW + 60)
    assert (await second.reconciler.run_once()).requeued == 1
    assert (await second.process_next()).outcome is Outcome.BATCHED
    second.clock.advance(WINDOW)
    await second.services.batching.tick()
    assert vendor.submitted == {"vb-1": [job_id]}


async def test_other_jobs_behave_exactly_as_before() -> None:
    vendor = FakeBatchVendor()
    h = harness(vendor)
    per_request = (await h.jobs.submit(batch_request(1, mode=BatchingMode.PER_REQUEST))).job.id
    unset = (await h.jobs.submit(batch_request(2, mode=None))).job.id
    no_batch_api = (await h.jobs.submit(batch_request(3, provider="mock"))).job.id
    for _ in range(3):
        assert (await h.process_next()).outcome is Outcome.COMPLETED
    assert sorted(await callbacks(h)) == sorted([per_request, unset, no_batch_api])
    assert vendor.submitted == {}


async def test_shutdown_submits_what_was_collected() -> None:
    vendor = FakeBatchVendor()
    h = harness(vendor)
    ids = await collect(h, 2)
    stop = asyncio.Event()
    stop.set()
    await h.services.batching.run(stop)
    assert vendor.submitted == {"vb-1": ids}


class _ReportingVendor(FakeBatchVendor):
    """Answers as the fake does, with the rate-limit headers a vendor's batch endpoint sends."""

    async def submit_batch(self, items: Any) -> Any:
        report_rate_limits(RateLimitObservation(200, {Dimension.REQUESTS: DimensionReading(50, 49, 60.0)}))
        return await super().submit_batch(items)


async def test_the_batch_endpoints_rate_limits_are_learned_apart_from_the_models_budgets() -> None:
    vendor = _ReportingVendor()
    h = Harness(
        providers={"openai": ScriptedProvider(name="openai"), "mock": ScriptedProvider()},
        batch_clients={"openai": vendor},
        settings_overrides={"batch_window_seconds": WINDOW, "batch_max_size": 3, "batch_poll_interval_seconds": POLL},
        budget_policy=BudgetPolicy(),
    )
    await collect(h, 3)

    assert vendor.submitted  # the full collection went out
    assert h.budgets is not None
    states = {state.key: state for state in await h.budgets.budget.states(now=h.clock.epoch())}
    assert states["openai/batch-api"].limits == {Dimension.REQUESTS: 50}
    assert f"openai/{MODEL}" not in states  # the model's immediate budget is not throttled by batch limits
