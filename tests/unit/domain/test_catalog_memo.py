"""`ModelCatalog.resolve` remembers what it worked out (family ids, OpenAI-compatible ids), within a bound."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.catalog import ModelCatalog, ModelInfo
from llm_provider_service.domain.errors import UnknownModelError

CATALOG = ModelCatalog(
    [
        ModelInfo("openai", "gpt-4.1", 2.0, 8.0, 1_000_000, 32_768, is_default=True),
        ModelInfo("openai_compatible", "local", 0.0, 0.0, 8192, 2048, is_default=True),
    ]
)


def test_a_dated_snapshot_resolves_to_its_family_once_and_is_then_remembered() -> None:
    first = CATALOG.resolve("openai", "gpt-4.1-2025-04-14")
    assert first.model_id == "gpt-4.1-2025-04-14"
    assert first.input_usd_per_mtok == 2.0
    assert CATALOG.resolve("openai", "gpt-4.1-2025-04-14") is first


def test_an_openai_compatible_id_gets_the_default_price_and_is_remembered() -> None:
    first = CATALOG.resolve("openai_compatible", "my-llama")
    assert (first.model_id, first.context_window) == ("my-llama", 8192)
    assert CATALOG.resolve("openai_compatible", "my-llama") is first


def test_unknown_ids_are_refused_every_time_and_the_memory_is_bounded() -> None:
    catalog = ModelCatalog([ModelInfo("openai_compatible", "local", 0.0, 0.0, 8192, 2048, is_default=True)])
    for _ in range(2):
        with pytest.raises(UnknownModelError):
            catalog.resolve("openai", "gpt-9")
    infos = [catalog.resolve("openai_compatible", f"model-{index}") for index in range(1100)]
    assert catalog.resolve("openai_compatible", "model-0") is infos[0]
    assert catalog.resolve("openai_compatible", "model-1099") is not infos[1099]  # past the bound: rebuilt
    assert catalog.resolve("openai_compatible", "model-1099") == infos[1099]
