"""The `llm-provider` command line: serve, worker, infra, mock-server, db and perf."""

from __future__ import annotations

import functools
import gc
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, ParamSpec

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
P = ParamSpec("P")


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level)
    return settings


def _collector_paused(command: Callable[P, None]) -> Callable[P, None]:
    """Everything a start imports and builds lives as long as the process, so the cyclic collector's passes over
    it while it is built are pure cost (~40 ms of start-up): paused until `runtime.run` has collected once, frozen
    what was built and turned it back on (or the command ends)."""

    @functools.wraps(command)
    def paused(*args: P.args, **kwargs: P.kwargs) -> None:
        gc.disable()
        try:
            command(*args, **kwargs)
        finally:
            gc.enable()

    return paused


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    uvloop.run(coroutine)


@app.command()
@_collector_paused
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="HTTP API only; workers run elsewhere.")] = False,
    processes: Annotated[
        int, typer.Option(help="API processes sharing the port (SO_REUSEPORT); > 1 needs Redis and a shared DB.")
    ] = 1,
    reuse_port: Annotated[bool, typer.Option(hidden=True, help="Bind with SO_REUSEPORT (set by --processes).")] = False,
) -> None:
    """Run the HTTP API, with an in-process worker unless --no-worker."""
    from llm_provider_service.bootstrap import build_services
    from llm_provider_service.processes import ProcessesError, check_shareable, supervise
    from llm_provider_service.runtime import run

    settings = _settings()
    try:
        check_shareable(processes, redis_url=settings.redis_url)
    except ProcessesError as exc:
        raise typer.BadParameter(str(exc), param_hint="--processes") from exc
    if processes > 1:
        gc.enable()  # the supervisor runs no `runtime.run`
        bind_host, bind_port = host or settings.host, port if port is not None else settings.port
        grace = settings.shutdown_grace_seconds
        raise typer.Exit(supervise(processes, host=bind_host, port=bind_port, no_worker=no_worker, grace_seconds=grace))

    async def main() -> None:
        async with build_services(settings) as services:
            await run(
                services,
                serve_http=True,
                run_worker=not no_worker,
                host=host or settings.host,
                port=port if port is not None else settings.port,
                reuse_port=reuse_port,
            )

    _run(main())


@app.command()
@_collector_paused
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs at once (default from settings).")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus /metrics on this port (a worker has no HTTP API).")
    ] = None,
) -> None:
    """Run a queue worker only (scale out with many)."""
    from prometheus_client import start_http_server

    from llm_provider_service.bootstrap import build_services
    from llm_provider_service.runtime import run

    settings = _settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})

    async def main() -> None:
        async with build_services(settings) as services:
            if metrics_port is not None:
                # prometheus_client serves from its own daemon thread; it only reads the registry.
                start_http_server(metrics_port, addr=settings.host, registry=services.metrics.registry)
            await run(services, serve_http=False, run_worker=True)

    _run(main())


@app.command("mock-server")
def mock_server(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8090,
) -> None:
    """Run the mock LLM speaking the OpenAI, Anthropic and Gemini wire formats."""
    from llm_provider_service.mock.engine import MockEngine
    from llm_provider_service.mock.server import run_mock_server
    from llm_provider_service.resources import mock_profile

    settings = _settings()
    uvloop.install()
    run_mock_server(MockEngine(mock_profile(settings)), host=host, port=port)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations to LLM_PROVIDER_DATABASE_URL (or the embedded SQLite file)."""
    from llm_provider_service.adapters.sql_migrations import upgrade_database

    settings = _settings()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url, revision)
    typer.echo(f"database at revision {revision}")


@infra_app.command("up")
def infra_up(
    directory: Annotated[Path, typer.Option(help="Where data and state live.")] = INFRA_DIR,
    kafka: Annotated[
        str, typer.Option(help="Broker: 'kafka' (Apache Kafka 4.x, durable) or 'tansu' (fast, memory only).")
    ] = "kafka",
) -> None:
    """Start private Redis, PostgreSQL and a Kafka broker on free loopback ports."""
    from llm_provider_service.infra import launcher
    from llm_provider_service.infra.kafka_broker import parse_broker_kind

    try:
        broker = parse_broker_kind(kafka)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--kafka") from exc
    launcher.up(directory, kafka=broker)
    for line in launcher.env_lines(directory):
        typer.echo(line)


@app.command("openapi")
def openapi(
    out: Annotated[Path | None, typer.Option(help="Write here (e.g. docs/openapi.json) instead of stdout.")] = None,
) -> None:
    """Print the OpenAPI 3.1 document (`GET /openapi.json` serves the same, with the configured wait bound)."""
    from llm_provider_service import __version__
    from llm_provider_service.api.openapi import build_document

    text = json.dumps(build_document(version=__version__), indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@infra_app.command("fetch")
def infra_fetch() -> None:
    """Fetch Apache Kafka's jars into the per-machine cache (once; later calls only print where they are)."""
    from llm_provider_service.infra.kafka_dist import KAFKA_VERSION, kafka_classpath

    typer.echo(f"apache-kafka {KAFKA_VERSION}: {kafka_classpath()}")


@infra_app.command("down")
def infra_down(directory: Annotated[Path, typer.Option(help="Where data and state live.")] = INFRA_DIR) -> None:
    """Stop what `infra up` started."""
    from llm_provider_service.infra import launcher

    for line in launcher.down(directory):
        typer.echo(line)


@infra_app.command("status")
def infra_status(directory: Annotated[Path, typer.Option(help="Where data and state live.")] = INFRA_DIR) -> None:
    """Show whether each service is running and answering."""
    from llm_provider_service.infra import launcher

    for name, state in launcher.status(directory).items():
        typer.echo(f"{name}: {json.dumps(state, sort_keys=True)}")


@infra_app.command("env")
def infra_env(directory: Annotated[Path, typer.Option(help="Where data and state live.")] = INFRA_DIR) -> None:
    """Print `export LLM_PROVIDER_...` lines pointing the service at the running infrastructure."""
    from llm_provider_service.infra import launcher

    for line in launcher.env_lines(directory):
        typer.echo(line)


def _mount_perf() -> None:
    from llm_loadtest.cli import app as perf_app

    app.add_typer(perf_app, name="perf", help="The performance toolkit (load, stress, soak, infra, demo).")


def main() -> None:
    # The toolkit is imported only when asked for, so `serve` starts without it.
    if len(sys.argv) > 1 and sys.argv[1] == "perf":
        _mount_perf()
    else:
        app.command("perf", help="The performance toolkit (load, stress, soak, infra, demo).")(_perf_placeholder)
    app()


def _perf_placeholder() -> None:
    """Listed in --help; the real `perf` commands load when invoked."""
