"""Use cases at the front door: submit a comparison job, read it, wait for it, cancel it."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from llm_provider_service.domain.catalog import ModelCatalog, ModelInfo, without_params
from llm_provider_service.domain.errors import (
    ConflictError,
    NotFoundError,
    QueueFullError,
    QueueUnavailableError,
    UnknownProviderError,
    UnsupportedParameterError,
)
from llm_provider_service.domain.models import ComparisonRequest, Job, JobStatus
from llm_provider_service.ports import LLMProvider, QueueStats
from llm_provider_service.service.job_context import JobContext
from llm_provider_service.service.job_routing import JobRoutes

logger = logging.getLogger(__name__)

STORE_POLL_SECONDS = 0.25
STATS_CACHE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Submission:
    """An accepted job. `created` is False when an idempotency key returned an earlier job."""

    job: Job
    created: bool
    estimated_wait_seconds: float


class JobService:
    """Accepts jobs (record, then enqueue), answers status reads, waits and cancellations."""

    def __init__(
        self,
        context: JobContext,
        *,
        providers: Mapping[str, LLMProvider],
        catalog: ModelCatalog,
        default_provider: str,
        job_ttl_seconds: float,
        worker_slots: int,
        unsupported_params: Literal["drop", "reject"] = "drop",
        routes: JobRoutes | None = None,
    ) -> None:
        self._store = context.store
        self._routes = routes
        self._unsupported_params = unsupported_params
        self._dropped_logged: set[tuple[str, str]] = set()
        self._queue = context.queue
        self._providers = providers
        self._catalog = catalog
        self._default_provider = default_provider
        self._ttl = timedelta(seconds=job_ttl_seconds)
        self._worker_slots = max(1, worker_slots)
        self._events = context.events
        self._outcomes = context.outcomes
        self._signals = context.signals
        self._clock = context.clock
        self._stats: QueueStats | None = None
        self._stats_read_at = -math.inf

    def resolve_model(self, request: ComparisonRequest) -> ModelInfo:
        """The provider and model a request will run on: any id of a configured provider (the vendor decides)."""
        provider = str(request.overrides.provider or self._default_provider)
        if provider not in self._providers:
            raise UnknownProviderError(f"provider {provider!r} is not configured on this service")
        return self._catalog.lookup(provider, request.overrides.model)

    def route_names(self) -> frozenset[str]:
        """The routes and aliases a job's `provider_override` may name."""
        return frozenset(self._routes.names()) if self._routes is not None else frozenset()

    def _resolve(self, request: ComparisonRequest) -> tuple[str, list[ModelInfo]]:
        """The job's `provider` (a provider, or a route's name) and the models it may run on, primary first.

        An unknown route is refused before anything is stored; a route picks its own models, so a
        `model_override` next to one is refused too."""
        route = request.overrides.route
        if route is None:
            model = self.resolve_model(request)
            return model.provider, [model]
        models = self._routes.models(route) if self._routes is not None else None
        if models is None:
            known = sorted({*self._providers, *(self._routes.names() if self._routes is not None else ())})
            raise UnknownProviderError(f"unknown provider or route {route!r}; known here: {', '.join(known)}")
        if request.overrides.model is not None:
            raise UnsupportedParameterError(
                f"route {route!r} chooses its own models: send no model_override with it", param="model_override"
            )
        return route, models

    def _apply_parameter_policy(self, request: ComparisonRequest, models: list[ModelInfo]) -> ComparisonRequest:
        """Parameters a model cannot take (any target of a route): refused (`reject`), or removed and named
        in the callback (`drop`)."""
        names = tuple(dict.fromkeys(name for model in models for name in model.unsupported(request.overrides)))
        if not names:
            return request
        model = models[0]
        if self._unsupported_params == "reject":
            raise UnsupportedParameterError(f"{model.provider}/{model.model_id} does not accept {', '.join(names)}")
        if (model.provider, model.model_id) not in self._dropped_logged and len(self._dropped_logged) < 1024:
            self._dropped_logged.add((model.provider, model.model_id))
            logger.warning("%s/%s does not accept %s: dropped", model.provider, model.model_id, ", ".join(names))
        return without_params(request, names)

    async def submit(
        self, request: ComparisonRequest, *, idempotency_key: str | None = None, trace_id: str | None = None
    ) -> Submission:
        provider, models = self._resolve(request)
        request = self._apply_parameter_policy(request, models)
        now = self._clock.now()
        job = Job(
            id=str(uuid.uuid4()),
            request=request,
            status=JobStatus.QUEUED,
            provider=provider,
            model=models[0].model_id,
            created_at=now,
            updated_at=now,
            available_at=now,
            expires_at=now + self._ttl,
            idempotency_key=idempotency_key,
            trace_id=trace_id or secrets.token_hex(16),
        )
        stored = await self._store.add(job)
        if stored.id != job.id:
            return Submission(stored, created=False, estimated_wait_seconds=await self._estimate_wait())
        try:
            await self._queue.enqueue(job.id, priority=request.priority)
        except QueueFullError:
            await self._store.discard(job.id)
            raise
        except QueueUnavailableError as error:
            # The store holds the job; the reconciler (or a store-claiming worker) dispatches it later.
            logger.warning("queue unavailable (%s); job %s recorded and left for the reconciler", error, job.id)
        return Submission(stored, created=True, estimated_wait_seconds=await self._estimate_wait())

    async def _estimate_wait(self) -> float:
        """Rough wait from the queue depth, read at most once a second (a cheap O(1) call anyway)."""
        moment = self._clock.monotonic()
        if self._stats is None or moment - self._stats_read_at > STATS_CACHE_SECONDS:
            try:
                self._stats = await self._queue.stats()
            except QueueUnavailableError:
                return 0.0
            self._stats_read_at = moment
        return round(self._stats.ready / self._worker_slots, 1)

    async def get(self, job_id: str) -> Job:
        job = await self._store.get(job_id)
        if job is None:
            raise NotFoundError(f"no job with queue_id {job_id!r}")
        return job

    async def wait(self, job_id: str, timeout_seconds: float) -> Job:
        """The job once terminal, or as it stands when the timeout passes."""
        # Waiting is real time on the event loop's clock, whatever clock stamps the jobs.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        job = await self.get(job_id)
        while not job.status.is_terminal:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._signals.wait(job_id, min(remaining, STORE_POLL_SECONDS))
            job = await self.get(job_id)
        return job

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job that no worker has started; its callback says cancelled."""
        job = await self.get(job_id)
        if job.status == JobStatus.CANCELLED:
            return job
        if job.status != JobStatus.QUEUED:
            raise ConflictError(f"job {job_id} is {job.status.value} and can no longer be cancelled")
        now = self._clock.now()
        # A routed job that never ran reports its route's primary target (the callback needs a vendor).
        named = self._routes.primary(job) if self._routes is not None else job
        outcome = self._outcomes.cancelled(named, now=now)
        finished = await self._store.finish(
            job_id, outcome, owner=None, now=now, events=self._events.terminal(named, outcome, now=now)
        )
        if finished is None:
            raise ConflictError(f"job {job_id} started before it could be cancelled")
        try:
            await self._queue.remove(job_id)
        except QueueUnavailableError:
            logger.warning("queue unavailable while cancelling %s; a worker will find it cancelled", job_id)
        self._signals.notify(job_id)
        return finished
