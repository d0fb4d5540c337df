"""The worker's per-job writes, coalesced across its concurrent jobs: begins, finishes and queue acks in batches.

Each job task still awaits its own begin, finish or ack and gets its own answer; underneath, what the tasks ask
for while a batch is being written waits and goes out as the next batch (group commit): one store transaction
(`JobStore.begin_attempts`, `finish_many`) or one queue call (`JobQueue.ack_many`) instead of one per job. Nothing
waits on a timer: a lone job's write leaves on the next turn of the event loop, so batching costs no latency and
grows with load by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from llm_provider_service.domain.errors import ServiceError
from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import Job, OutboxEvent
from llm_provider_service.ports import AttemptStart, JobFinish, JobQueue, JobStore, Lease

logger = logging.getLogger(__name__)

MAX_BATCH = 128
Item = TypeVar("Item")
Answer = TypeVar("Answer")


class Coalescer(Generic[Item, Answer]):
    """Hands the items submitted by concurrent tasks to `run` together, at most `max_batch` at a time.

    `run` answers one result per item, in order. If it raises a `ServiceError` (the store or queue is down) every
    item of the batch gets that error; any other exception is narrowed down by running each item alone, so only
    the item that causes it sees it.
    """

    def __init__(self, run: Callable[[list[Item]], Awaitable[Sequence[Answer]]], *, max_batch: int = MAX_BATCH) -> None:
        self._run = run
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Answer]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="coalescer")
        # A cancelled caller stops waiting (its future is cancelled, and skipped when the answers come); its item is
        # written all the same, as a single write it had started would have been.
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
                await self._settle(batch)
        finally:
            self._flusher = None

    async def _settle(self, batch: list[tuple[Item, asyncio.Future[Answer]]]) -> None:
        try:
            answers = await self._run([item for item, _ in batch])
        except ServiceError as error:
            for _, future in batch:
                _fail(future, error)
            return
        except Exception as error:  # noqa: BLE001 - handed to the callers, or narrowed down to one item below
            if len(batch) == 1:
                _fail(batch[0][1], error)
                return
            logger.warning("a batched write failed (%s); writing its items one by one", type(error).__name__)
            for single in batch:
                await self._settle([single])
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)


def _fail(future: asyncio.Future[Answer], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


class JobWrites:
    """`begin_attempt`, `finish` and `ack` of one job, as its task sees them; many jobs' calls share one write."""

    def __init__(self, store: JobStore, queue: JobQueue, *, max_batch: int = MAX_BATCH) -> None:
        self._begins: Coalescer[AttemptStart, Job | None] = Coalescer(store.begin_attempts, max_batch=max_batch)
        self._finishes: Coalescer[JobFinish, bool] = Coalescer(store.finish_many, max_batch=max_batch)
        self._acks: Coalescer[Lease, None] = Coalescer(self._ack_many(queue), max_batch=max_batch)

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
