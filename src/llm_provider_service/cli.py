"""The `llm-provider` command line: serve, worker, infra, mock-server, db and perf."""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop

from llm_provider_service.config import Settings
from llm_provider_service.observability import configure_logging

app = typer.Typer(
    name="llm-provider", help="LLM Provider Service.", no_args_is_help=True, pretty_exceptions_enable=False
)
infra_app = typer.Typer(
    help="Local Redis, PostgreSQL and Kafka-protocol broker for development and tests.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(infra_app, name="infra")
app.add_typer(db_app, name="db")

INFRA_DIR = Path(".infra")


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level)
    return settings


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    uvloop.run(coroutine)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="HTTP API only; workers run elsewhere.")] = False,
) -> None:
    """Run the HTTP API, with an in-process worker unless --no-worker."""
    from llm_provider_service.bootstrap import build_services
    from llm_provider_service.runtime import run

    settings = _settings()

    async def main() -> None:
        async with build_services(settings) as services:
            await run(
                services,
                serve_http=True,
                run_worker=not no_worker,
                host=host or settings.host,
                port=port if port is not None else settings.port,
            )

    _run(main())


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs at once (default from settings).")] = None,
) -> None:
    """Run a queue worker only (scale out with many)."""
    from llm_provider_service.bootstrap import build_services
    from llm_provider_service.runtime import run

    settings = _settings()

    async def main() -> None:
        async with build_services(settings) as services:
            await run(services, serve_http=False, run_worker=True, concurrency=concurrency)

    _run(main())


def main() -> None:
    app()
