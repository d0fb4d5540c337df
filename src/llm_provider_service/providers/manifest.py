"""The model manifest: the models each provider offers, their capabilities and list prices (USD / 1M tokens)."""

from __future__ import annotations

from llm_provider_service.domain.catalog import ModelCatalog, ModelInfo

# Prices are list prices per million tokens; update them here, the single source for cost estimates.
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
    ModelInfo(
        "anthropic", "claude-sonnet-4-5", 3.0, 15.0, 200_000, 64_000, supports_reasoning_effort=True, is_default=True
    ),
    ModelInfo("anthropic", "claude-haiku-4-5", 1.0, 5.0, 200_000, 64_000, supports_reasoning_effort=True),
    ModelInfo("anthropic", "claude-opus-4-1", 15.0, 75.0, 200_000, 32_000, supports_reasoning_effort=True),
    ModelInfo(
        "openai",
        "gpt-5-mini",
        0.25,
        2.0,
        400_000,
        128_000,
        supports_temperature=False,
        supports_reasoning_effort=True,
        supports_output_verbosity=True,
        uses_max_completion_tokens=True,
        is_default=True,
    ),
    ModelInfo(
        "openai",
        "gpt-5",
        1.25,
        10.0,
        400_000,
        128_000,
        supports_temperature=False,
        supports_reasoning_effort=True,
        supports_output_verbosity=True,
        uses_max_completion_tokens=True,
    ),
    ModelInfo("openai", "gpt-4.1", 2.0, 8.0, 1_047_576, 32_768),
    ModelInfo("openai", "gpt-4o-mini", 0.15, 0.6, 128_000, 16_384),
    ModelInfo(
        "google", "gemini-2.5-flash", 0.30, 2.50, 1_048_576, 65_536, supports_reasoning_effort=True, is_default=True
    ),
    ModelInfo("google", "gemini-2.5-pro", 1.25, 10.0, 1_048_576, 65_536, supports_reasoning_effort=True),
    ModelInfo(
        "openrouter",
        "anthropic/claude-sonnet-4.5",
        3.0,
        15.0,
        200_000,
        64_000,
        supports_reasoning_effort=True,
        is_default=True,
    ),
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
