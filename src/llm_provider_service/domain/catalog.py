"""The model catalog: which models each provider offers, what they support, and what they cost."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from llm_provider_service.domain.errors import UnknownModelError, UnsupportedParameterError
from llm_provider_service.domain.models import ComparisonRequest, LLMConfigOverrides, ReasoningEffort, TokenUsage

TOKENS_PER_PRICE_UNIT = 1_000_000
# A family prefix must end where the id has one of these (`gpt-4` is no family of `gpt-4o`).
_FAMILY_SEPARATORS = frozenset("-.:@/")
# Ids resolved by family or as an `openai_compatible` id are remembered (every gateway call resolves its model);
# past this many, new ones are resolved each time, so callers sending random ids cannot grow memory.
_MAX_REMEMBERED_IDS = 1024


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
    priced: bool = True  # False: the manifest has no price for this id; its cost is reported as 0, not known
    # Vendor batch API prices (OpenAI Batch, Anthropic Message Batches); None: half the immediate price, as both bill.
    batch_input_usd_per_mtok: float | None = None
    batch_output_usd_per_mtok: float | None = None

    def batch_cost_usd(self, usage: TokenUsage) -> float:
        """Cost of one call made through the vendor's batch API: usage x the manifest's batch price."""
        if not self.priced:
            return 0.0
        input_price = self.batch_input_usd_per_mtok
        output_price = self.batch_output_usd_per_mtok
        input_price = self.input_usd_per_mtok / 2 if input_price is None else input_price
        output_price = self.output_usd_per_mtok / 2 if output_price is None else output_price
        return (usage.prompt_tokens * input_price + usage.completion_tokens * output_price) / TOKENS_PER_PRICE_UNIT

    def cost_usd(self, usage: TokenUsage) -> float:
        """Cost of one call: usage x manifest price."""
        return (
            usage.prompt_tokens * self.input_usd_per_mtok + usage.completion_tokens * self.output_usd_per_mtok
        ) / TOKENS_PER_PRICE_UNIT

    def unsupported(self, overrides: LLMConfigOverrides) -> tuple[str, ...]:
        """The override fields (wire names) this model cannot take, in a stable order."""
        names: list[str] = []
        if overrides.temperature is not None and not self.supports_temperature:
            names.append("temperature_override")
        effort = overrides.reasoning_effort
        if effort is not None and effort != ReasoningEffort.NONE and not self.supports_reasoning_effort:
            names.append("reasoning_effort")
        if overrides.output_verbosity is not None and not self.supports_output_verbosity:
            names.append("output_verbosity")
        limit = self.max_output_tokens
        if overrides.max_tokens is not None and limit and overrides.max_tokens > limit:
            names.append("max_tokens_override")
        return tuple(names)

    def check_overrides(self, overrides: LLMConfigOverrides) -> None:
        """Refuse parameters this model cannot take (the `reject` policy)."""
        names = self.unsupported(overrides)
        if names:
            raise UnsupportedParameterError(f"{self.provider}/{self.model_id} does not accept {', '.join(names)}")


# Wire name of an override -> its field on `LLMConfigOverrides`.
OVERRIDE_FIELDS = {
    "temperature_override": "temperature",
    "reasoning_effort": "reasoning_effort",
    "output_verbosity": "output_verbosity",
    "max_tokens_override": "max_tokens",
}


def without_params(request: ComparisonRequest, names: tuple[str, ...]) -> ComparisonRequest:
    """The request with the named overrides removed and recorded in `dropped_params` (the `drop` policy)."""
    overrides = replace(request.overrides, **{OVERRIDE_FIELDS[name]: None for name in names})
    return replace(request, overrides=overrides, dropped_params=names)


# Models outside the manifest (any id on an OpenAI-compatible server) share one metric label.
OTHER_MODEL_LABEL = "other"


class ModelCatalog:
    """Lookup of models by provider and id, with one default model per provider."""

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self._models: dict[tuple[str, str], ModelInfo] = {}
        self._defaults: dict[str, ModelInfo] = {}
        self._resolved: dict[tuple[str, str], ModelInfo] = {}
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
        """The named model (exact id, else its longest family prefix: dated snapshots), or the provider's default.

        `UnknownModelError` if the provider has no such model. `openai_compatible` servers host arbitrary
        models, so any id is accepted there at the default entry's price.
        """
        if model_id is None:
            try:
                return self._defaults[provider]
            except KeyError:
                raise UnknownModelError(f"no models are configured for provider {provider!r}") from None
        key = (provider, model_id)
        found = self._models.get(key) or self._resolved.get(key)
        if found is not None:
            return found
        found = self._family(provider, model_id) or self._compatible(provider, model_id)
        if len(self._resolved) < _MAX_REMEMBERED_IDS:
            self._resolved[key] = found
        return found

    def _compatible(self, provider: str, model_id: str) -> ModelInfo:
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

    def lookup(self, provider: str, model_id: str | None) -> ModelInfo:
        """Like `resolve`, but any id of a known provider is accepted: the vendor decides whether it exists (jobs).

        The mock answers any id like its default model, for free. Any other id outside the manifest costs 0 with
        `priced=False` and takes every parameter (nothing is dropped; the vendor refuses what it must).
        """
        try:
            return self.resolve(provider, model_id)
        except UnknownModelError:
            if model_id is None or provider not in self._defaults:
                raise
        if provider == "mock":
            return replace(self._defaults[provider], model_id=model_id, is_default=False)
        return ModelInfo(
            provider,
            model_id,
            0.0,
            0.0,
            0,
            0,
            supports_reasoning_effort=True,
            supports_output_verbosity=True,
            priced=False,
        )

    def _family(self, provider: str, model_id: str) -> ModelInfo | None:
        best: ModelInfo | None = None
        for (owner, known), info in self._models.items():
            if owner != provider or not model_id.startswith(known) or model_id[len(known)] not in _FAMILY_SEPARATORS:
                continue
            if best is None or len(known) > len(best.model_id):
                best = info
        return replace(best, model_id=model_id, is_default=False) if best is not None else None
