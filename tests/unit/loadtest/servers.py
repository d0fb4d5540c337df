"""Scripted aiohttp servers on loopback for the toolkit's unit tests (in-loop and in a thread for CLI tests)."""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType
from typing import Self

from aiohttp import web


class ScriptedServer:
    """Answers GET /healthz with 200; optionally stalls every request for `stall_seconds` once,
    starting `stall_after_seconds` after the first request (a GC pause / failover, say)."""

    def __init__(self, *, stall_after_seconds: float | None = None, stall_seconds: float = 1.0) -> None:
        self.stall_after_seconds = stall_after_seconds
        self.stall_seconds = stall_seconds
        self.requests = 0
        self._first: float | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        if self._first is None:
            self._first = now
        self.requests += 1
        if self.stall_after_seconds is not None:
            start = self._first + self.stall_after_seconds
            end = start + self.stall_seconds
            if start <= now < end:
                await asyncio.sleep(end - now)
        return web.json_response({"status": "ok"})

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_get("/healthz", self._handle)
        return application

    async def __aenter__(self) -> Self:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class ThreadedServer:
    """A ScriptedServer on its own event loop in a thread, for tests that call the synchronous CLI."""

    def __init__(self, server: ScriptedServer | None = None) -> None:
        self.server = server or ScriptedServer()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="scripted-server", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.server:
            self._ready.set()
            await self._stop.wait()

    def _main(self) -> None:
        asyncio.run(self._serve())

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("scripted server did not start")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
