"""Which Chat Completions parameters each vendor honours, and the drop|reject policy for the others.

OpenAI-protocol upstreams take every parameter (unknown ones verbatim). Anthropic and Gemini take what
their adapters translate (the table below; docs/gateway.md has it per parameter). The manifest adds
per-model limits (no temperature on reasoning models, ...). With policy `drop` a parameter a vendor
cannot honour is left out and named in `x-llm-provider-dropped-params`; with `reject` it is a 400.
`n > 1` is refused (400) on a vendor that cannot answer several choices, whatever the policy: dropping
it would silently answer one choice where the caller reads several.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Literal

from llm_provider_service.domain.catalog import ModelInfo
from llm_provider_service.domain.errors import UnsupportedParameterError
from llm_provider_service.domain.models import CompletionRequest, ReasoningEffort

UnsupportedParamsPolicy = Literal["drop", "reject"]
OPENAI_PROTOCOL = frozenset({"openai", "openrouter", "openai_compatible"})
_COMMON = frozenset(
    {"model", "messages", "stream", "stream_options", "temperature", "max_tokens", "max_completion_tokens",
     "reasoning_effort", "verbosity", "response_format"}
)  # fmt: skip
SUPPORTED_PARAMETERS: dict[str, frozenset[str]] = {
    "anthropic": _COMMON | {"tools", "tool_choice", "parallel_tool_calls", "stop", "top_p", "user"},
    "google": _COMMON
    | {"tools", "tool_choice", "stop", "top_p", "seed", "frequency_penalty", "presence_penalty", "n", "logprobs",
       "top_logprobs"},
    # The mock simulates tools, stop sequences and n; sampling parameters are accepted and have no effect
    # on its deterministic answers (as with a vendor at temperature 0).
    "mock": _COMMON
    | {"tools", "tool_choice", "parallel_tool_calls", "stop", "seed", "top_p", "frequency_penalty",
       "presence_penalty", "n", "user", "metadata"},
}  # fmt: skip
MULTIPLE_CHOICES = OPENAI_PROTOCOL | {"google", "mock"}
# What a dropped parameter resets: fields of the call, or (`options.`) of its `ChatOptions`.
_CLEARED: dict[str, dict[str, Any]] = {
    "temperature": {"temperature": None},
    "reasoning_effort": {"reasoning_effort": None},
    "verbosity": {"output_verbosity": None},
    "response_format": {"output_schema": None},
    "top_p": {"options.top_p": None},
    "tools": {"options.tools": (), "options.tool_choice": None},
    "tool_choice": {"options.tool_choice": None},
    "parallel_tool_calls": {"options.parallel_tool_calls": None},
    "stop": {"options.stop": ()},
    "seed": {"options.seed": None},
    "frequency_penalty": {"options.frequency_penalty": None},
    "presence_penalty": {"options.presence_penalty": None},
    "logprobs": {"options.logprobs": False, "options.top_logprobs": None},
    "top_logprobs": {"options.top_logprobs": None},
    "user": {"options.user": None},
}


def supports(provider: str, parameter: str) -> bool:
    if provider in OPENAI_PROTOCOL:
        return True
    return parameter in SUPPORTED_PARAMETERS.get(provider, _COMMON)


def unsupported(info: ModelInfo, request: CompletionRequest, present: Iterable[str]) -> list[str]:
    """The parameters the caller set that this vendor and model cannot honour, sorted."""
    names = {name for name in present if not supports(info.provider, name)}
    if request.temperature is not None and not info.supports_temperature:
        names.add("temperature")
    effort = request.reasoning_effort
    if effort is not None and effort is not ReasoningEffort.NONE and not info.supports_reasoning_effort:
        names.add("reasoning_effort")
    if request.output_verbosity is not None and not info.supports_output_verbosity:
        names.add("verbosity")
    if request.output_schema is not None and not info.supports_structured_output:
        names.add("response_format")
    return sorted(names)


def admit(
    route_name: str,
    info: ModelInfo,
    request: CompletionRequest,
    present: Iterable[str],
    policy: UnsupportedParamsPolicy,
    *,
    stream: bool,
) -> tuple[CompletionRequest, tuple[str, ...]]:
    """The call as the vendor will get it and the names dropped; `UnsupportedParameterError` (400) otherwise."""
    if request.options.n > 1 and info.provider not in MULTIPLE_CHOICES:
        raise UnsupportedParameterError(f"{route_name} cannot answer n > 1 choices", param="n")
    if stream and not info.supports_streaming:
        raise UnsupportedParameterError(f"{route_name} does not support streaming", param="stream")
    if request.max_tokens is not None and info.max_output_tokens and request.max_tokens > info.max_output_tokens:
        raise UnsupportedParameterError(
            f"max_tokens exceeds {info.max_output_tokens} for {route_name}", param="max_tokens"
        )
    names = unsupported(info, request, present)
    if not names:
        return request, ()
    if policy == "reject":
        raise UnsupportedParameterError(f"{route_name} does not support {', '.join(names)}", param=names[0])
    return _cleared(request, names), tuple(names)


def _cleared(request: CompletionRequest, names: list[str]) -> CompletionRequest:
    changes: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for name in names:
        for field, value in _CLEARED.get(name, {}).items():
            if field.startswith("options."):
                options[field.removeprefix("options.")] = value
            else:
                changes[field] = value
    if options:
        changes["options"] = replace(request.options, **options)
    if request.passthrough is not None:
        changes["passthrough"] = {key: value for key, value in request.passthrough.items() if key not in names}
    return replace(request, **changes)
