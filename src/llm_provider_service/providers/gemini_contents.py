"""The Chat Completions surface in Gemini `generateContent` form: parts, function calling, sampling options.

Images become `inlineData` (data URLs) or `fileData` (URLs); an assistant turn's tool calls become
`functionCall` parts, and `tool` turns `functionResponse` parts, which Gemini keys by function name (found
from the call's id in the conversation). Tool schemas go as `parametersJsonSchema` (JSON Schema as is),
so pydantic-generated schemas (`$defs`, `additionalProperties`) need no translation.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from typing import Any

from llm_provider_service.domain.chat import ImagePart, ToolCall
from llm_provider_service.domain.models import ChatMessage, CompletionRequest, TextBlock
from llm_provider_service.providers.anthropic_messages import refused, tool_arguments

_MODES = {"none": "NONE", "auto": "AUTO", "required": "ANY", "function": "ANY"}


def gemini_contents(request: CompletionRequest, provider: str) -> list[dict[str, Any]]:
    names = {call.id: call.name for message in request.messages for call in message.tool_calls}
    contents: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "tool":
            name = names.get(message.tool_call_id or "")
            if name is None:
                raise refused(
                    provider, f"tool message {message.tool_call_id!r} answers no tool call in the conversation"
                )
            part = {"functionResponse": {"name": name, "response": _response_object(message.content)}}
            previous = contents[-1] if contents else None
            if previous is not None and previous["role"] == "user" and _only_responses(previous["parts"]):
                previous["parts"].append(part)
            else:
                contents.append({"role": "user", "parts": [part]})
        elif message.role == "assistant":
            parts: list[dict[str, Any]] = (
                [{"text": message.content}] if message.content or not message.tool_calls else []
            )
            parts.extend({"functionCall": _function_call(call, provider)} for call in message.tool_calls)
            contents.append({"role": "model", "parts": parts})
        elif message.role == "user":
            contents.append({"role": "user", "parts": _parts(message, provider)})
    return contents


def _only_responses(parts: list[dict[str, Any]]) -> bool:
    return all("functionResponse" in part for part in parts)


def _response_object(content: str) -> dict[str, Any]:
    """Gemini wants an object: a JSON object answer as it is, anything else under `result`."""
    try:
        decoded = json.loads(content)
    except json.JSONDecodeError:
        return {"result": content}
    return decoded if isinstance(decoded, dict) else {"result": decoded}


def _function_call(call: ToolCall, provider: str) -> dict[str, Any]:
    return {"name": call.name, "args": tool_arguments(call, provider)}


def _parts(message: ChatMessage, provider: str) -> list[dict[str, Any]]:
    if not message.parts:
        return [{"text": message.content}]
    return [{"text": part.text} if isinstance(part, TextBlock) else _image(part, provider) for part in message.parts]


def _image(part: ImagePart, provider: str) -> dict[str, Any]:
    try:
        inline = part.inline_data()
    except ValueError as exc:
        raise refused(provider, str(exc)) from exc
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    media_type = mimetypes.guess_type(part.url.split("?", 1)[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": media_type, "fileUri": part.url}}


def gemini_tools(request: CompletionRequest) -> dict[str, Any]:
    """`tools` and `toolConfig` of the body."""
    if not request.options.tools:
        return {}
    declarations = [
        {"name": tool.name, "description": tool.description, "parametersJsonSchema": dict(tool.schema)}
        for tool in request.options.tools
    ]
    options: dict[str, Any] = {"tools": [{"functionDeclarations": declarations}]}
    choice = request.options.tool_choice
    if choice is not None:
        config: dict[str, Any] = {"mode": _MODES[choice.mode]}
        if choice.mode == "function":
            config["allowedFunctionNames"] = [choice.name]
        options["toolConfig"] = {"functionCallingConfig": config}
    return options


def sampling_config(request: CompletionRequest) -> dict[str, Any]:
    """The `generationConfig` entries for stop sequences, top_p, seed, n and the penalties."""
    config: dict[str, Any] = {}
    if request.options.stop:
        config["stopSequences"] = list(request.options.stop)
    options = request.options
    values = {
        "topP": options.top_p, "seed": options.seed, "frequencyPenalty": options.frequency_penalty,
        "presencePenalty": options.presence_penalty,
    }  # fmt: skip
    config.update((key, value) for key, value in values.items() if value is not None)
    if request.options.n != 1:
        config["candidateCount"] = request.options.n
    if options.logprobs:
        config["responseLogprobs"] = True
        if options.top_logprobs:
            config["logprobs"] = options.top_logprobs
    return config


def openai_logprobs(candidate: Mapping[str, Any]) -> dict[str, Any] | None:
    """A candidate's `logprobsResult` in OpenAI's shape (`content`: token, logprob, bytes, top_logprobs)."""
    result = candidate.get("logprobsResult")
    if not isinstance(result, dict) or not isinstance(result.get("chosenCandidates"), list):
        return None
    top = result.get("topCandidates")
    steps: list[Any] = top if isinstance(top, list) else []
    content = []
    for position, chosen in enumerate(result["chosenCandidates"]):
        if not isinstance(chosen, dict):
            continue
        step = steps[position] if position < len(steps) and isinstance(steps[position], dict) else {}
        alternatives = [_entry(item) for item in step.get("candidates") or () if isinstance(item, dict)]
        content.append({**_entry(chosen), "top_logprobs": alternatives})
    return {"content": content, "refusal": None}


def _entry(item: Mapping[str, Any]) -> dict[str, Any]:
    token = str(item.get("token", ""))
    value = item.get("logProbability")
    return {"token": token, "logprob": float(value) if isinstance(value, int | float) else 0.0,
            "bytes": list(token.encode())}  # fmt: skip


def function_calls(parts: list[Any], id_prefix: str, start: int = 0) -> list[ToolCall]:
    """The `functionCall` parts as tool calls; Gemini ids are used when sent, else made from `id_prefix`."""
    calls: list[ToolCall] = []
    for part in parts:
        call = part.get("functionCall") if isinstance(part, Mapping) else None
        if not isinstance(call, Mapping):
            continue
        call_id = str(call.get("id") or f"call_{id_prefix}_{start + len(calls)}")
        calls.append(ToolCall(call_id, str(call.get("name") or ""), json.dumps(call.get("args") or {})))
    return calls
