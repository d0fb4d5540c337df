"""Which tool the mock calls and with what arguments, the same in the in-process mock and every wire format.

A call happens when it is scripted (`x-mock-tool-call: NAME` or `{"name": ..., "arguments": {...}}`, or
`metadata.mock.tool_call`) and the conversation does not already end with a tool result (so an agent loop
ends: after the tool answers, the mock answers in text), or when the request forces one (OpenAI
`tool_choice` required/named, Anthropic `any`/`tool`, Gemini `ANY`). Arguments not scripted are generated
from the tool's schema, deterministically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EMPTY_OBJECT_SCHEMA: Mapping[str, Any] = {"type": "object", "properties": {}}


class ToolCallScriptError(ValueError):
    """The scripted call names no offered tool, or is not a name or a JSON object."""


@dataclass(frozen=True, slots=True)
class ToolPlan:
    """The tool to call: its name, the schema of its arguments, and the scripted arguments if any."""

    name: str
    schema: Mapping[str, Any]
    arguments: Mapping[str, Any] | None = None


def plan_tool_call(
    tools: Mapping[str, Mapping[str, Any] | None],
    *,
    forced: str | None,
    scripted: str | None,
    after_tool_result: bool,
) -> ToolPlan | None:
    """The call to make, or None for a text answer. `tools` maps offered names to argument schemas;
    `forced` is the name the request forces ("" for "any tool": the first)."""
    if scripted and not after_tool_result:
        name, arguments = _script(scripted)
        if name not in tools:
            raise ToolCallScriptError(f"x-mock-tool-call names {name!r}, which is not among the request's tools")
        return ToolPlan(name, tools[name] or EMPTY_OBJECT_SCHEMA, arguments)
    if forced is not None and tools:
        name = forced or next(iter(tools))
        if name not in tools:
            raise ToolCallScriptError(f"the forced tool {name!r} is not among the request's tools")
        return ToolPlan(name, tools[name] or EMPTY_OBJECT_SCHEMA)
    return None


def _script(scripted: str) -> tuple[str, Mapping[str, Any] | None]:
    if not scripted.startswith("{"):
        return scripted, None
    try:
        decoded = json.loads(scripted)
    except json.JSONDecodeError as exc:
        raise ToolCallScriptError("x-mock-tool-call is neither a tool name nor a JSON object") from exc
    name, arguments = decoded.get("name") if isinstance(decoded, dict) else None, None
    if isinstance(decoded, dict) and isinstance(decoded.get("arguments"), dict):
        arguments = decoded["arguments"]
    if not isinstance(name, str):
        raise ToolCallScriptError('x-mock-tool-call JSON needs a "name"')
    return name, arguments


def call_arguments(plan: ToolPlan, generated: Mapping[str, Any] | None) -> dict[str, Any]:
    """The arguments of the call: the scripted ones, else the engine's instance of the schema."""
    if plan.arguments is not None:
        return dict(plan.arguments)
    return dict(generated) if isinstance(generated, Mapping) else {}


def argument_pieces(text: str, size: int = 8) -> tuple[str, ...]:
    """A tool call's JSON arguments in pieces, as vendors stream them (clients must join them)."""
    return tuple(text[start : start + size] for start in range(0, len(text), size)) or ("",)
