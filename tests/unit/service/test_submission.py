"""Submitting, reading, cancelling jobs."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.errors import (
    ConflictError,
    NotFoundError,
    QueueFullError,
    UnknownProviderError,
    UnsupportedParameterError,
)
from llm_provider_service.domain.models import JobStatus, LLMConfigOverrides, ProviderName, ReasoningEffort
from tests.unit.service.harness import Harness, comparison


async def test_submit_records_and_enqueues() -> None:
    harness = Harness()
    submission = await harness.jobs.submit(comparison())
    assert submission.created
    assert harness.store.jobs[submission.job.id].status == JobStatus.QUEUED
    assert submission.job.provider == "mock"
    assert submission.job.model == "mock-comparison-v1"
    assert await harness.queue.contains([submission.job.id]) == {submission.job.id}


async def test_idempotency_key_returns_the_first_job_and_creates_nothing() -> None:
    harness = Harness()
    first = await harness.jobs.submit(comparison(), idempotency_key="k-1")
    second = await harness.jobs.submit(comparison(), idempotency_key="k-1")
    assert second.job.id == first.job.id
    assert not second.created
    assert len(harness.store.jobs) == 1
    assert (await harness.queue.stats()).ready == 1


async def test_unconfigured_provider_is_refused() -> None:
    harness = Harness()
    with pytest.raises(UnknownProviderError):
        await harness.jobs.submit(comparison(overrides=LLMConfigOverrides(provider=ProviderName.OPENAI)))
    assert harness.store.jobs == {}


async def test_any_model_id_of_a_configured_provider_is_accepted() -> None:
    # The vendor decides whether a model exists (its 404 ends the job as model_not_found); the mock takes any id.
    harness = Harness()
    submission = await harness.jobs.submit(comparison(overrides=LLMConfigOverrides(model="gpt-17")))
    assert submission.job.model == "gpt-17"


async def test_unsupported_parameter_is_refused_under_the_reject_policy() -> None:
    harness = Harness(unsupported_params="reject")
    request = comparison(overrides=LLMConfigOverrides(max_tokens=10_000_000, reasoning_effort=ReasoningEffort.LOW))
    with pytest.raises(UnsupportedParameterError, match="max_tokens_override"):
        await harness.jobs.submit(request)
    assert harness.store.jobs == {}


async def test_unsupported_parameter_is_dropped_and_named_under_the_default_policy() -> None:
    harness = Harness()
    request = comparison(overrides=LLMConfigOverrides(max_tokens=10_000_000, reasoning_effort=ReasoningEffort.LOW))
    job = (await harness.jobs.submit(request)).job
    assert job.request.overrides.max_tokens is None
    assert job.request.overrides.reasoning_effort == ReasoningEffort.LOW
    assert job.request.dropped_params == ("max_tokens_override",)


async def test_queue_full_records_nothing() -> None:
    harness = Harness(capacity=1)
    await harness.jobs.submit(comparison())
    with pytest.raises(QueueFullError):
        await harness.jobs.submit(comparison())
    assert len(harness.store.jobs) == 1


async def test_cancel_queued_job_sends_one_cancelled_callback() -> None:
    harness = Harness()
    job = (await harness.jobs.submit(comparison())).job
    cancelled = await harness.jobs.cancel(job.id)
    assert cancelled.status == JobStatus.CANCELLED
    assert await harness.queue.contains([job.id]) == set()
    callbacks = await harness.callbacks()
    assert len(callbacks) == 1
    data = callbacks[0]["data"]
    assert data["error_detail"]["error_code"] == "PROCESSING_ERROR"
    assert data["error_detail"]["details"] == {"kind": "cancelled", "retryable": False}
    assert data["response_time_ms"] == 0
    assert data["winner"] is None
    assert data["request_metadata"]["batch_id"] == "b-1"
    assert len(data["request_metadata"]["prompt_sha256"]) == 64


async def test_cancel_running_job_is_a_conflict() -> None:
    harness = Harness()
    job = (await harness.jobs.submit(comparison())).job
    lease = (await harness.queue.claim(max_jobs=1, lease_seconds=30))[0]
    await harness.store.begin_attempt(
        job.id, owner=lease.token, now=harness.clock.now(), lease_expires_at=harness.clock.now(), events=[]
    )
    with pytest.raises(ConflictError):
        await harness.jobs.cancel(job.id)


async def test_unknown_job_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        await Harness().jobs.get("nope")


async def test_wait_returns_once_the_job_is_terminal() -> None:
    harness = Harness()
    job = (await harness.jobs.submit(comparison())).job
    await harness.process_next()
    finished = await harness.jobs.wait(job.id, 1.0)
    assert finished.status == JobStatus.COMPLETED


async def test_a_dropped_parameter_is_logged_once_per_model(caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness()
    request = comparison(overrides=LLMConfigOverrides(max_tokens=10_000_000))
    with caplog.at_level("WARNING", logger="llm_provider_service.service.submission"):
        for _ in range(3):
            await harness.jobs.submit(request)
    dropped = [record for record in caplog.records if "dropped" in record.getMessage()]
    assert len(dropped) == 1
    assert "max_tokens_override" in dropped[0].getMessage()
