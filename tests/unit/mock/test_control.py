"""Validation of per-request mock control, from job metadata and from mock-server headers."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.errors import RequestValidationError
from llm_provider_service.mock import MockControl, control_from_headers, parse_control


def test_a_full_control_is_parsed() -> None:
    control = parse_control({"scenario": "server_error", "latency_ms": 200, "fail_attempts": 2})

    assert control == MockControl(scenario="server_error", latency_ms=200.0, fail_attempts=2)


@pytest.mark.parametrize(
    "values",
    [
        {"scenario": "explode"},
        {"latency_ms": -1},
        {"latency_ms": "fast"},
        {"latency_ms": True},
        {"fail_attempts": 1.5},
        {"fail_attempts": -2},
    ],
)
def test_invalid_control_is_a_validation_error(values: dict[str, object]) -> None:
    with pytest.raises(RequestValidationError):
        parse_control(values)


def test_headers_are_parsed() -> None:
    headers = {"x-mock-scenario": "Overloaded", "x-mock-latency-ms": "12.5", "x-mock-fail-attempts": "1"}

    assert control_from_headers(headers) == MockControl(scenario="overloaded", latency_ms=12.5, fail_attempts=1)


def test_a_non_numeric_latency_header_is_refused() -> None:
    with pytest.raises(RequestValidationError):
        control_from_headers({"x-mock-latency-ms": "soon"})
