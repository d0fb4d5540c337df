"""Per-request mock instructions: `metadata.mock` of a job, or the `x-mock-*` headers of the mock server."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from llm_provider_service.domain.errors import RequestValidationError
from llm_provider_service.domain.mock_control import NO_CONTROL, MockControl
from llm_provider_service.mock.profile import SCENARIOS

SCENARIO_HEADER = "x-mock-scenario"
LATENCY_HEADER = "x-mock-latency-ms"
FAIL_ATTEMPTS_HEADER = "x-mock-fail-attempts"
ATTEMPT_HEADER = "x-mock-attempt"
REQUEST_KEY_HEADER = "x-mock-request-key"
INTRINSIC_HEADER = "x-mock-intrinsic-ms"
# A tool call to make: a tool name, or JSON {"name": ..., "arguments": {...}} (see `mock/tool_calls.py`).
TOOL_CALL_HEADER = "x-mock-tool-call"


__all__ = ["NO_CONTROL", "MockControl", "control_from_headers", "control_of_metadata", "parse_control"]

CONTROL_KEYS = frozenset({"scenario", "latency_ms", "fail_attempts", "tool_call"})


def control_of_metadata(metadata: Mapping[str, Any]) -> MockControl:
    """A job's `metadata.mock`, validated when the job is submitted (a typo is a 400 then, not a failed job later)."""
    values = metadata.get("mock")
    if values is None:
        return NO_CONTROL
    if not isinstance(values, Mapping):
        raise RequestValidationError(
            "metadata.mock must be an object", [{"loc": ["metadata", "mock"], "msg": "must be an object"}]
        )
    return parse_control(values)


def parse_control(values: Mapping[str, Any]) -> MockControl:
    """Validate `{"scenario": ..., "latency_ms": ..., "fail_attempts": N, "tool_call": ...}`; raises
    `RequestValidationError` for a bad value or an unknown key."""
    unknown = sorted(set(values) - CONTROL_KEYS)
    if unknown:
        raise RequestValidationError(
            f"unknown mock instruction {unknown[0]!r}; known: {', '.join(sorted(CONTROL_KEYS))}",
            [{"loc": ["mock", name], "msg": "unknown mock instruction"} for name in unknown],
        )
    scenario = values.get("scenario")
    if scenario is not None and scenario not in SCENARIOS:
        raise RequestValidationError(
            f"mock scenario must be one of {', '.join(SCENARIOS)}",
            [{"loc": ["mock", "scenario"], "msg": "unknown scenario"}],
        )
    tool_call = values.get("tool_call")
    if tool_call is not None and not isinstance(tool_call, str):
        raise RequestValidationError(
            "mock tool_call must be a tool name or a JSON object as text",
            [{"loc": ["mock", "tool_call"], "msg": "must be a string"}],
        )
    return MockControl(
        scenario=scenario,
        latency_ms=_latency(values.get("latency_ms")),
        fail_attempts=_fail_attempts(values.get("fail_attempts")),
        tool_call=tool_call or None,
    )


def control_from_headers(headers: Mapping[str, str]) -> MockControl:
    """The mock server's per-request control from `x-mock-scenario`, `-latency-ms` and `-fail-attempts`."""
    values: dict[str, Any] = {}
    if (scenario := headers.get(SCENARIO_HEADER)) is not None:
        values["scenario"] = scenario.strip().lower()
    if (tool_call := headers.get(TOOL_CALL_HEADER)) is not None:
        values["tool_call"] = tool_call.strip()
    for header, name in ((LATENCY_HEADER, "latency_ms"), (FAIL_ATTEMPTS_HEADER, "fail_attempts")):
        raw = headers.get(header)
        if raw is None:
            continue
        try:
            values[name] = float(raw) if name == "latency_ms" else int(raw)
        except ValueError as exc:
            raise RequestValidationError(f"{header} must be a number") from exc
    return parse_control(values)


def _latency(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise RequestValidationError(
            "mock latency_ms must be a non-negative number",
            [{"loc": ["mock", "latency_ms"], "msg": "must be a non-negative number"}],
        )
    return float(value)


def _fail_attempts(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RequestValidationError(
            "mock fail_attempts must be a non-negative integer",
            [{"loc": ["mock", "fail_attempts"], "msg": "must be a non-negative integer"}],
        )
    return value
