"""Mock control through the real adapters: the `x-mock-*` headers they forward, the intrinsic time they read.

A job's `metadata.mock` (or the gateway's `x-mock-*` headers) must work when an adapter talks to
`llm-provider mock-server` through `LLM_PROVIDER_<VENDOR>_BASE_URL`, so the vendor transport forwards:

- `x-mock-scenario`, `x-mock-latency-ms`, `x-mock-fail-attempts`, `x-mock-tool-call`: only when the request carries mock
  instructions (validated first, so a bad value is an `invalid_request`, never a malformed header);
- `x-mock-request-key` and `x-mock-attempt` (determinism per job and attempt): together with mock
  instructions, or when the transport's base URL was overridden (`forward_identity`, which a real
  vendor's default URL never has). So a real vendor reached by its default URL never sees a job id.

The mock server's `x-mock-intrinsic-ms` answer header is read back into
`CompletionResponse.provider_metadata["mock_intrinsic_ms"]`, where the callback and the gateway find it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind, RequestValidationError
from llm_provider_service.domain.models import MOCK_INTRINSIC_MS_KEY, CompletionRequest, CompletionResponse
from llm_provider_service.mock.control import (
    ATTEMPT_HEADER,
    FAIL_ATTEMPTS_HEADER,
    INTRINSIC_HEADER,
    LATENCY_HEADER,
    REQUEST_KEY_HEADER,
    SCENARIO_HEADER,
    TOOL_CALL_HEADER,
    parse_control,
)

INTRINSIC_METADATA_KEY = MOCK_INTRINSIC_MS_KEY


def mock_headers(call: CompletionRequest, *, provider: str, forward_identity: bool) -> dict[str, str]:
    """The `x-mock-*` headers for `call` (empty for a plain call to a vendor's default URL)."""
    headers: dict[str, str] = {}
    if call.mock:
        try:
            control = parse_control(call.mock)
        except RequestValidationError as exc:
            raise ProviderError(ProviderErrorKind.INVALID_REQUEST, str(exc), provider=provider) from exc
        if control.scenario is not None:
            headers[SCENARIO_HEADER] = control.scenario
        if control.latency_ms is not None:
            headers[LATENCY_HEADER] = repr(control.latency_ms)
        if control.fail_attempts is not None:
            headers[FAIL_ATTEMPTS_HEADER] = str(control.fail_attempts)
        if control.tool_call is not None:
            headers[TOOL_CALL_HEADER] = control.tool_call
    if headers or forward_identity:
        if call.request_key:
            headers[REQUEST_KEY_HEADER] = call.request_key
        headers[ATTEMPT_HEADER] = str(call.attempt)
    return headers


def intrinsic_ms(headers: Mapping[str, str]) -> float | None:
    """The mock server's own time for this answer, or None (real vendors do not send the header)."""
    raw = headers.get(INTRINSIC_HEADER)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def with_intrinsic_ms(response: CompletionResponse, milliseconds: float | None) -> CompletionResponse:
    """`response` with the mock's intrinsic time in its metadata, when the upstream reported one."""
    if milliseconds is None:
        return response
    return replace(response, provider_metadata={**response.provider_metadata, INTRINSIC_METADATA_KEY: milliseconds})
