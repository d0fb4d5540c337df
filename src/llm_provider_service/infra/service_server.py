"""`llm-provider serve` or `worker` as a private child process: the one launcher tests and scripts share.

One environment policy for every caller: the parent's variables minus every `LLM_PROVIDER_*` one (a developer's
shell or CI must not leak into a test), then `LLM_PROVIDER_DATA_DIR` (the server's own directory), then exactly the
settings the caller names. Whether the child uses SQLite or PostgreSQL, the in-process queue or Redis, a JSONL file
or Kafka is therefore visible at the call site. A `serve` is ready when `/readyz` answers 200; a `worker` when its
`--metrics-port` answers (it has no HTTP API).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from llm_provider_service.infra.local_server import LOOPBACK, LocalServer

SETTINGS_PREFIX = "LLM_PROVIDER_"
_PROBE_TIMEOUT_SECONDS = 1.0


def llm_provider_command() -> list[str]:
    """The installed console script next to this interpreter (the venv's `llm-provider`)."""
    return [str(Path(sys.executable).with_name("llm-provider"))]


def service_environment(data_dir: Path, settings: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: see the module docstring. `settings` keys are full `LLM_PROVIDER_*` names."""
    foreign = [name for name in settings if not name.startswith(SETTINGS_PREFIX)]
    if foreign:
        raise ValueError(f"not service settings: {', '.join(sorted(foreign))}")
    inherited = {name: value for name, value in os.environ.items() if not name.startswith(SETTINGS_PREFIX)}
    return {**inherited, f"{SETTINGS_PREFIX}DATA_DIR": str(data_dir), **settings}


class ServiceServer(LocalServer):
    """One `llm-provider <args>` process (`args[0]` is `serve` or `worker`) on its own loopback port."""

    name = "llm-provider"

    def __init__(
        self,
        base_dir: Path,
        *args: str,
        settings: Mapping[str, str] | None = None,
        port: int | None = None,
        start_timeout_seconds: float = 30.0,
    ) -> None:
        if not args or args[0] not in ("serve", "worker"):
            raise ValueError("the first argument is the command: serve or worker")
        super().__init__(base_dir, port=port, start_timeout_seconds=start_timeout_seconds)
        self.args = args
        self.settings = dict(settings or {})

    @property
    def serves_http(self) -> bool:
        return self.args[0] == "serve"

    @property
    def url(self) -> str:
        """The HTTP API (`serve`) or the Prometheus endpoint's base (`worker`)."""
        return f"http://{LOOPBACK}:{self.port}"

    base_url = url

    @property
    def log_path(self) -> Path:
        return self.base_dir / f"{self.args[0]}-{self.port}.log"

    def _command(self) -> list[str]:
        port_option = "--port" if self.serves_http else "--metrics-port"
        return [*llm_provider_command(), *self.args, port_option, str(self.port)]

    def _popen_options(self) -> dict[str, object]:
        return {"env": service_environment(self.base_dir, self.settings)}

    def _is_ready(self) -> bool:
        probe = "/readyz" if self.serves_http else "/metrics"
        try:
            with urllib.request.urlopen(self.url + probe, timeout=_PROBE_TIMEOUT_SECONDS) as answer:  # noqa: S310 - loopback
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False
