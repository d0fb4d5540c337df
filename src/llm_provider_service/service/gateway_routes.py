"""The gateway's route table: which provider and manifest entry a model name, alias or route leads to.

Built once at start-up from the catalog, the aliases and the routes (`LLM_PROVIDER_MODEL_ROUTES`), so a
request's lookup is one dict access. Ad-hoc ids (any model on an OpenAI-compatible server, a deployment's
models) are resolved on first use and remembered, bounded so callers cannot grow memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from llm_provider_service.domain.catalog import ModelCatalog, ModelInfo
from llm_provider_service.domain.errors import ModelNotFoundError, UnknownModelError
from llm_provider_service.ports import StreamingLLMProvider
from llm_provider_service.service.chat_parameters import OPENAI_PROTOCOL
from llm_provider_service.service.routing import RouteGroup, RouteSpec

logger = logging.getLogger(__name__)

# Ad-hoc model ids whose routes are remembered; beyond this many a new id is resolved each time.
_MAX_CACHED_ADHOC_ROUTES = 256


@dataclass(frozen=True, slots=True)
class Route:
    """Where a gateway model name leads: the provider and the manifest entry."""

    name: str
    provider: StreamingLLMProvider
    info: ModelInfo
    deployment: str | None = None  # a named deployment of the vendor: its own breaker, limits and budget

    @property
    def provider_name(self) -> str:
        """Who serves: the vendor, or the deployment's name (breakers, limits, usage and headers use it)."""
        return self.deployment or self.info.provider

    @property
    def speaks_openai(self) -> bool:
        """Whether the upstream speaks Chat Completions (and gets the caller's unknown fields verbatim)."""
        return self.info.provider in OPENAI_PROTOCOL


@dataclass(frozen=True, slots=True)
class ListedModel:
    """One `GET /v1/models` entry: a `provider/model-id` or an alias, and who serves it."""

    id: str
    owned_by: str


class RouteTable:
    """Model names (`provider/model-id`, aliases, routes) to the targets that serve them."""

    def __init__(
        self,
        *,
        providers: Mapping[str, StreamingLLMProvider],
        catalog: ModelCatalog,
        aliases: Mapping[str, str],
        model_routes: Mapping[str, RouteSpec] | None = None,
        deployment_vendors: Mapping[str, str] | None = None,
    ) -> None:
        self._providers = providers
        self._catalog = catalog
        self._routes: dict[str, Route] = {}
        self._adhoc_routes: dict[str, Route] = {}
        # A deployment (another key or base URL of a vendor) has its own name; its models are the vendor's.
        self._deployment_vendors = dict(deployment_vendors or {})
        self._listing: list[ListedModel] = []
        for info in catalog:
            provider = providers.get(info.provider)
            if provider is not None:
                name = f"{info.provider}/{info.model_id}"
                self._routes[name] = Route(name, provider, info)
                self._listing.append(ListedModel(name, info.provider))
        for alias, target in aliases.items():
            try:
                route = self.route(target)
            except ModelNotFoundError:
                logger.warning("model alias %s -> %s is not served here; ignored", alias, target)
                continue
            self._routes[alias] = route
            self._listing.append(ListedModel(alias, route.provider_name))
        self._groups: dict[str, RouteGroup] = {}
        for name, spec in (model_routes or {}).items():
            group = self._group(name, spec)
            if group is not None:
                self._groups[name] = group
                self._listing.append(ListedModel(name, group.targets[0].provider_name))

    def _group(self, name: str, spec: RouteSpec) -> RouteGroup | None:
        targets, weights = [], []
        for index, target in enumerate(spec.targets):
            try:
                targets.append(self.route(target))
            except ModelNotFoundError:
                logger.warning("route %s: target %s is not served here; left out", name, target)
                continue
            weights.append(spec.weights[index] if index < len(spec.weights) else 1.0)
        if not targets:
            logger.warning("route %s has no target served here; ignored", name)
            return None
        return RouteGroup(name, tuple(targets), spec.strategy, tuple(weights))

    def plan(self, model: str, *, in_flight: Callable[[str], int], random: Callable[[], float]) -> list[Route]:
        """The targets to try for `model`, in order: a route's (by its strategy), else the one route."""
        group = self._groups.get(model)
        if group is None:
            return [self.route(model)]
        return group.ordered(in_flight=in_flight, random=random)

    def groups(self) -> list[RouteGroup]:
        return list(self._groups.values())

    def models(self) -> list[ListedModel]:
        return list(self._listing)

    def route(self, model: str) -> Route:
        """The route of `provider/model-id` or an alias; `ModelNotFoundError` otherwise."""
        found = self._routes.get(model) or self._adhoc_routes.get(model)
        if found is not None:
            return found
        provider_name, slash, model_id = model.partition("/")
        if not slash or not model_id:
            raise ModelNotFoundError(f"model {model!r} does not exist: use provider/model-id or an alias")
        provider = self._providers.get(provider_name)
        if provider is None:
            raise ModelNotFoundError(f"model {model!r} does not exist: provider {provider_name!r} is not configured")
        vendor = self._deployment_vendors.get(provider_name)
        try:
            info = self._catalog.resolve(vendor or provider_name, model_id)
        except UnknownModelError as exc:
            raise ModelNotFoundError(f"model {model!r} does not exist") from exc
        # Ad-hoc ids (OpenAI-compatible servers) and deployments' models get here; a bounded number are remembered.
        route = Route(model, provider, info, deployment=provider_name if vendor is not None else None)
        if len(self._adhoc_routes) < _MAX_CACHED_ADHOC_ROUTES:
            self._adhoc_routes[model] = route
        return route
