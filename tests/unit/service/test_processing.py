"""Processing a claimed job: success, retries, terminal errors, repair, breaker, expiry."""

from __future__ import annotations

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionResponse, JobStatus, TokenUsage
from llm_provider_service.service.processing_report import Outcome
from tests.fakes import ScriptedProvider, comparison_answer
from tests.unit.service.harness import Harness, comparison


def _error(kind: ProviderErrorKind, retry_after: float | None = None) -> ProviderError:
    return ProviderError(kind, f"scripted {kind.value}", provider="mock", retry_after_seconds=retry_after)


async def test_success_writes_result_and_exactly_one_callback() -> None:
    harness = Harness(provider=ScriptedProvider([comparison_answer("Essay B", 5, "B argues better.")]))
    job = (await harness.jobs.submit(comparison())).job
    report = await harness.process_next()
    assert report.outcome == Outcome.COMPLETED
    stored = harness.store.jobs[job.id]
    assert stored.status == JobStatus.COMPLETED
    assert stored.attempts == 1
    callbacks = await harness.callbacks()
    assert len(callbacks) == 1
    envelope = callbacks[0]
    assert envelope["event_type"] == "LLMComparisonResultV1"
    assert envelope["schema_version"] == 1
    assert envelope["correlation_id"] == job.request.correlation_id
    data = envelope["data"]
    assert data["request_id"] == job.id
    assert (data["winner"], data["confidence"], data["justification"]) == ("Essay B", 5.0, "B argues better.")
    assert data["error_detail"] is None
    assert data["token_usage"] == {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    assert data["request_metadata"]["batch_id"] == "b-1"
    assert stored.result == data
    topics = [event.topic for event in harness.publisher.events]
    assert topics.count("llm_provider.request_completed.v1") == 1
    assert topics.count("llm_provider.request_started.v1") == 1
    assert (await harness.queue.stats()).total == 0


async def test_retryable_error_reschedules_with_backoff_then_completes() -> None:
    harness = Harness(provider=ScriptedProvider([_error(ProviderErrorKind.OVERLOADED)]))
    job = (await harness.jobs.submit(comparison())).job
    report = await harness.process_next()
    assert report.outcome == Outcome.RETRY_SCHEDULED
    stored = harness.store.jobs[job.id]
    assert stored.status == JobStatus.QUEUED
    assert stored.available_at > harness.clock.now()
    assert (await harness.queue.stats()).delayed == 1
    harness.clock.advance(5)
    assert (await harness.process_next()).outcome == Outcome.COMPLETED
    assert harness.store.jobs[job.id].attempts == 2
    assert len(await harness.callbacks()) == 1


async def test_retry_after_is_honoured() -> None:
    harness = Harness(provider=ScriptedProvider([_error(ProviderErrorKind.RATE_LIMITED, retry_after=8.0)]))
    job = (await harness.jobs.submit(comparison())).job
    await harness.process_next()
    delay = (harness.store.jobs[job.id].available_at - harness.clock.now()).total_seconds()
    assert delay >= 8.0


async def test_attempts_exhausted_fails_with_one_callback() -> None:
    errors = [_error(ProviderErrorKind.SERVER_ERROR) for _ in range(3)]
    harness = Harness(provider=ScriptedProvider(errors), max_attempts=3)
    job = (await harness.jobs.submit(comparison())).job
    outcomes = []
    for _ in range(3):
        outcomes.append((await harness.process_next()).outcome)
        harness.clock.advance(20)
    assert outcomes == [Outcome.RETRY_SCHEDULED, Outcome.RETRY_SCHEDULED, Outcome.FAILED]
    callbacks = await harness.callbacks()
    assert len(callbacks) == 1
    detail = callbacks[0]["data"]["error_detail"]
    assert detail["error_code"] == "LLM_PROVIDER_API_ERROR"
    assert detail["details"]["kind"] == "server_error"
    assert detail["retryable"] is True
    assert detail["details"]["retryable"] is True
    assert callbacks[0]["data"]["attempts"] == 3
    assert harness.store.jobs[job.id].status == JobStatus.FAILED


async def test_terminal_error_fails_after_one_attempt() -> None:
    harness = Harness(provider=ScriptedProvider([_error(ProviderErrorKind.AUTHENTICATION)]))
    job = (await harness.jobs.submit(comparison())).job
    assert (await harness.process_next()).outcome == Outcome.FAILED
    assert harness.store.jobs[job.id].attempts == 1
    callbacks = await harness.callbacks()
    assert [c["data"]["error_detail"]["error_code"] for c in callbacks] == ["AUTHENTICATION_ERROR"]
    assert callbacks[0]["data"]["error_detail"]["details"]["kind"] == "authentication"
    assert len(callbacks[0]["data"]["request_metadata"]["prompt_sha256"]) == 64


async def test_invalid_answer_gets_one_repair_call() -> None:
    bad = CompletionResponse(
        text="",
        usage=TokenUsage(1, 1),
        model="m",
        structured={"winner": "Essay C", "justification": "x", "confidence": 3},
    )
    harness = Harness(provider=ScriptedProvider([bad, comparison_answer()]))
    await harness.jobs.submit(comparison())
    assert (await harness.process_next()).outcome == Outcome.COMPLETED
    assert len(harness.provider.requests) == 2
    assert "did not match" in harness.provider.requests[1].messages[-1].content


async def test_invalid_answer_twice_fails_and_never_invents_a_verdict() -> None:
    malformed = CompletionResponse(text="{not json", usage=TokenUsage(1, 1), model="m")
    harness = Harness(provider=ScriptedProvider([malformed, malformed]))
    await harness.jobs.submit(comparison())
    assert (await harness.process_next()).outcome == Outcome.FAILED
    data = (await harness.callbacks())[0]["data"]
    assert data["winner"] is None
    assert data["confidence"] is None
    assert data["error_detail"]["error_code"] == "LLM_INVALID_RESPONSE"
    # The original's model rejects nulls here: zeros when nothing (billable) came back.
    assert (data["token_usage"], data["cost_estimate"]) == (
        {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        0.0,
    )
    assert isinstance(data["response_time_ms"], int)


async def test_open_circuit_defers_jobs_without_spending_attempts() -> None:
    errors = [_error(ProviderErrorKind.OVERLOADED) for _ in range(2)]
    harness = Harness(provider=ScriptedProvider(errors), failure_threshold=2, max_attempts=5)
    first = (await harness.jobs.submit(comparison())).job
    second = (await harness.jobs.submit(comparison())).job
    await harness.process_next()
    await harness.process_next()
    harness.clock.advance(15)  # both retries are due, the breaker is still open (30 s)
    assert (await harness.process_next()).outcome == Outcome.DEFERRED
    assert harness.store.jobs[first.id].attempts == 1
    assert harness.store.jobs[second.id].attempts == 1
    assert harness.store.jobs[first.id].status == JobStatus.QUEUED
    harness.clock.advance(30)
    assert (await harness.process_next()).outcome == Outcome.COMPLETED


async def test_caller_errors_never_open_the_circuit() -> None:
    errors = [_error(ProviderErrorKind.INVALID_REQUEST) for _ in range(3)]
    harness = Harness(provider=ScriptedProvider(errors), failure_threshold=2)
    for _ in range(3):
        await harness.jobs.submit(comparison())
        await harness.process_next()
    assert harness.breakers.get("mock").state.value == "closed"


async def test_job_past_its_ttl_expires_when_claimed() -> None:
    harness = Harness(ttl_seconds=10)
    job = (await harness.jobs.submit(comparison())).job
    harness.clock.advance(11)
    assert (await harness.process_next()).outcome == Outcome.EXPIRED
    assert harness.provider.requests == []
    callbacks = await harness.callbacks()
    assert [c["data"]["error_detail"]["error_code"] for c in callbacks] == ["TIMEOUT"]
    assert callbacks[0]["data"]["error_detail"]["details"]["kind"] == "expired"
    assert harness.store.jobs[job.id].status == JobStatus.EXPIRED


async def test_cancelled_job_claimed_later_is_skipped() -> None:
    harness = Harness()
    job = (await harness.jobs.submit(comparison())).job
    lease = (await harness.queue.claim(max_jobs=1, lease_seconds=30))[0]
    harness.store.jobs[job.id] = harness.store.jobs[job.id].with_changes(status=JobStatus.CANCELLED)
    assert (await harness.processor.process(lease)).outcome == Outcome.SKIPPED
    assert harness.provider.requests == []
