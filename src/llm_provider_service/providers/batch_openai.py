"""OpenAI's Batch API as a `BatchProvider`: a JSONL file of Chat Completions calls, `/v1/batches`, result files.

Each item's body is exactly what the immediate adapter would post (`OpenAIChatProvider.build_payload`), and each
answer is parsed by the same adapter, so a batch item and an immediate call end the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson

from llm_provider_service.domain.batches import BatchItemOutcome, BatchState, VendorBatch
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionRequest
from llm_provider_service.providers.errors import error_from_response
from llm_provider_service.providers.http_client import VendorTransport
from llm_provider_service.providers.openai import OpenAIChatProvider

CHAT_ENDPOINT = "/v1/chat/completions"
_STATES = {
    "completed": BatchState.COMPLETED,
    "expired": BatchState.EXPIRED,
    "cancelled": BatchState.CANCELLED,
    "failed": BatchState.FAILED,
}


class OpenAIBatchClient:
    """Submit, poll, collect and cancel OpenAI batches over the shared transport (base URL ends in /v1)."""

    def __init__(
        self,
        transport: VendorTransport,
        adapter: OpenAIChatProvider,
        *,
        submit_headers: Mapping[str, str] | None = None,
    ) -> None:
        """`submit_headers` go with each submission only (e.g. the mock server's batch scripts)."""
        self._transport = transport
        self._adapter = adapter
        self._submit_headers = dict(submit_headers or {})

    async def submit_batch(self, items: Sequence[tuple[str, CompletionRequest]]) -> VendorBatch:
        lines = [
            orjson.dumps(
                {
                    "custom_id": custom_id,
                    "method": "POST",
                    "url": CHAT_ENDPOINT,
                    "body": self._adapter.build_payload(request, stream=False),
                }
            )
            for custom_id, request in items
        ]
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", b"\n".join(lines) + b"\n", filename="batch.jsonl", content_type="application/jsonl")
        uploaded = await self._transport.request_json("POST", "/files", data=form)
        body = {"input_file_id": uploaded.get("id"), "endpoint": CHAT_ENDPOINT, "completion_window": "24h"}
        return _batch(
            await self._transport.request_json("POST", "/batches", json_body=body, extra_headers=self._submit_headers)
        )

    async def batch_status(self, batch_id: str) -> VendorBatch:
        return _batch(await self._transport.request_json("GET", f"/batches/{batch_id}"))

    async def cancel_batch(self, batch_id: str) -> VendorBatch:
        return _batch(await self._transport.request_json("POST", f"/batches/{batch_id}/cancel"))

    async def batch_results(self, batch_id: str, requests: Mapping[str, CompletionRequest]) -> list[BatchItemOutcome]:
        batch = await self._transport.request_json("GET", f"/batches/{batch_id}")
        outcomes = []
        for file_field in ("output_file_id", "error_file_id"):
            file_id = batch.get(file_field)
            if not file_id:
                continue
            content = await self._transport.request_bytes("GET", f"/files/{file_id}/content")
            for raw in content.splitlines():
                if raw.strip():
                    line = orjson.loads(raw)
                    custom_id = str(line.get("custom_id"))
                    if custom_id in requests:
                        outcomes.append(self._outcome(custom_id, line, requests[custom_id]))
        return outcomes

    def _outcome(self, custom_id: str, line: Mapping[str, Any], request: CompletionRequest) -> BatchItemOutcome:
        provider = self._adapter.name
        response = line.get("response")
        if isinstance(response, dict):
            status, body = int(response.get("status_code") or 500), response.get("body") or {}
            if status < 300:
                try:
                    return BatchItemOutcome(custom_id, response=self._adapter.parse_response(request, body))
                except ProviderError as invalid:
                    return BatchItemOutcome(custom_id, error=invalid)
            failure = error_from_response(provider=provider, status=status, headers={}, body=orjson.dumps(body))
            return BatchItemOutcome(custom_id, error=failure)
        code = str((line.get("error") or {}).get("code") or "batch_error")
        kind = ProviderErrorKind.TIMEOUT if code == "batch_expired" else ProviderErrorKind.SERVER_ERROR
        return BatchItemOutcome(
            custom_id, error=ProviderError(kind, f"{provider} batch item: {code}", provider=provider)
        )


def _batch(body: Mapping[str, Any]) -> VendorBatch:
    counts = body.get("request_counts") or {}
    done = int(counts.get("completed") or 0) + int(counts.get("failed") or 0)
    state = _STATES.get(str(body.get("status")), BatchState.IN_PROGRESS)
    return VendorBatch(str(body.get("id")), state, int(counts.get("total") or 0), done)
