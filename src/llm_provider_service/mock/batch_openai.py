"""The OpenAI Batch API of the mock server: `/v1/files` (JSONL upload, content) and `/v1/batches`.

Input lines are `{custom_id, method, url, body}` for `/v1/chat/completions`; the output file holds
`{id, custom_id, response: {status_code, request_id, body}, error}` per answered item and the error file the
failed, expired and cancelled ones, as OpenAI writes them. Scripts: see `batch_store`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from llm_provider_service.mock.batch_store import (
    BatchItem,
    BatchScript,
    ItemOutcome,
    ItemResult,
    MockBatch,
    MockBatches,
)
from llm_provider_service.mock.wire import json_response, text_of

BATCHES_KEY = web.AppKey("mock_batches", MockBatches)
_JSON_OBJECT = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def read_chat(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    """(prompt, schema) of a Chat Completions body, as the immediate route reads it."""
    messages = body.get("messages") or []
    prompt = "\n\n".join(
        f"{message.get('role', 'user')}: {text_of(message.get('content'))}"
        for message in messages
        if isinstance(message, dict)
    )
    return prompt, _schema(body)


def _schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        for tool in body.get("tools") or []:
            function = tool.get("function", {}) if isinstance(tool, dict) else {}
            if function.get("name") == name:
                return function.get("parameters") or {"type": "object", "properties": {}}
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or _JSON_OBJECT
    if response_format.get("type") == "json_object":
        return _JSON_OBJECT
    return None


def _tool_name(body: Mapping[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    return (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None


def _completion(item: ItemResult, created: int) -> dict[str, Any]:
    result = item.result
    if result is None:
        raise ValueError("only answered items have a message")
    tool = _tool_name(item.body)
    message: dict[str, Any] = {"role": "assistant", "content": result.text, "refusal": None}
    if tool is not None:
        call = {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": tool, "arguments": result.text},
        }
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": created,
        "model": str(item.body.get("model") or "mock-comparison-v1"),
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if tool else "stop"}
        ],
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        },
    }


def _line(item: ItemResult, created: int) -> tuple[bool, dict[str, Any]]:
    """(goes to the output file, the line)."""
    line: dict[str, Any] = {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": item.custom_id, "error": None}
    if item.outcome is ItemOutcome.SUCCEEDED:
        response = {"status_code": 200, "request_id": uuid.uuid4().hex, "body": _completion(item, created)}
        return True, {**line, "response": response}
    if item.outcome is ItemOutcome.ERRORED:
        error = {"message": "The server had an error while processing your request.", "type": "server_error"}
        body = {"error": {**error, "param": None, "code": None}}
        return False, {**line, "response": {"status_code": 500, "request_id": uuid.uuid4().hex, "body": body}}
    code, message = (
        ("batch_expired", "This request could not be executed before the completion window expired.")
        if item.outcome is ItemOutcome.EXPIRED
        else ("batch_cancelled", "This request was cancelled before it could be executed.")
    )
    return False, {**line, "response": None, "error": {"code": code, "message": message}}


def _finish_files(store: MockBatches, batch: MockBatch) -> None:
    if not batch.ended or batch.output_file_id is not None or batch.error_file_id is not None:
        return
    created = int(batch.ended_at or time.time())
    output: list[bytes] = []
    errors: list[bytes] = []
    for item in batch.results:
        ok, line = _line(item, created)
        (output if ok else errors).append(orjson.dumps(line))
    if output:
        batch.output_file_id = store.add_file(
            b"\n".join(output) + b"\n", filename="output.jsonl", purpose="batch_output"
        ).id
    if errors:
        batch.error_file_id = store.add_file(
            b"\n".join(errors) + b"\n", filename="errors.jsonl", purpose="batch_output"
        ).id


def _status(batch: MockBatch) -> str:
    if not batch.ended:
        return "in_progress"
    if batch.cancel_requested_at is not None:
        return "cancelled"
    return "expired" if batch.expired else "completed"


def batch_object(batch: MockBatch) -> dict[str, Any]:
    counts = batch.counts()
    ended = int(batch.ended_at) if batch.ended_at is not None else None
    status = _status(batch)
    return {
        "id": batch.id,
        "object": "batch",
        "endpoint": batch.endpoint,
        "errors": None,
        "input_file_id": batch.input_file_id,
        "completion_window": "24h",
        "status": status,
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
        "created_at": int(batch.created_at),
        "in_progress_at": int(batch.created_at),
        "expires_at": int(batch.created_at) + 86400,
        "finalizing_at": ended,
        "completed_at": ended if status == "completed" else None,
        "failed_at": None,
        "expired_at": ended if status == "expired" else None,
        "cancelling_at": int(batch.cancel_requested_at) if batch.cancel_requested_at is not None else None,
        "cancelled_at": ended if status == "cancelled" else None,
        "request_counts": {
            "total": len(batch.items),
            "completed": counts[ItemOutcome.SUCCEEDED],
            "failed": len(batch.results) - counts[ItemOutcome.SUCCEEDED],
        },
        "metadata": dict(batch.metadata) or None,
    }


def _store(request: web.Request) -> MockBatches:
    return request.app[BATCHES_KEY]


def _file_object(stored: Any) -> dict[str, Any]:
    return {
        "id": stored.id,
        "object": "file",
        "bytes": len(stored.content),
        "created_at": int(stored.created_at),
        "filename": stored.filename,
        "purpose": stored.purpose,
        "status": "processed",
    }


async def upload_file(request: web.Request) -> web.Response:
    form = await request.post()
    upload, purpose = form.get("file"), str(form.get("purpose") or "batch")
    if not isinstance(upload, web.FileField):
        return json_response({"error": {"message": "'file' is required", "type": "invalid_request_error"}}, status=400)
    stored = _store(request).add_file(upload.file.read(), filename=upload.filename, purpose=purpose)
    return json_response(_file_object(stored))


def _stored_file(request: web.Request) -> Any:
    stored = _store(request).files.get(request.match_info["file_id"])
    if stored is None:
        raise web.HTTPNotFound(text="no such file")
    return stored


async def get_file(request: web.Request) -> web.Response:
    return json_response(_file_object(_stored_file(request)))


async def file_content(request: web.Request) -> web.Response:
    return web.Response(body=_stored_file(request).content, content_type="application/octet-stream")


async def create_batch(request: web.Request) -> web.Response:
    store = _store(request)
    body = orjson.loads(await request.read())
    source = store.files.get(str(body.get("input_file_id")))
    if source is None:
        return json_response(
            {"error": {"message": "unknown input_file_id", "type": "invalid_request_error"}}, status=400
        )
    items = []
    for raw in source.content.splitlines():
        if raw.strip():
            line = orjson.loads(raw)
            items.append(BatchItem(str(line["custom_id"]), line.get("body") or {}))
    batch = store.create(
        "openai",
        items,
        BatchScript.from_headers(request.headers),
        endpoint=str(body.get("endpoint") or "/v1/chat/completions"),
        input_file_id=source.id,
        metadata=body.get("metadata") or {},
    )
    return json_response(batch_object(batch))


async def get_batch(request: web.Request) -> web.Response:
    store = _store(request)
    batch = store.look(request.match_info["batch_id"], read_chat)
    _finish_files(store, batch)
    return json_response(batch_object(batch))


async def cancel_batch(request: web.Request) -> web.Response:
    store = _store(request)
    batch = store.cancel(request.match_info["batch_id"], read_chat)
    _finish_files(store, batch)
    return json_response(batch_object(batch))


async def list_batches(request: web.Request) -> web.Response:
    store = _store(request)
    data = [batch_object(batch) for batch in store.batches.values() if batch.vendor == "openai"]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return json_response({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": False})


def add_routes(app: web.Application, store: MockBatches) -> None:
    app[BATCHES_KEY] = store
    app.router.add_post("/v1/files", upload_file)
    app.router.add_get("/v1/files/{file_id}", get_file)
    app.router.add_get("/v1/files/{file_id}/content", file_content)
    app.router.add_post("/v1/batches", create_batch)
    app.router.add_get("/v1/batches", list_batches)
    app.router.add_get("/v1/batches/{batch_id}", get_batch)
    app.router.add_post("/v1/batches/{batch_id}/cancel", cancel_batch)
