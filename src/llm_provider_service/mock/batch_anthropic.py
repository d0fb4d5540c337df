"""Anthropic Message Batches on the mock server: `/v1/messages/batches` and its JSONL results.

Create takes `{requests: [{custom_id, params}]}`; results are one line per item, `{custom_id, result: {type:
succeeded, message} | {type: errored, error} | {type: canceled} | {type: expired}}`, fetched from the batch's
absolute `results_url` once `processing_status` is `ended`, as the official SDK does. Scripts: see `batch_store`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from llm_provider_service.mock.batch_openai import BATCHES_KEY
from llm_provider_service.mock.batch_store import (
    BatchItem,
    BatchScript,
    ItemOutcome,
    ItemResult,
    MockBatch,
    MockBatches,
)
from llm_provider_service.mock.wire import json_response, text_of


def _forced_tool(params: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choice = params.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") != "tool":
        return None
    for tool in params.get("tools") or []:
        if isinstance(tool, dict) and tool.get("name") == choice.get("name"):
            return tool
    return None


def read_params(params: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    """(prompt, schema) of Messages params: system, then the messages; a forced tool's schema."""
    system = params.get("system")
    parts = [text_of(system)] if system else []
    parts.extend(
        f"{message.get('role', 'user')}: {text_of(message.get('content'))}"
        for message in params.get("messages") or []
        if isinstance(message, dict)
    )
    tool = _forced_tool(params)
    return "\n\n".join(parts), (tool.get("input_schema") or {"type": "object"}) if tool else None


def _message(item: ItemResult) -> dict[str, Any]:
    result = item.result
    if result is None:
        raise ValueError("only answered items have a message")
    tool = _forced_tool(item.body)
    if tool is not None and result.structured is not None:
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": f"toolu_{uuid.uuid4().hex[:24]}",
            "name": tool["name"],
            "input": dict(result.structured),
        }
        stop = "tool_use"
    else:
        block, stop = {"type": "text", "text": result.text}, "end_turn"
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": str(item.body.get("model") or "mock-comparison-v1"),
        "content": [block],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": result.prompt_tokens,
            "output_tokens": result.completion_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def _result_line(item: ItemResult) -> dict[str, Any]:
    if item.outcome is ItemOutcome.SUCCEEDED:
        return {"custom_id": item.custom_id, "result": {"type": "succeeded", "message": _message(item)}}
    if item.outcome is ItemOutcome.ERRORED:
        error = {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}
        return {"custom_id": item.custom_id, "result": {"type": "errored", "error": error}}
    return {"custom_id": item.custom_id, "result": {"type": item.outcome.value}}


def _timestamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def batch_object(request: web.Request, batch: MockBatch) -> dict[str, Any]:
    counts = batch.counts()
    pending = 0 if batch.ended else len(batch.items)
    results_url = f"{request.url.origin()}/v1/messages/batches/{batch.id}/results" if batch.ended else None
    return {
        "id": batch.id,
        "type": "message_batch",
        "processing_status": "ended" if batch.ended else ("canceling" if batch.cancel_requested_at else "in_progress"),
        "request_counts": {
            "processing": pending,
            "succeeded": counts[ItemOutcome.SUCCEEDED],
            "errored": counts[ItemOutcome.ERRORED],
            "canceled": counts[ItemOutcome.CANCELED],
            "expired": counts[ItemOutcome.EXPIRED],
        },
        "ended_at": _timestamp(batch.ended_at),
        "created_at": _timestamp(batch.created_at),
        "expires_at": _timestamp(batch.created_at + 86400),
        "archived_at": None,
        "cancel_initiated_at": _timestamp(batch.cancel_requested_at),
        "results_url": results_url,
    }


def _store(request: web.Request) -> MockBatches:
    return request.app[BATCHES_KEY]


async def create_batch(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        error = {"type": "invalid_request_error", "message": "'requests' must be a non-empty array"}
        return json_response({"type": "error", "error": error}, status=400)
    items = [BatchItem(str(entry["custom_id"]), entry.get("params") or {}) for entry in requests]
    batch = _store(request).create("anthropic", items, BatchScript.from_headers(request.headers))
    return json_response(batch_object(request, batch))


async def get_batch(request: web.Request) -> web.Response:
    return json_response(batch_object(request, _store(request).look(request.match_info["batch_id"], read_params)))


async def cancel_batch(request: web.Request) -> web.Response:
    return json_response(batch_object(request, _store(request).cancel(request.match_info["batch_id"], read_params)))


async def batch_results(request: web.Request) -> web.Response:
    batch = _store(request).look(request.match_info["batch_id"], read_params)
    if not batch.ended:
        error = {"type": "invalid_request_error", "message": "the batch has not ended yet"}
        return json_response({"type": "error", "error": error}, status=400)
    lines = b"".join(orjson.dumps(_result_line(item)) + b"\n" for item in batch.results)
    return web.Response(body=lines, content_type="application/x-jsonl")


async def list_batches(request: web.Request) -> web.Response:
    store = _store(request)
    data = [batch_object(request, batch) for batch in store.batches.values() if batch.vendor == "anthropic"]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return json_response({"data": data, "has_more": False, "first_id": first, "last_id": last})


def add_routes(app: web.Application) -> None:
    """After `batch_openai.add_routes` (which installs the shared batch store)."""
    app.router.add_post("/v1/messages/batches", create_batch)
    app.router.add_get("/v1/messages/batches", list_batches)
    app.router.add_get("/v1/messages/batches/{batch_id}", get_batch)
    app.router.add_post("/v1/messages/batches/{batch_id}/cancel", cancel_batch)
    app.router.add_get("/v1/messages/batches/{batch_id}/results", batch_results)
