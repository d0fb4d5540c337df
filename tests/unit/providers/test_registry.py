"""The provider registry: configured vendors from explicit keys and base URLs, the mock always present."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from llm_provider_service.domain.errors import UnknownProviderError
from llm_provider_service.providers.anthropic import AnthropicProvider
from llm_provider_service.providers.gemini import GeminiProvider
from llm_provider_service.providers.http_client import open_http_session
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.openai import OpenAIChatProvider
from llm_provider_service.providers.openai_compatible import OpenAICompatibleProvider
from llm_provider_service.providers.registry import VENDORS, VendorEndpoint, build_deployments, build_provider_registry


class StubMock(OpenAIChatProvider):
    """Stands in for the mock provider: only its name matters here."""

    @property
    def name(self) -> str:
        return "mock"


async def test_only_vendors_with_what_they_need_are_configured() -> None:
    async with open_http_session(timeout_seconds=5.0, connect_timeout_seconds=1.0) as session:
        mock = StubMock(None, default_catalog())  # type: ignore[arg-type]
        registry = build_provider_registry(
            session=session,
            catalog=default_catalog(),
            mock=mock,
            endpoints={
                "anthropic": VendorEndpoint(SecretStr("sk-ant")),
                "google": VendorEndpoint(SecretStr("g"), base_url="http://127.0.0.1:9/gemini"),
                "openai": VendorEndpoint(SecretStr("")),
                "openai_compatible": VendorEndpoint(None, base_url="http://127.0.0.1:8000/v1"),
            },
        )
    assert registry.get("mock") is mock
    assert isinstance(registry.get("anthropic"), AnthropicProvider)
    assert isinstance(registry.get("google"), GeminiProvider)
    assert isinstance(registry.get("openai_compatible"), OpenAICompatibleProvider)
    assert registry.not_configured == {"openai", "openrouter"}
    assert not registry.is_configured("openai")
    with pytest.raises(UnknownProviderError, match="not configured"):
        registry.get("openai")
    with pytest.raises(UnknownProviderError, match="unknown provider"):
        registry.get("nope")


async def test_unknown_vendor_names_are_refused() -> None:
    async with open_http_session(timeout_seconds=5.0, connect_timeout_seconds=1.0) as session:
        with pytest.raises(ValueError, match="unknown vendors"):
            build_provider_registry(
                session=session,
                catalog=default_catalog(),
                mock=StubMock(None, default_catalog()),  # type: ignore[arg-type]
                endpoints={"gemini": VendorEndpoint(SecretStr("g"))},
            )


def test_every_vendor_is_a_known_provider_name() -> None:
    assert {"anthropic", "openai", "google", "openrouter", "openai_compatible"} == VENDORS


async def test_named_deployments_are_built_under_their_names_and_may_not_take_a_vendors_name() -> None:
    async with open_http_session(timeout_seconds=5.0, connect_timeout_seconds=1.0) as session:
        built = build_deployments(
            session=session,
            catalog=default_catalog(),
            deployments={
                "openai-eu": ("openai", VendorEndpoint(SecretStr("k"), base_url="http://127.0.0.1:9/v1")),
                "claude-b": ("anthropic", VendorEndpoint(None)),  # no key: left out
            },
        )
        with pytest.raises(ValueError, match="vendor's name"):
            build_deployments(
                session=session, catalog=default_catalog(), deployments={"openai": ("openai", VendorEndpoint())}
            )

    assert set(built) == {"openai-eu"}
    assert built["openai-eu"].name == "openai-eu"
