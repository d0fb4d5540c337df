"""Group commit for async adapters: calls made while a batch is in flight are coalesced into the next batch.

A caller's `submit` resolves only with its own outcome from the batch it ran in, after that batch call returned
(for a store: after its COMMIT), so coalescing changes how many round trips there are, never what a caller is
told. There is no timer: the first call of an idle coalescer starts a batch on the next turn of the event loop
(gathering the calls made in that same turn), and while a batch runs the next one fills up, so batches grow with
the load and a lone call waits for nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
# One outcome per item, in order: a value, or the exception that item's caller gets.
Flush = Callable[[list[Item]], Awaitable[Sequence[Result | BaseException]]]


class Coalescer(Generic[Item, Result]):
    """Runs `flush` over the items submitted meanwhile, one batch at a time, at most `max_batch` items each."""

    def __init__(self, flush: Flush[Item, Result], *, max_batch: int = 256, name: str = "coalescer") -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._flush = flush
        self._max_batch = max_batch
        self._name = name
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._runner: asyncio.Task[None] | None = None
        self.batches = 0  # flushes run; tests read it to see calls share batches

    async def submit(self, item: Item) -> Result:
        """`item`'s outcome once the batch it ran in has returned."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        # A runner left behind by a closed event loop (an adapter reused across `asyncio.run`s) never runs again.
        if self._runner is None or self._runner.done() or self._runner.get_loop() is not loop:
            self._runner = asyncio.create_task(self._run(), name=self._name)
        # A cancelled caller cancels only its future: its item is written (or fails) with the batch all the same.
        return await future

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            outcomes: Sequence[Result | BaseException]
            try:
                outcomes = await self._flush([item for item, _ in batch])
            except BaseException as error:  # every caller of the batch must hear of it
                _settle(batch, [error] * len(batch))
                if not isinstance(error, Exception):
                    raise
                continue
            finally:
                self.batches += 1
            if len(outcomes) != len(batch):
                outcomes = [RuntimeError(f"{self._name}: {len(outcomes)} outcomes for {len(batch)} items")] * len(batch)
            _settle(batch, outcomes)


def _settle(batch: list[tuple[Item, asyncio.Future[Result]]], outcomes: Sequence[Result | BaseException]) -> None:
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
