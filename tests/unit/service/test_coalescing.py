"""`Coalescer`: calls made while a batch runs share the next one; each caller gets its own outcome, after the batch."""

from __future__ import annotations

import asyncio

import pytest

from llm_provider_service.service.coalescing import Coalescer


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def flush(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(items)
        await self.release.wait()
        return [ValueError(item) if item < 0 else item * 10 for item in items]


async def test_a_lone_call_runs_at_once_in_a_batch_of_one() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.flush)

    assert await coalescer.submit(1) == 10
    assert recorder.batches == [[1]]


async def test_calls_made_while_a_batch_runs_share_the_next_batch() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.flush, max_batch=3)
    recorder.release.clear()
    first = asyncio.ensure_future(coalescer.submit(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(coalescer.submit(n)) for n in range(2, 7)]
    await asyncio.sleep(0)
    assert not first.done()  # nobody hears of a batch before it returned

    recorder.release.set()

    assert await asyncio.gather(first, *later) == [10, 20, 30, 40, 50, 60]
    assert recorder.batches == [[1], [2, 3, 4], [5, 6]]


async def test_a_call_right_after_a_batch_ended_starts_the_next() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.flush)

    for n in range(5):
        assert await coalescer.submit(n) == n * 10

    assert recorder.batches == [[0], [1], [2], [3], [4]]


async def test_each_caller_gets_its_own_error() -> None:
    coalescer = Coalescer(Recorder().flush)

    outcomes = await asyncio.gather(coalescer.submit(1), coalescer.submit(-2), return_exceptions=True)

    assert outcomes[0] == 10
    assert isinstance(outcomes[1], ValueError)


async def test_a_failing_batch_fails_each_of_its_callers_and_the_next_batch_runs() -> None:
    calls: list[list[int]] = []

    async def flush(items: list[int]) -> list[int | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            raise ConnectionError("down")
        return list(items)

    coalescer = Coalescer(flush)
    outcomes = await asyncio.gather(coalescer.submit(1), coalescer.submit(2), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [ConnectionError, ConnectionError]

    assert await coalescer.submit(3) == 3


async def test_a_cancelled_caller_leaves_the_batch_to_run() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.flush)
    recorder.release.clear()
    cancelled = asyncio.ensure_future(coalescer.submit(1))
    other = asyncio.ensure_future(coalescer.submit(2))
    await asyncio.sleep(0)
    await asyncio.sleep(0)

    cancelled.cancel()
    recorder.release.set()

    assert await other == 20
    assert recorder.batches == [[1, 2]]
    with pytest.raises(asyncio.CancelledError):
        await cancelled


def test_a_batch_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        Coalescer(Recorder().flush, max_batch=0)


def test_a_coalescer_serves_a_new_event_loop_after_its_old_one_closed_mid_batch() -> None:
    stuck = asyncio.Event()

    async def flush(items: list[int]) -> list[int | BaseException]:
        if items == [1]:
            await stuck.wait()  # never set: the loop is closed with this batch in flight
        return list(items)

    coalescer = Coalescer(flush)

    async def abandon() -> None:
        task = asyncio.ensure_future(coalescer.submit(1))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        task.cancel()

    loop = asyncio.new_event_loop()
    loop.run_until_complete(abandon())
    loop.close()  # closed without cancelling its tasks: the runner stays pending for good

    async def submit_again() -> int:
        return await asyncio.wait_for(coalescer.submit(2), timeout=5)

    assert asyncio.run(submit_again()) == 2
