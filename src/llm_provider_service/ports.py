"""The few ports the core depends on. Each has a real adapter and an in-memory or scripted fake.

Every method may raise only errors from `domain.errors`; adapters translate library exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from llm_provider_service.domain.batches import BatchItemOutcome, BatchRecord, VendorBatch
from llm_provider_service.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import (
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Job,
    JobStatus,
    OutboxEvent,
)
from llm_provider_service.domain.rate_limits import BudgetState, Demand, Dimension, Grant, RateLimitObservation
from llm_provider_service.domain.usage import UsageGrouping, UsageRecord, UsageSummaryRow


class Clock(Protocol):
    """Time, injected so that tests control it. `now` is timezone-aware UTC; `monotonic` is in seconds."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class LLMProvider(Protocol):
    """One vendor (or the mock). Raises `ProviderError` with the shared taxonomy; never retries by itself."""

    @property
    def name(self) -> str: ...

    async def complete(self, request: CompletionRequest) -> CompletionResponse: ...


class StreamingLLMProvider(LLMProvider, Protocol):
    """A provider that can stream (used by the OpenAI-compatible gateway).

    `stream` yields text deltas in order, then a last chunk with the usage and finish reason when the
    vendor reported them. Errors before the first delta and mid-stream are `ProviderError`s.
    """

    def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]: ...


@runtime_checkable
class EmbeddingProvider(Protocol):
    """A provider with an embeddings API (OpenAI-protocol vendors, Gemini, the mock); not Anthropic."""

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse: ...


@dataclass(frozen=True, slots=True)
class Lease:
    """A claim on one job, valid until `expires_at` (epoch seconds) unless renewed.

    `token` fences the holder: renew, ack and release succeed only with the current token, so a worker
    whose lease expired (and whose job went to another worker) cannot touch the job again.
    """

    job_id: str
    token: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class AttemptStart:
    """One job of `JobStore.begin_attempts`: what `begin_attempt` takes for it."""

    job_id: str
    owner: str
    now: datetime
    lease_expires_at: datetime
    events: Sequence[OutboxEvent] = ()


@dataclass(frozen=True, slots=True)
class JobFinish:
    """One job of `JobStore.finish_many`: what `finish` takes for it."""

    job_id: str
    outcome: JobOutcome
    owner: str | None
    now: datetime
    events: Sequence[OutboxEvent] = ()


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Queue depth by state, read in O(1)."""

    ready: int
    delayed: int
    leased: int
    capacity: int

    @property
    def total(self) -> int:
        return self.ready + self.delayed + self.leased


class JobQueue(Protocol):
    """Fast dispatch of job ids: priority (higher first) then FIFO, atomic claims with leases.

    The queue holds ids only; the store is the system of record. Enqueueing an id already in the queue
    is a no-op. A lease that is neither renewed nor acked expires and its job becomes claimable again.
    """

    async def enqueue(self, job_id: str, *, priority: int, delay_seconds: float = 0.0) -> None:
        """Add a job; raises `QueueFullError` at capacity, `QueueUnavailableError` if unreachable."""

    async def claim(self, *, max_jobs: int, lease_seconds: float, wait_seconds: float = 0.0) -> list[Lease]:
        """Atomically take up to `max_jobs` ready jobs, waiting up to `wait_seconds` for the first one."""

    async def renew(self, lease: Lease, *, lease_seconds: float) -> Lease | None:
        """Extend a lease; None if it was lost (expired and taken, or acked)."""

    async def ack(self, lease: Lease) -> None:
        """The job is done with the queue: forget it."""

    async def ack_many(self, leases: Sequence[Lease]) -> None:
        """`ack` for each lease, in one call (stale leases are skipped, as `ack` skips them)."""

    async def release(self, lease: Lease, *, delay_seconds: float) -> None:
        """Give the job back, claimable again after `delay_seconds` (retry backoff, open circuit)."""

    async def remove(self, job_id: str) -> bool:
        """Drop a job that is not leased (cancellation); True if it was removed."""

    async def contains(self, job_ids: Sequence[str]) -> set[str]:
        """Which of these ids the queue holds in any state (for the reconciler)."""

    async def stats(self) -> QueueStats: ...


class JobStore(Protocol):
    """The system of record for jobs.

    State changes are conditional (compare-and-set on status and lease owner), so at most one worker can
    finish a job, and each state change is written with its outbox events in one transaction.
    Raises `StoreUnavailableError` when the database cannot be reached.
    """

    async def add(self, job: Job) -> Job:
        """Record a new job. With an idempotency key already used, returns the existing job instead."""

    async def discard(self, job_id: str) -> None:
        """Delete a job that was never acknowledged to the caller (queue full after recording)."""

    async def get(self, job_id: str) -> Job | None: ...

    async def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs of these ids that exist, by id: one read for a whole claim."""

    async def begin_attempt(
        self, job_id: str, *, owner: str, now: datetime, lease_expires_at: datetime, events: Sequence[OutboxEvent]
    ) -> Job | None:
        """Move a due queued job (or a processing job whose lease expired) to processing, count the
        attempt and set the lease. None if the job is not claimable (terminal, cancelled, leased)."""

    async def begin_attempts(self, starts: Sequence[AttemptStart]) -> list[Job | None]:
        """`begin_attempt` for each start, in order, in one transaction: one answer per start (a job listed twice
        begins once)."""

    async def extend_lease(self, job_id: str, *, owner: str, lease_expires_at: datetime) -> bool: ...

    async def reschedule(
        self, job_id: str, *, owner: str, now: datetime, available_at: datetime, last_error: Mapping[str, Any]
    ) -> bool:
        """Processing -> queued, claimable at `available_at` (retry backoff)."""

    async def release_attempt(self, job_id: str, *, owner: str, now: datetime, available_at: datetime) -> bool:
        """Processing -> queued without counting the attempt (open circuit, shutdown before the call)."""

    async def finish(
        self, job_id: str, outcome: JobOutcome, *, owner: str | None, now: datetime, events: Sequence[OutboxEvent]
    ) -> Job | None:
        """Write a terminal outcome (status, callback payload as the result, its facts) and its events atomically.
        With `owner`, the job must be processing under that lease; without, it must be queued (cancel, expire).
        None if not applicable."""

    async def finish_many(self, finishes: Sequence[JobFinish]) -> list[bool]:
        """`finish` for each item, in order, in one transaction: True for each job it finished (a job listed twice
        finishes once)."""

    async def due_jobs(self, *, now: datetime, limit: int) -> list[Job]:
        """Queued jobs that are due and processing jobs whose lease expired, oldest first (reconciler)."""

    async def overdue_jobs(self, *, now: datetime, limit: int) -> list[Job]:
        """Non-terminal jobs whose `expires_at` has passed."""

    async def status_counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each status (for metrics and operators)."""

    async def ping(self) -> None:
        """Raise `StoreUnavailableError` unless the store answers."""


class OutboxStore(Protocol):
    """The outbox the job store's transactions write to, read by the relay (publish) and reconciler (prune)."""

    async def claim_outbox(self, *, now: datetime, limit: int, lock_seconds: float) -> list[OutboxEvent]:
        """Take up to `limit` unpublished events for publishing, hidden from other relays for a while."""

    async def mark_published(self, event_ids: Sequence[str], *, now: datetime) -> None: ...

    async def release_outbox(self, event_ids: Sequence[str]) -> None:
        """Hand claimed, still unpublished events back at once (their publish failed), without waiting out the lock."""

    async def outbox_backlog(self) -> int: ...

    async def prune_outbox(self, *, published_before: datetime, limit: int) -> int:
        """Delete up to `limit` events published before the cutoff (oldest first); returns how many."""


class UsageStore(Protocol):
    """Per-call usage (tokens, cost) for the gateway and jobs, summarised for `GET /api/v1/usage`."""

    async def record_usage(self, records: Sequence[UsageRecord]) -> None: ...

    async def usage_summary(
        self, *, start: datetime | None, end: datetime | None, group_by: UsageGrouping
    ) -> list[UsageSummaryRow]: ...


class BatchStore(Protocol):
    """Vendor batches in flight, recorded so that a worker killed between submit and collect loses nothing."""

    async def create_batch(
        self, batch: BatchRecord, *, collector: str, job_lease_expires_at: datetime
    ) -> BatchRecord | None:
        """Record a batch (phase submitting, polled by `batch.poll_owner`) and, in the same transaction, move
        those of its jobs still processing under `collector` to the batch's owner with the long lease.
        Returns the record with the jobs that moved; None (nothing recorded) when none did."""

    async def batch_submitted(self, batch_id: str, *, vendor_batch_id: str, now: datetime) -> bool:
        """submitting -> submitted with the vendor's id."""

    async def claim_batches(
        self, *, owner: str, now: datetime, lease_expires_at: datetime, limit: int
    ) -> list[BatchRecord]:
        """Open batches `owner` may poll now: its own, or any whose poll lease expired; the lease is (re)set."""

    async def end_batch(self, batch_id: str, *, vendor_state: str, now: datetime) -> bool:
        """Mark an open batch ended (after its jobs were ended); False if it already was."""

    async def open_batches(self, *, limit: int) -> list[BatchRecord]:
        """Batches not yet ended, oldest first (for operators)."""


class Store(JobStore, OutboxStore, UsageStore, BatchStore, Protocol):
    """One database holds all three (the outbox must share the jobs' transactions); wired as one object."""


class EventPublisher(Protocol):
    """Delivers events (Kafka, or a JSONL file when embedded). Raises `PublishError` if not all were delivered."""

    async def publish(self, events: Sequence[OutboxEvent]) -> None: ...


class RateBudget(Protocol):
    """Request and token budgets per key (provider/model), shared by every process that uses the same backend.

    Each operation is atomic across all of a key's dimensions. `now` is epoch seconds of the caller's clock.
    Raises `BudgetUnavailableError` when the backend cannot be reached (callers then run unthrottled).
    """

    async def reserve(
        self,
        key: str,
        *,
        demand: Demand,
        configured: Mapping[Dimension, int],
        job_id: str | None,
        now: float,
        horizon_seconds: float,
    ) -> Grant:
        """Take `demand` if it fits within `horizon_seconds`; else take nothing and say when to come back."""

    async def record(
        self, key: str, *, refund: Demand | None, observation: RateLimitObservation | None, now: float
    ) -> None:
        """After a call: give back what was over-estimated (negative: take more) and learn from the vendor."""

    async def states(self, *, now: float) -> list[BudgetState]:
        """Every budget with a known limit, for operators."""


class BatchProvider(Protocol):
    """A vendor's batch API: submit many calls at once (at the batch price), poll, read the results.

    `batch_results` of an ended batch has one outcome per item the vendor reports; an item it lost is absent,
    so the caller can end it by policy. Raises `ProviderError` with the shared taxonomy.
    """

    async def submit_batch(self, items: Sequence[tuple[str, CompletionRequest]]) -> VendorBatch: ...

    async def batch_status(self, batch_id: str) -> VendorBatch: ...

    async def batch_results(
        self, batch_id: str, requests: Mapping[str, CompletionRequest]
    ) -> list[BatchItemOutcome]: ...

    async def cancel_batch(self, batch_id: str) -> VendorBatch: ...
