"""In-process wake-ups: job finished (for `?wait=N`) and outbox has new rows (for the relay)."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class CompletionSignals:
    """Lets request handlers wait for a job finished by a worker in the same process.

    Across processes there is no signal, so waiters also re-read the store on a short interval.
    """

    def __init__(self) -> None:
        self._waiters: defaultdict[str, list[asyncio.Event]] = defaultdict(list)

    def notify(self, job_id: str) -> None:
        for event in self._waiters.pop(job_id, []):
            event.set()

    async def wait(self, job_id: str, timeout_seconds: float) -> bool:
        """True if notified within the timeout."""
        event = asyncio.Event()
        self._waiters[job_id].append(event)
        try:
            async with asyncio.timeout(timeout_seconds):
                await event.wait()
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None and event in waiters:
                waiters.remove(event)
                if not waiters:
                    del self._waiters[job_id]
        return True
