"""The model catalog: which models each provider offers, what they support, and what they cost."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from llm_provider_service.domain.errors import UnknownModelError, UnsupportedParameterError
from llm_provider_service.domain.models import LLMConfigOverrides, ReasoningEffort, TokenUsage

TOKENS_PER_PRICE_UNIT = 1_000_000


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model of one provider: capabilities, parameter support, limits and price per million tokens."""

    provider: str
    model_id: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    context_window: int
    max_output_tokens: int
    supports_temperature: bool = True
    supports_reasoning_effort: bool = False
    supports_output_verbosity: bool = False
    supports_structured_output: bool = True
    supports_streaming: bool = True
    uses_max_completion_tokens: bool = False
    is_default: bool = False

    def cost_usd(self, usage: TokenUsage) -> float:
        """Cost of one call: usage x manifest price."""
        return (
            usage.prompt_tokens * self.input_usd_per_mtok + usage.completion_tokens * self.output_usd_per_mtok
        ) / TOKENS_PER_PRICE_UNIT

    def check_overrides(self, overrides: LLMConfigOverrides) -> None:
        """Refuse parameters this model cannot take instead of silently dropping them."""
        if overrides.temperature is not None and not self.supports_temperature:
            raise UnsupportedParameterError(f"{self.provider}/{self.model_id} does not accept temperature")
        effort = overrides.reasoning_effort
        if effort is not None and effort != ReasoningEffort.NONE and not self.supports_reasoning_effort:
            raise UnsupportedParameterError(f"{self.provider}/{self.model_id} does not support reasoning_effort")
        if overrides.output_verbosity is not None and not self.supports_output_verbosity:
            raise UnsupportedParameterError(f"{self.provider}/{self.model_id} does not support output_verbosity")
        if overrides.max_tokens is not None and overrides.max_tokens > self.max_output_tokens:
            raise UnsupportedParameterError(
                f"max_tokens_override exceeds {self.max_output_tokens} for {self.provider}/{self.model_id}"
            )


# Models outside the manifest (any id on an OpenAI-compatible server) share one metric label.
OTHER_MODEL_LABEL = "other"


class ModelCatalog:
    """Lookup of models by provider and id, with one default model per provider."""

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self._models: dict[tuple[str, str], ModelInfo] = {}
        self._defaults: dict[str, ModelInfo] = {}
        for model in models:
            self._models[(model.provider, model.model_id)] = model
            if model.is_default or model.provider not in self._defaults:
                self._defaults[model.provider] = model

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._models.values())

    def providers(self) -> set[str]:
        return set(self._defaults)

    def metric_label(self, provider: str, model_id: str) -> str:
        """`model_id` if the manifest lists it, else "other": labels stay bounded whatever callers send."""
        return model_id if (provider, model_id) in self._models else OTHER_MODEL_LABEL

    def resolve(self, provider: str, model_id: str | None) -> ModelInfo:
        """The named model, or the provider's default; `UnknownModelError` if the provider has no such model.

        `openai_compatible` servers host arbitrary models, so any id is accepted there at the default price.
        """
        if model_id is None:
            try:
                return self._defaults[provider]
            except KeyError:
                raise UnknownModelError(f"no models are configured for provider {provider!r}") from None
        found = self._models.get((provider, model_id))
        if found is not None:
            return found
        default = self._defaults.get(provider)
        if default is not None and provider == "openai_compatible":
            return ModelInfo(
                provider=provider,
                model_id=model_id,
                input_usd_per_mtok=default.input_usd_per_mtok,
                output_usd_per_mtok=default.output_usd_per_mtok,
                context_window=default.context_window,
                max_output_tokens=default.max_output_tokens,
            )
        raise UnknownModelError(f"unknown model {model_id!r} for provider {provider!r}")
