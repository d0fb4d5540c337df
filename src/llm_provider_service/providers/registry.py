"""Builds the provider mapping from explicit keys, base URLs and the one shared HTTP session.

Adding a vendor is one adapter module plus one entry in `_FACTORIES`. A vendor without a key (or, for
`openai_compatible`, without a base URL) is "not configured"; the mock is always there. A base URL other
than the vendor's default (a proxy or the mock server) also forwards each call's request key and attempt
as `x-mock-*` headers (see `mock_forwarding`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from pydantic import SecretStr

from llm_provider_service.domain.catalog import ModelCatalog
from llm_provider_service.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind, UnknownProviderError
from llm_provider_service.domain.models import CompletionChunk, CompletionRequest, CompletionResponse
from llm_provider_service.ports import EmbeddingProvider, StreamingLLMProvider
from llm_provider_service.providers.anthropic import DEFAULT_ANTHROPIC_BASE_URL, AnthropicProvider, anthropic_headers
from llm_provider_service.providers.gemini import DEFAULT_GEMINI_BASE_URL, GeminiProvider, gemini_headers
from llm_provider_service.providers.http_client import VendorTransport
from llm_provider_service.providers.openai import DEFAULT_OPENAI_BASE_URL, OpenAIChatProvider
from llm_provider_service.providers.openai_compatible import OpenAICompatibleProvider, openai_compatible_headers
from llm_provider_service.providers.openrouter import (
    DEFAULT_OPENROUTER_BASE_URL,
    OpenRouterProvider,
    openrouter_headers,
)

logger = logging.getLogger(__name__)


class EndpointSettings(Protocol):
    """What the registry reads of a vendor's settings (`config.VendorSettings` is one)."""

    @property
    def api_key(self) -> SecretStr | None: ...

    @property
    def base_url(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class VendorEndpoint:
    """How to reach one vendor: its key and, optionally, a base URL (a proxy, or the mock server)."""

    api_key: SecretStr | None = None
    base_url: str | None = None

    def key(self) -> str | None:
        value = self.api_key.get_secret_value() if self.api_key is not None else ""
        return value or None

    def url(self, default: str) -> tuple[str, bool]:
        """The base URL to use, and whether it was overridden (then the mock identity headers are sent)."""
        if not self.base_url or self.base_url.rstrip("/") == default.rstrip("/"):
            return default, False
        return self.base_url, True


Factory = Callable[[aiohttp.ClientSession, ModelCatalog, VendorEndpoint], StreamingLLMProvider | None]


def _anthropic(
    session: aiohttp.ClientSession, _: ModelCatalog, endpoint: VendorEndpoint
) -> StreamingLLMProvider | None:
    key = endpoint.key()
    if key is None:
        return None
    base_url, overridden = endpoint.url(DEFAULT_ANTHROPIC_BASE_URL)
    headers = anthropic_headers(key)
    return AnthropicProvider(
        VendorTransport(
            session, provider="anthropic", base_url=base_url, headers=headers, forward_mock_identity=overridden
        )
    )


def _openai(
    session: aiohttp.ClientSession, catalog: ModelCatalog, endpoint: VendorEndpoint
) -> StreamingLLMProvider | None:
    key = endpoint.key()
    if key is None:
        return None
    base_url, overridden = endpoint.url(DEFAULT_OPENAI_BASE_URL)
    headers = {"authorization": f"Bearer {key}"}
    transport = VendorTransport(
        session, provider="openai", base_url=base_url, headers=headers, forward_mock_identity=overridden
    )
    return OpenAIChatProvider(transport, catalog)


def _google(session: aiohttp.ClientSession, _: ModelCatalog, endpoint: VendorEndpoint) -> StreamingLLMProvider | None:
    key = endpoint.key()
    if key is None:
        return None
    base_url, overridden = endpoint.url(DEFAULT_GEMINI_BASE_URL)
    headers = gemini_headers(key)
    return GeminiProvider(
        VendorTransport(
            session, provider="google", base_url=base_url, headers=headers, forward_mock_identity=overridden
        )
    )


def _openrouter(
    session: aiohttp.ClientSession, catalog: ModelCatalog, endpoint: VendorEndpoint
) -> StreamingLLMProvider | None:
    key = endpoint.key()
    if key is None:
        return None
    base_url, overridden = endpoint.url(DEFAULT_OPENROUTER_BASE_URL)
    headers = openrouter_headers(key)
    transport = VendorTransport(
        session, provider="openrouter", base_url=base_url, headers=headers, forward_mock_identity=overridden
    )
    return OpenRouterProvider(transport, catalog)


def _openai_compatible(
    session: aiohttp.ClientSession, catalog: ModelCatalog, endpoint: VendorEndpoint
) -> StreamingLLMProvider | None:
    if not endpoint.base_url:
        return None  # there is no default server to talk to
    headers = openai_compatible_headers(endpoint.key())
    # A self-hosted server is always reached by an explicit URL: it gets the request key and attempt
    # (which vLLM, Ollama and llama.cpp ignore) so that the mock server behind it is deterministic.
    transport = VendorTransport(
        session, provider="openai_compatible", base_url=endpoint.base_url, headers=headers, forward_mock_identity=True
    )
    return OpenAICompatibleProvider(transport, catalog)


_FACTORIES: dict[str, Factory] = {
    "anthropic": _anthropic,
    "openai": _openai,
    "google": _google,
    "openrouter": _openrouter,
    "openai_compatible": _openai_compatible,
}
VENDORS = frozenset(_FACTORIES)


@dataclass(frozen=True, slots=True)
class ProviderRegistry:
    """The configured providers by name, and the known vendors that lack configuration."""

    providers: Mapping[str, StreamingLLMProvider]
    not_configured: frozenset[str]

    def get(self, name: str) -> StreamingLLMProvider:
        provider = self.providers.get(name)
        if provider is not None:
            return provider
        if name in self.not_configured:
            raise UnknownProviderError(f"provider {name!r} is not configured (no API key or base URL)")
        raise UnknownProviderError(f"unknown provider {name!r}")

    def is_configured(self, name: str) -> bool:
        return name in self.providers


def build_provider_registry(
    *,
    session: aiohttp.ClientSession,
    catalog: ModelCatalog,
    mock: StreamingLLMProvider,
    endpoints: Mapping[str, EndpointSettings],
) -> ProviderRegistry:
    """Every vendor in `endpoints` that has what it needs, plus the mock under its own name."""
    unknown = set(endpoints) - VENDORS
    if unknown:
        raise ValueError(f"unknown vendors: {sorted(unknown)}")
    providers: dict[str, StreamingLLMProvider] = {mock.name: mock}
    for name, factory in _FACTORIES.items():
        given = endpoints.get(name)
        endpoint = VendorEndpoint(given.api_key, given.base_url) if given is not None else VendorEndpoint()
        provider = factory(session, catalog, endpoint)
        if provider is not None:
            providers[name] = provider
    return ProviderRegistry(providers, frozenset(VENDORS - set(providers)))


class DeploymentProvider:
    """One more deployment (key or base URL) of a vendor, under its own name: its own breaker, limits and budget."""

    def __init__(self, inner: StreamingLLMProvider, name: str) -> None:
        self._inner = inner
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        return await self._inner.complete(request)

    def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        return self._inner.stream(request)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        if not isinstance(self._inner, EmbeddingProvider):
            raise ProviderError(
                ProviderErrorKind.INVALID_REQUEST, f"{self._name} has no embeddings API", provider=self._name
            )
        return await self._inner.embed(request)


def build_deployments(
    *,
    session: aiohttp.ClientSession,
    catalog: ModelCatalog,
    deployments: Mapping[str, tuple[str, EndpointSettings]],
) -> dict[str, StreamingLLMProvider]:
    """Named extra deployments, `{name: (vendor, endpoint)}`; one without what it needs is left out (logged)."""
    built: dict[str, StreamingLLMProvider] = {}
    for name, (vendor, given) in deployments.items():
        if name in VENDORS or name == "mock":
            raise ValueError(f"deployment name {name!r} is a vendor's name")
        factory = _FACTORIES.get(vendor)
        if factory is None:
            raise ValueError(f"deployment {name!r}: unknown vendor {vendor!r}")
        provider = factory(session, catalog, VendorEndpoint(given.api_key, given.base_url))
        if provider is None:
            logger.warning("deployment %s has no key or base URL; left out", name)
            continue
        built[name] = DeploymentProvider(provider, name)
    return built
