"""`MockControl`: the typed per-request instructions for the mock LLM, carried by every vendor-neutral call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class MockControl:
    """Overrides of the mock's profile for one request; real vendors ignore it.

    `scenario` forces an outcome (ok or a fault kind) and disables random faults; with `fail_attempts`
    = N only attempts 1..N fail with the scenario and later attempts succeed, so a retried job recovers.
    `latency_ms` replaces the latency model's sample. `tool_call` scripts a tool call (see `mock/tool_calls.py`).
    Parsed and validated once at the HTTP edge (`mock/control.py`); everything below receives this type.
    """

    scenario: str | None = None
    latency_ms: float | None = None
    fail_attempts: int | None = None
    tool_call: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.scenario is None and self.latency_ms is None and self.fail_attempts is None and not self.tool_call

    @classmethod
    def of_validated(cls, values: Mapping[str, Any]) -> MockControl:
        """A job's stored `metadata.mock`, validated when it was submitted (`mock.control.control_of_metadata`)."""
        latency = values.get("latency_ms")
        return cls(
            scenario=values.get("scenario"),
            latency_ms=float(latency) if latency is not None else None,
            fail_attempts=values.get("fail_attempts"),
            tool_call=values.get("tool_call") or None,
        )


NO_CONTROL = MockControl()
