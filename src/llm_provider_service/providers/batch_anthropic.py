"""Anthropic Message Batches as a `BatchProvider`: `/v1/messages/batches`, polled, results as JSONL.

Each item's `params` are exactly what the immediate adapter would post (`AnthropicProvider.build_payload`), and
each succeeded message is parsed by the same adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from llm_provider_service.domain.batches import BatchItemOutcome, BatchState, VendorBatch
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionRequest
from llm_provider_service.providers.anthropic import AnthropicProvider
from llm_provider_service.providers.errors import error_from_response
from llm_provider_service.providers.http_client import VendorTransport

BATCHES_PATH = "/v1/messages/batches"
# An errored item's error type -> the HTTP status the immediate call would have had.
_ERROR_STATUSES = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "overloaded_error": 529,
}


class AnthropicBatchClient:
    """Submit, poll, collect and cancel Anthropic message batches over the shared transport."""

    def __init__(
        self, transport: VendorTransport, adapter: AnthropicProvider, *, submit_headers: Mapping[str, str] | None = None
    ) -> None:
        """`submit_headers` go with each submission only (e.g. the mock server's batch scripts)."""
        self._transport = transport
        self._adapter = adapter
        self._submit_headers = dict(submit_headers or {})

    async def submit_batch(self, items: Sequence[tuple[str, CompletionRequest]]) -> VendorBatch:
        requests = [
            {"custom_id": custom_id, "params": self._adapter.build_payload(request, stream=False)}
            for custom_id, request in items
        ]
        return _batch(
            await self._transport.request_json(
                "POST", BATCHES_PATH, json_body={"requests": requests}, extra_headers=self._submit_headers
            )
        )

    async def batch_status(self, batch_id: str) -> VendorBatch:
        return _batch(await self._transport.request_json("GET", f"{BATCHES_PATH}/{batch_id}"))

    async def cancel_batch(self, batch_id: str) -> VendorBatch:
        return _batch(await self._transport.request_json("POST", f"{BATCHES_PATH}/{batch_id}/cancel"))

    async def batch_results(self, batch_id: str, requests: Mapping[str, CompletionRequest]) -> list[BatchItemOutcome]:
        content = await self._transport.request_bytes("GET", f"{BATCHES_PATH}/{batch_id}/results")
        outcomes = []
        for raw in content.splitlines():
            if raw.strip():
                line = orjson.loads(raw)
                custom_id = str(line.get("custom_id"))
                if custom_id in requests:
                    outcomes.append(self._outcome(custom_id, line.get("result") or {}, requests[custom_id]))
        return outcomes

    def _outcome(self, custom_id: str, result: Mapping[str, Any], request: CompletionRequest) -> BatchItemOutcome:
        provider, kind = self._adapter.name, str(result.get("type"))
        if kind == "succeeded":
            try:
                return BatchItemOutcome(custom_id, response=self._adapter.parse_response(request, result["message"]))
            except ProviderError as invalid:
                return BatchItemOutcome(custom_id, error=invalid)
        if kind == "errored":
            reported = result.get("error") or {}
            status = _ERROR_STATUSES.get(str((reported.get("error") or {}).get("type")), 500)
            failure = error_from_response(provider=provider, status=status, headers={}, body=orjson.dumps(reported))
            return BatchItemOutcome(custom_id, error=failure)
        error_kind = ProviderErrorKind.TIMEOUT if kind == "expired" else ProviderErrorKind.SERVER_ERROR
        return BatchItemOutcome(
            custom_id, error=ProviderError(error_kind, f"{provider} batch item: {kind}", provider=provider)
        )


def _batch(body: Mapping[str, Any]) -> VendorBatch:
    counts = body.get("request_counts") or {}
    done = sum(int(counts.get(name) or 0) for name in ("succeeded", "errored", "canceled", "expired"))
    total = done + int(counts.get("processing") or 0)
    if body.get("processing_status") != "ended":
        state = BatchState.IN_PROGRESS
    elif body.get("cancel_initiated_at"):
        state = BatchState.CANCELLED
    elif int(counts.get("expired") or 0):
        state = BatchState.EXPIRED
    else:
        state = BatchState.COMPLETED
    return VendorBatch(str(body.get("id")), state, total, done)
