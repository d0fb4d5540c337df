"""Mock control through the real adapters: the `x-mock-*` headers they forward, the intrinsic time they read.

A job's `metadata.mock` (or the gateway's `x-mock-*` headers, both validated at the HTTP edge) must work when an
adapter talks to `llm-provider mock-server` through `LLM_PROVIDER_<VENDOR>_BASE_URL`. Only a transport whose base URL
was overridden (`forward_identity`; a real vendor's default URL never is) sends anything, namely:

- `x-mock-scenario`, `x-mock-latency-ms`, `x-mock-fail-attempts`, `x-mock-tool-call` when the request carries mock
  instructions;
- `x-mock-request-key` and `x-mock-attempt` (determinism per job and attempt) always.

So a real vendor reached by its default URL never sees a job id nor a mock instruction. The mock server's
`x-mock-intrinsic-ms` answer header is read back into `CompletionResponse.provider_metadata` under
`MOCK_INTRINSIC_MS_KEY`, where the callback and the gateway find it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from llm_provider_service.domain.embeddings import EmbeddingRequest
from llm_provider_service.domain.models import MOCK_INTRINSIC_MS_KEY, CompletionRequest, CompletionResponse
from llm_provider_service.mock.control import (
    ATTEMPT_HEADER,
    FAIL_ATTEMPTS_HEADER,
    INTRINSIC_HEADER,
    LATENCY_HEADER,
    REQUEST_KEY_HEADER,
    SCENARIO_HEADER,
    TOOL_CALL_HEADER,
)

# A vendor call carrying a request key, an attempt and mock instructions.
MockCarrier = CompletionRequest | EmbeddingRequest


def mock_headers(call: MockCarrier, *, provider: str) -> dict[str, str]:
    """The `x-mock-*` headers for `call`, sent by a transport whose base URL was overridden."""
    headers: dict[str, str] = {}
    control = call.mock
    if not control.is_empty:
        if control.scenario is not None:
            headers[SCENARIO_HEADER] = control.scenario
        if control.latency_ms is not None:
            headers[LATENCY_HEADER] = repr(control.latency_ms)
        if control.fail_attempts is not None:
            headers[FAIL_ATTEMPTS_HEADER] = str(control.fail_attempts)
        if control.tool_call is not None:
            headers[TOOL_CALL_HEADER] = control.tool_call
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
    return replace(response, provider_metadata={**response.provider_metadata, MOCK_INTRINSIC_MS_KEY: milliseconds})
