"""Runs a process's parts — HTTP server, worker, outbox relay, reconciler — until SIGTERM, then drains."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import signal
from collections.abc import Iterator

import uvicorn

from llm_provider_service.api.app import create_app
from llm_provider_service.bootstrap import Services
from llm_provider_service.processes import reuse_port_socket

logger = logging.getLogger(__name__)

RELAY_DRAIN_SECONDS = 5.0
USAGE_DRAIN_SECONDS = 5.0
# At the default first threshold (700) a gateway process at c=64 ran a young collection every ~7 requests and a
# full one (over everything allocated since the freeze) every ~1,000: ~15 % of its CPU per request (see
# docs/benchmarks-gateway.md, round 2). Requests leave almost no cyclic garbage, so at 50,000 none ran in
# ~10,000 requests and memory stays as flat as before.
GC_THRESHOLDS = (50_000, 20, 10)


class _Server(uvicorn.Server):
    """Uvicorn without its own signal handling: our handlers stop the server and the worker together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def _stop_server_when(stop: asyncio.Event, server: _Server) -> None:
    await stop.wait()
    server.should_exit = True


async def run(
    services: Services,
    *,
    serve_http: bool,
    run_worker: bool,
    host: str = "127.0.0.1",
    port: int = 8000,
    stop: asyncio.Event | None = None,
    reuse_port: bool = False,
) -> None:
    """Run until `stop` is set (SIGTERM/SIGINT set it); then stop accepting, drain jobs, drain the outbox."""
    settings = services.settings
    stop = stop or asyncio.Event()
    # Everything built so far lives for the whole process: keep the collector from re-scanning it on the hot path
    # (and turn it back on: `serve` and `worker` pause it while they start).
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.enable()
    _install_signal_handlers(stop)
    if serve_http and settings.allow_anonymous_jobs:
        logger.warning("LLM_PROVIDER_ALLOW_ANONYMOUS_JOBS is on: anyone who reaches this port can submit jobs")
    async with asyncio.TaskGroup() as group:
        group.create_task(services.relay.run(stop), name="outbox-relay")
        group.create_task(services.usage_recorder.run(stop), name="usage-recorder")
        group.create_task(services.reconciler.run(stop, settings.reconcile_interval_seconds), name="reconciler")
        if run_worker:
            worker = services.worker
            group.create_task(worker.run(stop, grace_seconds=settings.shutdown_grace_seconds), name="worker")
            group.create_task(services.batching.run(stop), name="vendor-batches")
        if serve_http:
            app = create_app(
                services.api,
                max_body_bytes=settings.max_body_bytes,
                tracing=services.tracing,
                max_in_flight=settings.max_in_flight_requests,
            )
            config = uvicorn.Config(
                app,
                host=host,
                port=port,
                loop="none",
                http="httptools",
                lifespan="off",
                log_config=None,
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds),
            )
            server = _Server(config)
            # One of `serve --processes N`'s children: bind our own listener of the shared port.
            sockets = [reuse_port_socket(host, port, listen=True)] if reuse_port else None
            group.create_task(server.serve(sockets=sockets), name="http")
            group.create_task(_stop_server_when(stop, server), name="http-stopper")
    # Requests that finished while the server drained may have added usage after the recorder's last flush.
    try:
        async with asyncio.timeout(USAGE_DRAIN_SECONDS):
            await services.usage_recorder.flush()
    except TimeoutError:
        logger.warning("%d usage records not written at shutdown", services.usage_recorder.pending)
    backlog = await services.relay.drain(RELAY_DRAIN_SECONDS)
    logger.info("stopped; %d events left in the outbox", backlog)
