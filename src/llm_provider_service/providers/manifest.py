"""The model manifest: the models each provider offers, their capabilities and list prices (USD / 1M tokens)."""

from __future__ import annotations

from llm_provider_service.domain.catalog import ModelCatalog, ModelInfo


def _gpt5(model_id: str, input_usd: float, output_usd: float, *, is_default: bool = False) -> ModelInfo:
    """A GPT-5 family reasoning model: no temperature, reasoning effort and verbosity, max_completion_tokens."""
    return ModelInfo(
        "openai",
        model_id,
        input_usd,
        output_usd,
        400_000,
        128_000,
        supports_temperature=False,
        supports_reasoning_effort=True,
        supports_output_verbosity=True,
        uses_max_completion_tokens=True,
        is_default=is_default,
    )


def _claude(provider: str, model_id: str, input_usd: float, output_usd: float, **flags: bool) -> ModelInfo:
    """A Claude 4.5 model (direct or through OpenRouter): 200K context, extended thinking."""
    return ModelInfo(
        provider, model_id, input_usd, output_usd, 200_000, 64_000, **{"supports_reasoning_effort": True, **flags}
    )


# Prices are list prices; update them here, the single source for cost estimates.
# List prices in USD per million tokens (input, output), standard tier, prompts within the base context tier.
# Sources, checked 2025-12: OpenAI's API pricing page, Anthropic's Claude pricing page, Google's Gemini API
# pricing page, OpenRouter's model pages (docs/providers.md cites them per model). Dated snapshot ids not
# listed here are priced by their family (the longest listed prefix), e.g. gpt-4o-2024-08-06 as gpt-4o.
MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        "mock",
        "mock-comparison-v1",
        0.0,
        0.0,
        200_000,
        8_192,
        supports_reasoning_effort=True,
        supports_output_verbosity=True,
        is_default=True,
    ),
    _claude("anthropic", "claude-sonnet-4-5", 3.0, 15.0, is_default=True),
    _claude("anthropic", "claude-sonnet-4-5-20250929", 3.0, 15.0),
    _claude("anthropic", "claude-haiku-4-5", 1.0, 5.0),
    _claude("anthropic", "claude-haiku-4-5-20251001", 1.0, 5.0),
    ModelInfo("anthropic", "claude-opus-4-1", 15.0, 75.0, 200_000, 32_000, supports_reasoning_effort=True),
    _gpt5("gpt-5-mini", 0.25, 2.0, is_default=True),
    _gpt5("gpt-5-mini-2025-08-07", 0.25, 2.0),
    _gpt5("gpt-5", 1.25, 10.0),
    _gpt5("gpt-5-2025-08-07", 1.25, 10.0),
    _gpt5("gpt-5-nano", 0.05, 0.40),
    _gpt5("gpt-5-nano-2025-08-07", 0.05, 0.40),
    _gpt5("gpt-5.1", 1.25, 10.0),
    ModelInfo("openai", "gpt-4.1", 2.0, 8.0, 1_047_576, 32_768),
    ModelInfo("openai", "gpt-4.1-2025-04-14", 2.0, 8.0, 1_047_576, 32_768),
    ModelInfo("openai", "gpt-4.1-mini", 0.40, 1.60, 1_047_576, 32_768),
    ModelInfo("openai", "gpt-4.1-mini-2025-04-14", 0.40, 1.60, 1_047_576, 32_768),
    ModelInfo("openai", "gpt-4.1-nano", 0.10, 0.40, 1_047_576, 32_768),
    ModelInfo("openai", "gpt-4.1-nano-2025-04-14", 0.10, 0.40, 1_047_576, 32_768),
    ModelInfo("openai", "gpt-4o", 2.50, 10.0, 128_000, 16_384),
    ModelInfo("openai", "gpt-4o-2024-11-20", 2.50, 10.0, 128_000, 16_384),
    ModelInfo("openai", "gpt-4o-mini", 0.15, 0.6, 128_000, 16_384),
    ModelInfo("openai", "gpt-4o-mini-2024-07-18", 0.15, 0.6, 128_000, 16_384),
    ModelInfo(
        "google", "gemini-2.5-flash", 0.30, 2.50, 1_048_576, 65_536, supports_reasoning_effort=True, is_default=True
    ),
    ModelInfo("google", "gemini-2.5-pro", 1.25, 10.0, 1_048_576, 65_536, supports_reasoning_effort=True),
    # Embedding models (`POST /v1/embeddings`): input tokens only; no chat capabilities.
    ModelInfo("openai", "text-embedding-3-small", 0.02, 0.0, 8_191, 0, supports_structured_output=False),
    ModelInfo("openai", "text-embedding-3-large", 0.13, 0.0, 8_191, 0, supports_structured_output=False),
    ModelInfo("google", "gemini-embedding-001", 0.15, 0.0, 2_048, 0, supports_structured_output=False),
    _claude("openrouter", "anthropic/claude-sonnet-4.5", 3.0, 15.0, is_default=True),
    _claude("openrouter", "anthropic/claude-haiku-4.5", 1.0, 5.0),
    _claude("openrouter", "anthropic/claude-haiku-4-5-20251001", 1.0, 5.0),
    ModelInfo(
        "openrouter",
        "openai/gpt-5-mini",
        0.25,
        2.0,
        400_000,
        128_000,
        supports_temperature=False,
        supports_reasoning_effort=True,
    ),
    ModelInfo("openai_compatible", "default", 0.0, 0.0, 32_768, 8_192, is_default=True),
)


def default_catalog() -> ModelCatalog:
    return ModelCatalog(MODELS)
