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

    The renewal task is owned here: started when the first renewal falls due (a job that ends sooner, most of them,
    costs one timer instead of a task), cancelled and awaited on exit. When the lease is lost
    (expired and taken by another worker, or taken over in the store), the block is cancelled at once, the
    way `asyncio.timeout` cancels: the vendor call stops instead of paying for an answer nobody may write.
    That cancellation ends at this context's exit (`lost` is then True); a cancellation from outside
    (shutdown) still propagates.
    """

    def __init__(self, *, queue: JobQueue, store: JobStore, clock: Clock, lease: Lease, lease_seconds: float) -> None:
        self._queue = queue
        self._store = store
        self._clock = clock
        self.lease = lease
        self._lease_seconds = lease_seconds
        self.lost = False
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._holder: asyncio.Task[object] | None = None
        self._exiting = False

    async def __aenter__(self) -> LeaseKeeper:
        self._holder = asyncio.current_task()
        self._timer = asyncio.get_running_loop().call_later(self._lease_seconds / 3, self._start_renewing)
        return self

    def _start_renewing(self) -> None:
        self._timer = None
        if not self._exiting:
            self._task = asyncio.create_task(self._renew_forever(), name=f"lease-{self.lease.job_id}")

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self._exiting = True  # from here on a lost lease no longer cancels the block
        # Our cancellation (lease lost) ends here; one from outside as well is left to propagate.
        swallow = self.lost and exc_type is asyncio.CancelledError
        if swallow and self._holder is not None and self._holder.uncancel() > 0:
            swallow = False
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                # Our own cancellation of the renewal task; a cancellation of the caller is re-raised by it.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        return swallow

    async def _renew_forever(self) -> None:
        interval = self._lease_seconds / 3
        await self._renew_once()  # the first renewal is due now: the timer waited out its interval
        while not self.lost:
            await asyncio.sleep(interval)
            await self._renew_once()
        if self._holder is not None and not self._exiting:
            self._holder.cancel()  # stop the vendor call: the job is someone else's now

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
