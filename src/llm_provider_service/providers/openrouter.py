"""OpenRouter adapter: OpenAI Chat Completions shape, its own base URL, attribution headers and `reasoning`."""

from __future__ import annotations

from typing import Any

from llm_provider_service.domain.models import ReasoningEffort
from llm_provider_service.providers.openai import OpenAIChatProvider

DEFAULT_OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"


def openrouter_headers(api_key: str, *, app_url: str = "", app_title: str = "llm-provider-service") -> dict[str, str]:
    """Bearer auth plus OpenRouter's optional attribution headers."""
    headers = {"authorization": f"Bearer {api_key}", "x-title": app_title}
    if app_url:
        headers["http-referer"] = app_url
    return headers


class OpenRouterProvider(OpenAIChatProvider):
    """OpenRouter normalises reasoning across vendors as `reasoning: {effort}`; `none` turns it off."""

    catalog_provider = "openrouter"
    # OpenRouter routes to many vendors and translates `max_tokens` for each of them.
    unknown_model_uses_max_completion_tokens = False

    def reasoning_fields(self, effort: ReasoningEffort) -> dict[str, Any]:
        # The reasoning text is never used here; `exclude` keeps it out of the answer (it is still billed).
        return {"reasoning": {"effort": effort.value, "exclude": True}}
