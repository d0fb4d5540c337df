"""The worker's coalesced writes: concurrent calls share one batch, and errors reach the right callers."""

from __future__ import annotations

import asyncio

import pytest

from llm_provider_service.domain.errors import StoreUnavailableError
from llm_provider_service.service.coalescing import Coalescer
from llm_provider_service.service.job_writes import narrowing


class Recorder:
    """A batch operation that doubles numbers, can be held at a gate, and fails on request."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_on: int | None = None
        self.unavailable = False

    async def run(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.unavailable:
            raise StoreUnavailableError("down")
        if self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [item * 2 for item in items]


async def test_calls_made_in_one_turn_of_the_loop_share_one_batch() -> None:
    recorder = Recorder()
    coalescer = Coalescer(narrowing(recorder.run))

    answers = await asyncio.gather(*(coalescer.submit(n) for n in range(5)))

    assert answers == [0, 2, 4, 6, 8]
    assert recorder.batches == [[0, 1, 2, 3, 4]]


async def test_calls_made_while_a_batch_is_written_go_out_together_next() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    coalescer = Coalescer(narrowing(recorder.run))
    first = asyncio.ensure_future(coalescer.submit(1))
    await asyncio.sleep(0.01)  # the first batch is in flight, held at the gate
    later = [asyncio.ensure_future(coalescer.submit(n)) for n in (2, 3)]
    await asyncio.sleep(0.01)
    recorder.gate.set()

    assert [await first, *[await task for task in later]] == [2, 4, 6]
    assert recorder.batches == [[1], [2, 3]]


async def test_batches_hold_at_most_max_batch_items() -> None:
    recorder = Recorder()
    coalescer = Coalescer(narrowing(recorder.run), max_batch=2)

    await asyncio.gather(*(coalescer.submit(n) for n in range(5)))

    assert recorder.batches == [[0, 1], [2, 3], [4]]


async def test_an_outage_fails_every_caller_of_the_batch() -> None:
    recorder = Recorder()
    recorder.unavailable = True
    coalescer = Coalescer(narrowing(recorder.run))

    results = await asyncio.gather(*(coalescer.submit(n) for n in range(3)), return_exceptions=True)

    assert all(isinstance(result, StoreUnavailableError) for result in results)
    assert recorder.batches == [[0, 1, 2]]


async def test_any_other_failure_reaches_only_the_caller_whose_item_caused_it() -> None:
    recorder = Recorder()
    recorder.fail_on = 1
    coalescer = Coalescer(narrowing(recorder.run))

    results = await asyncio.gather(*(coalescer.submit(n) for n in range(3)), return_exceptions=True)

    assert results[0] == 0
    assert isinstance(results[1], ValueError)
    assert results[2] == 4
    assert recorder.batches == [[0, 1, 2], [0], [1], [2]]


async def test_a_cancelled_caller_leaves_the_others_their_answers() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    coalescer = Coalescer(narrowing(recorder.run))
    tasks = [asyncio.ensure_future(coalescer.submit(n)) for n in range(3)]
    await asyncio.sleep(0.01)
    tasks[1].cancel()
    recorder.gate.set()

    assert await tasks[0] == 0
    assert await tasks[2] == 4
    with pytest.raises(asyncio.CancelledError):
        await tasks[1]
    assert recorder.batches == [[0, 1, 2]]  # its item was written all the same
