"""Usage accounting off the hot path: records are buffered in memory and written to the store in batches.

`add` is synchronous and O(1), so a request never waits for the database. A background loop (`run`,
supervised by the runtime's TaskGroup) writes a batch every `flush_interval_seconds`, or sooner once
`batch_size` records are waiting. The buffer is bounded: when the store is down for long, the oldest
records are dropped and counted rather than letting memory grow without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from llm_provider_service.domain.errors import ServiceError
from llm_provider_service.domain.usage import UsageRecord
from llm_provider_service.ports import UsageStore

logger = logging.getLogger(__name__)


class UsageRecorder:
    """A bounded buffer of `UsageRecord`s flushed to a `UsageStore` by `run` (and `flush` at shutdown)."""

    def __init__(
        self,
        store: UsageStore,
        *,
        flush_interval_seconds: float = 0.5,
        batch_size: int = 500,
        max_buffered: int = 50_000,
    ) -> None:
        if batch_size < 1 or max_buffered < batch_size:
            raise ValueError("batch_size must be at least 1 and max_buffered at least batch_size")
        self._store = store
        self._flush_interval_seconds = flush_interval_seconds
        self._batch_size = batch_size
        self._buffer: deque[UsageRecord] = deque(maxlen=max_buffered)
        self._wake = asyncio.Event()
        self.dropped = 0
        self.written = 0

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def add(self, record: UsageRecord) -> None:
        """Queue one record; never blocks. At the bound the oldest record is dropped (and counted)."""
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(record)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    async def flush(self) -> int:
        """Write everything buffered, a batch at a time; returns how many were written.

        If the store is unavailable the batch goes back to the front of the buffer for the next try.
        """
        written = 0
        while self._buffer:
            batch = [self._buffer.popleft() for _ in range(min(self._batch_size, len(self._buffer)))]
            try:
                await self._store.record_usage(batch)
            except ServiceError as exc:
                self._buffer.extendleft(reversed(batch))
                logger.warning("usage not written (%s); %d records kept for the next flush", exc.code, len(batch))
                break
            written += len(batch)
        self.written += written
        return written

    async def run(self, stop: asyncio.Event) -> None:
        """Flush periodically or when a batch is full, until `stop` is set; then flush what is left."""
        while not stop.is_set():
            await self._wait(stop)
            self._wake.clear()
            await self.flush()
        await self.flush()

    async def _wait(self, stop: asyncio.Event) -> None:
        waiters = (asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=self._flush_interval_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
