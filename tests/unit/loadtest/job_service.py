"""A fake async-job service (202 + queue_id, results by polling) whose worker finishes a bounded number of jobs/s."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.unit.loadtest.servers import ScriptedServer


class JobService(ScriptedServer):
    """Accepts every job at once; a single worker completes at most `jobs_per_second` (None: instantly).

    With `accept_delay_seconds` the accept itself is serialised, as on a saturated single writer.
    """

    def __init__(self, *, jobs_per_second: float | None = None, accept_delay_seconds: float = 0.0) -> None:
        super().__init__()
        self.jobs_per_second = jobs_per_second
        self.accept_delay_seconds = accept_delay_seconds
        self._ids = itertools.count(1)
        self._jobs: dict[str, dict[str, Any]] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._writer = asyncio.Lock()
        self._worker: asyncio.Task[None] | None = None

    def _finish(self, queue_id: str) -> None:
        job = self._jobs[queue_id]
        job["status"] = "completed"
        job["result"] = {
            "request_id": queue_id,
            "requested_at": job["requested_at"],
            "completed_at": datetime.now(UTC).isoformat(),
            "token_usage": {"total_tokens": 30},
        }

    async def _work(self) -> None:
        assert self.jobs_per_second is not None
        while True:
            queue_id = await self._queue.get()
            await asyncio.sleep(1.0 / self.jobs_per_second)
            self._finish(queue_id)

    async def _submit(self, request: web.Request) -> web.Response:
        await request.read()
        if self.accept_delay_seconds:
            async with self._writer:
                await asyncio.sleep(self.accept_delay_seconds)
        queue_id = f"job-{next(self._ids)}"
        self._jobs[queue_id] = {"status": "queued", "requested_at": datetime.now(UTC).isoformat()}
        if self.jobs_per_second is None:
            self._finish(queue_id)
        else:
            if self._worker is None:
                self._worker = asyncio.get_running_loop().create_task(self._work())
            self._queue.put_nowait(queue_id)
        return web.json_response({"queue_id": queue_id, "status": "queued"}, status=202)

    async def _status(self, request: web.Request) -> web.Response:
        job = self._jobs.get(request.match_info["queue_id"])
        if job is None:
            return web.json_response({"code": "not_found"}, status=404)
        return web.json_response({"queue_id": request.match_info["queue_id"], **job})

    def app(self) -> web.Application:
        application = super().app()
        application.router.add_post("/api/v1/comparison", self._submit)
        application.router.add_get("/api/v1/requests/{queue_id}", self._status)
        return application
