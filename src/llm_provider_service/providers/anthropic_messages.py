"""The Chat Completions surface in Anthropic Messages form: content blocks, tools, tool_choice, sampling.

Images become `image` blocks (base64 for data URLs, `url` sources otherwise); an assistant turn's tool
calls become `tool_use` blocks and `tool` turns `tool_result` blocks in one user turn (consecutive results
are merged, as the API wants every result of a turn together).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from llm_provider_service.domain.chat import ImagePart, ToolCall
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionRequest, TextBlock

_TOOL_CHOICES = {"none": "none", "auto": "auto", "required": "any", "function": "tool"}


def anthropic_messages(
    request: CompletionRequest,
    provider: str,
    *,
    text_block: Callable[[TextBlock, bool], dict[str, Any]],
    breakpoints: frozenset[int],
) -> list[dict[str, Any]]:
    """The `messages` array; `text_block(block, cached)` renders a text part, cached at the `breakpoints`
    (positions counted over system blocks, then every message part)."""
    messages: list[dict[str, Any]] = []
    position = len(request.system)
    for message in request.messages:
        if message.role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}
            previous = messages[-1] if messages else None
            if previous is not None and previous["role"] == "user" and _only_tool_results(previous["content"]):
                previous["content"].append(block)
            else:
                messages.append({"role": "user", "content": [block]})
        elif message.role == "assistant" and message.tool_calls:
            blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
            blocks.extend(_tool_use(call, provider) for call in message.tool_calls)
            messages.append({"role": "assistant", "content": blocks})
        elif message.role in ("user", "assistant"):
            content: str | list[dict[str, Any]] = message.content
            if message.parts:
                content = [
                    text_block(part, position + index in breakpoints)
                    if isinstance(part, TextBlock)
                    else _image(part, provider)
                    for index, part in enumerate(message.parts)
                ]
                position += len(message.parts)
            messages.append({"role": message.role, "content": content})
    return messages


def _only_tool_results(content: Any) -> bool:
    return isinstance(content, list) and all(block.get("type") == "tool_result" for block in content)


def _image(part: ImagePart, provider: str) -> dict[str, Any]:
    try:
        inline = part.inline_data()
    except ValueError as exc:
        raise refused(provider, str(exc)) from exc
    if inline is None:
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    media_type, data = inline
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _tool_use(call: ToolCall, provider: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": tool_arguments(call, provider)}


def tool_arguments(call: ToolCall, provider: str) -> dict[str, Any]:
    """A tool call's arguments as the object Anthropic and Gemini carry (OpenAI carries JSON text)."""
    try:
        arguments = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError as exc:
        raise refused(provider, f"tool call {call.id} has arguments that are not JSON") from exc
    if not isinstance(arguments, dict):
        raise refused(provider, f"tool call {call.id} has arguments that are not a JSON object")
    return arguments


def tool_options(request: CompletionRequest, provider: str) -> dict[str, Any]:
    """`tools`, `tool_choice`, `stop_sequences`, `top_p` and `metadata.user_id` of the Messages body."""
    options: dict[str, Any] = {}
    if request.options.tools:
        if request.output_schema is not None:
            raise refused(provider, "response_format cannot be combined with tools for Anthropic models")
        options["tools"] = [
            {"name": tool.name, "description": tool.description, "input_schema": dict(tool.schema)}
            for tool in request.options.tools
        ]
        choice = request.options.tool_choice
        tool_choice: dict[str, Any] = {"type": _TOOL_CHOICES[choice.mode] if choice else "auto"}
        if choice is not None and choice.mode == "function":
            tool_choice["name"] = choice.name
        if request.options.parallel_tool_calls is False and tool_choice["type"] != "none":
            tool_choice["disable_parallel_tool_use"] = True
        if choice is not None or "disable_parallel_tool_use" in tool_choice:
            options["tool_choice"] = tool_choice
    if request.options.stop:
        options["stop_sequences"] = list(request.options.stop)
    if request.options.top_p is not None:
        options["top_p"] = request.options.top_p
    if request.options.user:
        options["metadata"] = {"user_id": request.options.user}
    return options


def refused(provider: str, message: str) -> ProviderError:
    return ProviderError(ProviderErrorKind.INVALID_REQUEST, f"{provider}: {message}", provider=provider)
