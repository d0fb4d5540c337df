"""Keeps a job's lease alive (queue and store) while its provider call runs."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from types import TracebackType

from llm_provider_service.domain.errors import QueueUnavailableError, StoreUnavailableError
from llm_provider_service.ports import Clock, JobQueue, JobStore, Lease

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """An async context that renews a lease every third of its length until the block exits.

    The renewal task is owned here: started on enter, cancelled and awaited on exit.
    """

    def __init__(self, *, queue: JobQueue, store: JobStore, clock: Clock, lease: Lease, lease_seconds: float) -> None:
        self._queue = queue
        self._store = store
        self._clock = clock
        self.lease = lease
        self._lease_seconds = lease_seconds
        self.lost = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LeaseKeeper:
        self._task = asyncio.create_task(self._renew_forever(), name=f"lease-{self.lease.job_id}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                # Our own cancellation of the renewal task; a cancellation of the caller is re-raised by it.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    async def _renew_forever(self) -> None:
        interval = self._lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            await self._renew_once()

    async def _renew_once(self) -> None:
        try:
            renewed = await self._queue.renew(self.lease, lease_seconds=self._lease_seconds)
        except QueueUnavailableError:
            renewed = self.lease  # the store lease below still fences the job
        if renewed is None:
            self.lost = True
            logger.warning("lease on job %s was lost", self.lease.job_id)
            return
        self.lease = renewed
        expires = self._clock.now() + timedelta(seconds=self._lease_seconds)
        try:
            still_ours = await self._store.extend_lease(
                self.lease.job_id, owner=self.lease.token, lease_expires_at=expires
            )
        except StoreUnavailableError:
            logger.warning("store unavailable while renewing the lease on job %s", self.lease.job_id)
            return
        if not still_ours:
            self.lost = True
            logger.warning("store lease on job %s was taken over", self.lease.job_id)
