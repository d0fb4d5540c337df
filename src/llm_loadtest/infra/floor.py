"""The Python floor: a bare aiohttp server (optionally a pooled pass-through) that parses and re-serialises JSON.

Nothing a Python HTTP service does per request can cost less, so it is the same-run baseline of TOOLKIT.md §3: the
gateway benchmark compares the gateway with it, and the performance tier measures it before each gate to learn how
fast this host is right now (`python -m llm_loadtest.infra.floor [--upstream URL]` prints `port N` once listening).
`--asgi` serves the same pass-through as a raw ASGI app under uvicorn (httptools), the gateway's server: the
difference between the two floors is the server's share of the gateway's gap, the rest is the gateway's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import uvloop
from aiohttp import web

FLOOR_BODY = orjson.dumps({"model": "floor", "messages": [{"role": "user", "content": "Essay A or Essay B?" * 4}]})


def floor_app(upstream: str | None) -> web.Application:
    """POST anywhere: parse the JSON body; forward it to `upstream` if given; answer the re-serialised JSON."""
    app = web.Application()
    sessions: list[aiohttp.ClientSession] = []

    async def handle(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        if upstream is not None:
            async with sessions[0].post(upstream, data=orjson.dumps(body),
                                        headers={"content-type": "application/json"}) as answer:  # fmt: skip
                body = orjson.loads(await answer.read())
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def open_session(_: web.Application) -> None:
        sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))

    async def close_session(_: web.Application) -> None:
        for session in sessions:
            await session.close()

    app.router.add_post("/{tail:.*}", handle)
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    return app


def floor_asgi(upstream: str | None) -> Any:
    """The same pass-through as a raw ASGI app (no framework): read, parse, forward, re-serialise, answer."""
    sessions: list[aiohttp.ClientSession] = []
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = orjson.loads(b"".join(chunks))
        if upstream is not None:
            if not sessions:
                sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
            async with sessions[0].post(upstream, data=orjson.dumps(body),
                                        headers={"content-type": "application/json"}) as answer:  # fmt: skip
                body = orjson.loads(await answer.read())
        await send(start)
        await send({"type": "http.response.body", "body": orjson.dumps(body)})

    return app


async def _serve_asgi(port: int, upstream: str | None) -> None:
    import uvicorn  # only this variant needs it

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        floor_asgi(upstream), loop="none", http="httptools", lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    sys.stdout.write(f"port {listener.getsockname()[1]}\n")
    sys.stdout.flush()
    await server.serve(sockets=[listener])


async def _serve(port: int, upstream: str | None) -> None:
    runner = web.AppRunner(floor_app(upstream), access_log=None)
    await runner.setup()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    await web.SockSite(runner, listener).start()
    sys.stdout.write(f"port {listener.getsockname()[1]}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


@dataclass(frozen=True, slots=True)
class FloorSpeed:
    """A closed-loop measurement of the floor: requests/s at `concurrency` and the c=1 median round trip."""

    requests_per_second: float
    p50_ms: float
    concurrency: int


async def measure(url: str, *, concurrency: int = 16, seconds: float = 0.5, single: int = 100) -> FloorSpeed:
    """Closed loop against the floor for `seconds` (bounded), then `single` round trips one at a time."""
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def call() -> None:
            async with session.post(url, data=FLOOR_BODY, headers=headers) as response:
                await response.read()

        for _ in range(20):
            await call()
        done = 0
        deadline = time.perf_counter() + seconds

        async def user() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await call()
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        rate = done / (time.perf_counter() - start)
        samples = []
        for _ in range(single):
            begun = time.perf_counter()
            await call()
            samples.append((time.perf_counter() - begun) * 1000.0)
    samples.sort()
    return FloorSpeed(rate, samples[len(samples) // 2], concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m llm_loadtest.infra.floor", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--upstream", help="forward each body to this URL (pass-through floor of a gateway)")
    parser.add_argument("--asgi", action="store_true", help="serve it as raw ASGI under uvicorn (httptools)")
    args = parser.parse_args()
    uvloop.run((_serve_asgi if args.asgi else _serve)(args.port, args.upstream))


if __name__ == "__main__":
    main()
