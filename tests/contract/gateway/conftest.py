"""The whole service (SQLite, in-process queue) served by uvicorn on a free loopback port, in the test's loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn

from llm_provider_service.api.app import create_app
from llm_provider_service.bootstrap import Services, build_services
from llm_provider_service.config import Settings


@asynccontextmanager
async def serve_service(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[str, Services]]:
    """Yield the service's base URL (and its services) while uvicorn serves it; stops it on exit."""
    config = Settings(_env_file=None, data_dir=tmp_path, retry_base_delay_seconds=0.01, **settings)
    async with build_services(config) as services:
        app = create_app(services.api, max_body_bytes=config.max_body_bytes)
        server = uvicorn.Server(
            uvicorn.Config(app, loop="none", lifespan="off", log_config=None, access_log=False, http="httptools")
        )
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            async with asyncio.TaskGroup() as group:
                group.create_task(server.serve(sockets=[sock]))
                while not server.started:  # noqa: ASYNC110 - uvicorn offers only this flag, no event
                    await asyncio.sleep(0.01)
                try:
                    yield f"http://127.0.0.1:{port}", services
                finally:
                    server.should_exit = True
