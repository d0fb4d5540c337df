"""Any OpenAI-compatible server (vLLM, Ollama, llama.cpp, the mock server) reached by base URL.

These servers take `max_tokens` and `response_format: json_schema`; a key is optional because local
servers usually have none. Models are whatever the server hosts (the manifest accepts any id).
"""

from __future__ import annotations

from typing import Any

from llm_provider_service.domain.models import ReasoningEffort
from llm_provider_service.providers.openai import OpenAIChatProvider


def openai_compatible_headers(api_key: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}"} if api_key else {}


class OpenAICompatibleProvider(OpenAIChatProvider):
    """Chat Completions against a self-hosted server; reasoning is passed as vLLM and Ollama accept it."""

    catalog_provider = "openai_compatible"
    unknown_model_uses_max_completion_tokens = False

    def reasoning_fields(self, effort: ReasoningEffort) -> dict[str, Any]:
        # vLLM and Ollama read the top-level OpenAI field; "none" is passed as is (they accept it).
        return {"reasoning_effort": effort.value}
