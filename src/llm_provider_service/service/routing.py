"""Gateway routes with several targets: fallbacks in order, or a weighted or least-busy pick, then the rest.

A route (`LLM_PROVIDER_MODEL_ROUTES`) names targets (`provider/model-id`). The next target is tried when a
target cannot serve — its breaker is open, it is at its concurrency limit or rate budget, or its retry budget
is spent on provider failures — never for the caller's own mistakes (an invalid request, filtered content),
which every target would refuse alike. The answer names the target that served it (`x-llm-provider-route`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind, UnavailableError

if TYPE_CHECKING:  # the gateway imports this module
    from llm_provider_service.service.gateway import Route

logger = logging.getLogger(__name__)

T = TypeVar("T")
RouteStrategy = Literal["fallback", "weighted", "least_busy"]
# Failures every target would repeat: the caller's request, not the target, is at fault.
_CALLER_KINDS = frozenset({ProviderErrorKind.INVALID_REQUEST, ProviderErrorKind.CONTENT_FILTERED})


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A route as configured: target model names, the strategy, and weights for `weighted` (default 1 each)."""

    targets: tuple[str, ...]
    strategy: RouteStrategy = "fallback"
    weights: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteGroup:
    """An alias served by several targets; `weights` (one per target) only matter for `weighted`."""

    name: str
    targets: tuple[Route, ...]
    strategy: RouteStrategy = "fallback"
    weights: tuple[float, ...] = ()

    def ordered(self, *, in_flight: Callable[[str], int], random: Callable[[], float]) -> list[Route]:
        """The targets in the order to try them: the strategy's pick first, the others after it in order."""
        targets = list(self.targets)
        if self.strategy == "least_busy":
            first = min(range(len(targets)), key=lambda index: in_flight(targets[index].provider_name))
        elif self.strategy == "weighted" and len(self.weights) == len(targets) and sum(self.weights) > 0:
            point, first = random() * sum(self.weights), len(targets) - 1
            for index, weight in enumerate(self.weights):
                point -= weight
                if point < 0:
                    first = index
                    break
        else:
            return targets
        return [targets[first], *targets[:first], *targets[first + 1 :]]


def falls_back(error: BaseException) -> bool:
    """Whether another target may succeed where this one failed."""
    if isinstance(error, ProviderError):
        return error.kind not in _CALLER_KINDS
    return isinstance(error, UnavailableError)


async def first_available(routes: Sequence[Route], attempt: Callable[[Route], Awaitable[T]]) -> tuple[Route, T]:
    """`attempt` on each route in turn until one serves; the last failure is raised when none does."""
    for index, route in enumerate(routes):
        try:
            return route, await attempt(route)
        except (ProviderError, UnavailableError) as error:
            if index == len(routes) - 1 or not falls_back(error):
                raise
            logger.warning(
                "route target %s failed (%s); trying %s", route.name, type(error).__name__, routes[index + 1].name
            )
    raise AssertionError("first_available needs at least one route")  # pragma: no cover - routes are never empty
