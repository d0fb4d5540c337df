"""Model ids: exact, dated snapshots by family prefix, any id of a configured vendor unpriced (SPEC §3.1)."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.errors import UnknownModelError
from llm_provider_service.domain.models import LLMConfigOverrides, ReasoningEffort
from llm_provider_service.providers.manifest import default_catalog

CATALOG = default_catalog()

# The original service's manifest, with the vendors' list prices (USD per million tokens, input and output).
ORIGINAL_MODELS = [
    ("openai", "gpt-5.1", 1.25, 10.0),
    ("openai", "gpt-5-2025-08-07", 1.25, 10.0),
    ("openai", "gpt-5-mini-2025-08-07", 0.25, 2.0),
    ("openai", "gpt-5-nano-2025-08-07", 0.05, 0.40),
    ("openai", "gpt-4.1-2025-04-14", 2.0, 8.0),
    ("openai", "gpt-4.1-mini-2025-04-14", 0.40, 1.60),
    ("openai", "gpt-4.1-nano-2025-04-14", 0.10, 0.40),
    ("openai", "gpt-4o-2024-11-20", 2.50, 10.0),
    ("openai", "gpt-4o-mini-2024-07-18", 0.15, 0.60),
    ("anthropic", "claude-haiku-4-5-20251001", 1.0, 5.0),
    ("anthropic", "claude-sonnet-4-5-20250929", 3.0, 15.0),
    ("google", "gemini-2.5-flash", 0.30, 2.50),
    ("openrouter", "anthropic/claude-haiku-4-5-20251001", 1.0, 5.0),
]


@pytest.mark.parametrize(("provider", "model_id", "input_usd", "output_usd"), ORIGINAL_MODELS)
def test_the_original_manifest_is_priced_exactly(
    provider: str, model_id: str, input_usd: float, output_usd: float
) -> None:
    info = CATALOG.lookup(provider, model_id)
    assert (info.model_id, info.input_usd_per_mtok, info.output_usd_per_mtok, info.priced) == (
        model_id,
        input_usd,
        output_usd,
        True,
    )


def test_a_dated_snapshot_takes_the_longest_family_prefix() -> None:
    assert CATALOG.resolve("openai", "gpt-4o-mini-2099-01-01").input_usd_per_mtok == 0.15  # gpt-4o-mini, not gpt-4o
    assert CATALOG.resolve("openai", "gpt-4o-2024-08-06").input_usd_per_mtok == 2.50
    snapshot = CATALOG.resolve("openai", "gpt-5.1-2025-11-13")
    assert (snapshot.model_id, snapshot.supports_temperature, snapshot.priced) == ("gpt-5.1-2025-11-13", False, True)
    assert CATALOG.resolve("google", "gemini-2.5-flash-preview-05-20").output_usd_per_mtok == 2.50


def test_a_prefix_must_end_at_a_separator() -> None:
    # `gpt-4.1` is no family of `gpt-4.10x`; such an id is unpriced, not mispriced.
    assert not CATALOG.lookup("openai", "gpt-4.10x").priced
    with pytest.raises(UnknownModelError):
        CATALOG.resolve("openai", "gpt-4.10x")


def test_any_vendor_id_is_accepted_unpriced_and_the_mock_takes_any_id() -> None:
    unknown = CATALOG.lookup("anthropic", "claude-future-9")
    assert (unknown.priced, unknown.input_usd_per_mtok, unknown.output_usd_per_mtok) == (False, 0.0, 0.0)
    assert unknown.unsupported(LLMConfigOverrides(temperature=0.1, reasoning_effort=ReasoningEffort.HIGH)) == ()
    mock = CATALOG.lookup("mock", "gpt-5.1")
    assert (mock.model_id, mock.priced, mock.input_usd_per_mtok) == ("gpt-5.1", True, 0.0)
    with pytest.raises(UnknownModelError):
        CATALOG.lookup("skynet", "t-800")


def test_unsupported_parameters_are_named_by_their_wire_names() -> None:
    gpt5 = CATALOG.lookup("openai", "gpt-5.1")
    overrides = LLMConfigOverrides(temperature=0.1, max_tokens=10_000_000, reasoning_effort=ReasoningEffort.LOW)
    assert gpt5.unsupported(overrides) == ("temperature_override", "max_tokens_override")
    assert CATALOG.lookup("openai", "gpt-4.1").unsupported(overrides) == (
        "reasoning_effort",
        "max_tokens_override",
    )
