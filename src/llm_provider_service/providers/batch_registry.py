"""Batch clients for the configured vendors that have a batch API (OpenAI, Anthropic), over their transports."""

from __future__ import annotations

from collections.abc import Mapping

from llm_provider_service.ports import BatchProvider, LLMProvider
from llm_provider_service.providers.anthropic import AnthropicProvider
from llm_provider_service.providers.batch_anthropic import AnthropicBatchClient
from llm_provider_service.providers.batch_openai import OpenAIBatchClient
from llm_provider_service.providers.openai import OpenAIChatProvider


def build_batch_clients(
    providers: Mapping[str, LLMProvider], *, submit_headers: Mapping[str, str] | None = None
) -> dict[str, BatchProvider]:
    """One client per vendor batch API among `providers` (the vendors' own names only: a deployment or an
    OpenAI-compatible server has no batch API we know of). `submit_headers` go with each submission."""
    clients: dict[str, BatchProvider] = {}
    openai = providers.get("openai")
    if isinstance(openai, OpenAIChatProvider) and openai.name == "openai":
        clients["openai"] = OpenAIBatchClient(openai.transport, openai, submit_headers=submit_headers)
    anthropic = providers.get("anthropic")
    if isinstance(anthropic, AnthropicProvider) and anthropic.name == "anthropic":
        clients["anthropic"] = AnthropicBatchClient(anthropic.transport, anthropic, submit_headers=submit_headers)
    return clients
