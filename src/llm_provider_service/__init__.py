"""LLM Provider Service: one durable, observable gateway between applications and LLM vendors."""

import sys

__version__ = "0.1.0"


def _import_structlog_without_rich() -> None:
    """structlog imports rich (and pygments) whenever it can, for pretty console tracebacks: ~50 ms and ~5 MiB at
    every start for a renderer the service never uses (its logs are JSON). Hidden while structlog loads, rich is
    still there for whatever imports it later (the toolkit's console tables)."""
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # an import of it raises ImportError meanwhile
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()
