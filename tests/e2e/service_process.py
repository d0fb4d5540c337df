"""`llm-provider serve` as a user would run it: embedded defaults (SQLite, in-process queue, JSONL events)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from llm_provider_service.infra.local_server import free_port
from llm_provider_service.infra.service_server import ServiceServer, llm_provider_command

__all__ = ["ServiceProcess", "free_port", "llm_provider_command"]


class ServiceProcess(ServiceServer):
    """`llm-provider serve [args]` over `data_dir`, with only the settings in `env` (full `LLM_PROVIDER_*` names)."""

    def __init__(self, data_dir: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        super().__init__(data_dir, "serve", *args, settings=env)
