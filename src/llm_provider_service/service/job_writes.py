"""The worker's per-job writes, coalesced across its concurrent jobs: begins, finishes and queue acks in batches.

Each job task still awaits its own begin, finish or ack and gets its own answer; underneath (`Coalescer`), what the
tasks ask for while a batch is being written waits and goes out as the next batch (group commit): one store
transaction (`JobStore.begin_attempts`, `finish_many`) or one queue call (`JobQueue.ack_many`) instead of one per
job. Nothing waits on a timer: a lone job's write leaves on the next turn of the event loop, so batching costs no
latency and grows with load by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from llm_provider_service.domain.errors import ServiceError
from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import Job, OutboxEvent
from llm_provider_service.ports import AttemptStart, JobFinish, JobQueue, JobStore, Lease
from llm_provider_service.service.coalescing import Coalescer, Flush

logger = logging.getLogger(__name__)

MAX_BATCH = 128
Item = TypeVar("Item")
Answer = TypeVar("Answer")


def narrowing(run: Callable[[list[Item]], Awaitable[Sequence[Answer]]]) -> Flush[Item, Answer]:
    """A batch operation as a `Coalescer` flush: one answer per item, in order.

    A `ServiceError` (the store or queue is down) is every item's answer; any other exception is narrowed down by
    running each item alone, so only the item that causes it sees it.
    """

    async def flush(items: list[Item]) -> list[Answer | BaseException]:
        try:
            return list(await run(items))
        except ServiceError as error:
            return [error] * len(items)
        except Exception as error:  # noqa: BLE001 - handed to the callers, or narrowed down to one item below
            if len(items) == 1:
                return [error]
            logger.warning("a batched write failed (%s); writing its items one by one", type(error).__name__)
            return [outcome for item in items for outcome in await flush([item])]

    return flush


class JobWrites:
    """`begin_attempt`, `finish` and `ack` of one job, as its task sees them; many jobs' calls share one write."""

    def __init__(self, store: JobStore, queue: JobQueue, *, max_batch: int = MAX_BATCH) -> None:
        self._begins: Coalescer[AttemptStart, Job | None] = Coalescer(
            narrowing(store.begin_attempts), max_batch=max_batch, name="job-begins"
        )
        self._finishes: Coalescer[JobFinish, bool] = Coalescer(
            narrowing(store.finish_many), max_batch=max_batch, name="job-finishes"
        )
        self._acks: Coalescer[Lease, None] = Coalescer(
            narrowing(self._ack_many(queue)), max_batch=max_batch, name="job-acks"
        )

    async def begin_attempt(
        self, job_id: str, *, owner: str, now: datetime, lease_expires_at: datetime, events: Sequence[OutboxEvent]
    ) -> Job | None:
        return await self._begins.submit(AttemptStart(job_id, owner, now, lease_expires_at, tuple(events)))

    async def finish(
        self, job_id: str, outcome: JobOutcome, *, owner: str | None, now: datetime, events: Sequence[OutboxEvent]
    ) -> bool:
        return await self._finishes.submit(JobFinish(job_id, outcome, owner, now, tuple(events)))

    async def ack(self, lease: Lease) -> None:
        await self._acks.submit(lease)

    @staticmethod
    def _ack_many(queue: JobQueue) -> Callable[[list[Lease]], Awaitable[list[None]]]:
        async def ack_many(leases: list[Lease]) -> list[None]:
            await queue.ack_many(leases)
            return [None] * len(leases)

        return ack_many
