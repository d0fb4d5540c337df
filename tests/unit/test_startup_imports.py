"""Start-up stays lean: a `serve` on a current schema with only the mock imports no migration tool, HTTP client,
console renderer, OpenAPI generator, mock server, vendor batch client or toolkit (each costs start-up time and
resident memory in every process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STARTS_A_SERVE = """
import sys, uvloop
from llm_provider_service.api.app import create_app
from llm_provider_service.bootstrap import build_services
from llm_provider_service.config import Settings
import llm_provider_service.cli, llm_provider_service.runtime

async def main() -> None:
    settings = Settings()
    async with build_services(settings) as services:
        create_app(services.api, max_body_bytes=settings.max_body_bytes)

uvloop.run(main())
LAZY = {
    "alembic", "mako", "aiohttp", "rich", "pygments", "llm_loadtest",
    "llm_provider_service.api.openapi", "llm_provider_service.api.openapi_models",
    "llm_provider_service.mock.server", "llm_provider_service.providers.batch_registry",
}
print(" ".join(sorted(LAZY & set(sys.modules))))
"""


def _imports_of_a_start(data_dir: Path, **settings: str) -> set[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LLM_PROVIDER_")}
    env.update(LLM_PROVIDER_DATA_DIR=str(data_dir), LLM_PROVIDER_LOG_LEVEL="WARNING", **settings)
    done = subprocess.run(
        [sys.executable, "-c", STARTS_A_SERVE], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def test_a_restart_with_only_the_mock_imports_no_migration_tool_http_client_or_renderer(tmp_path: Path) -> None:
    assert "alembic" in _imports_of_a_start(tmp_path)  # the first start creates the schema

    assert _imports_of_a_start(tmp_path) == set()


def test_a_configured_vendor_brings_its_http_client(tmp_path: Path) -> None:
    _imports_of_a_start(tmp_path)

    assert _imports_of_a_start(tmp_path, LLM_PROVIDER_OPENAI_API_KEY="sk-test") == {
        "aiohttp",
        "llm_provider_service.providers.batch_registry",
    }
