"""The deterministic mock LLM: profile, engine, and the wire-compatible mock server."""

from llm_provider_service.mock.control import MockControl, control_from_headers, parse_control
from llm_provider_service.mock.engine import MockCall, MockEngine, MockResult
from llm_provider_service.mock.profile import SCENARIOS, FaultKind, MockProfile

__all__ = [
    "SCENARIOS",
    "FaultKind",
    "MockCall",
    "MockControl",
    "MockEngine",
    "MockProfile",
    "MockResult",
    "control_from_headers",
    "parse_control",
]
