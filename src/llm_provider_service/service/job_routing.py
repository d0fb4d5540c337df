"""Jobs on a route: which target serves each attempt, and where a job goes when a target's retries are spent.

A job whose `provider_override` names a route (`LLM_PROVIDER_MODEL_ROUTES`) or an alias
(`LLM_PROVIDER_MODEL_ALIASES`) is stored with the route's name as its `provider`. Each attempt runs on one
target, in the gateway's order (`RouteGroup.ordered`: fallback order, a weighted pick or the least busy first):
the first whose breaker would let a call through (not open, or half-open with a probe slot free) and that is
below its concurrency limit. When none is, the first is taken and the job waits in the queue as any job whose
provider is unavailable does. A retryable failure
is retried later on the route as usual (the same target again unless its breaker has opened meanwhile); when the
job's retry budget is spent, or a target fails for good (an authentication error, say), the job moves to the
next target instead of failing, unless the caller is at fault (`routing.falls_back`). Each target reached that
way gets one attempt; the spent targets travel in the job's `last_error`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from llm_provider_service.domain.catalog import ModelInfo
from llm_provider_service.domain.errors import ModelNotFoundError, ProviderError
from llm_provider_service.domain.models import Job, JobRoute, ProviderName
from llm_provider_service.resilience.circuit_breaker import CircuitBreakerRegistry
from llm_provider_service.service.limits import ProviderLimits
from llm_provider_service.service.routing import RouteGroup, falls_back

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from llm_provider_service.service.gateway_routes import Route

SPENT_KEY = "route_spent"  # `last_error` key: the targets (`provider/model`) a job has used up


def _key(route: Route) -> str:
    return f"{route.provider_name}/{route.info.model_id}"


class JobRoutes:
    """The routes jobs may name, and the target for each attempt of a routed job."""

    def __init__(
        self,
        groups: Iterable[RouteGroup],
        *,
        breakers: CircuitBreakerRegistry,
        limits: ProviderLimits,
        random: Callable[[], float],
    ) -> None:
        self._groups: dict[str, RouteGroup] = {group.name: group for group in groups}
        self._breakers = breakers
        self._limits = limits
        self._random = random

    def names(self) -> list[str]:
        return list(self._groups)

    def models(self, name: str) -> list[ModelInfo] | None:
        """The manifest entries of a route's targets, primary first; None when `name` is no route."""
        group = self._groups.get(name)
        return None if group is None else [route.info for route in group.targets]

    def primary(self, job: Job) -> Job:
        """A routed job as its primary target would run it (for outcomes of jobs that never ran)."""
        group = self._groups.get(job.provider)
        return job if group is None else _on(job, group, group.targets[0])

    def target(self, job: Job) -> Job:
        """The job as it runs this attempt: provider, model and `route` of the chosen target (unchanged when the
        job's provider is no route here; the processor then fails it as not configured)."""
        group = self._groups.get(job.provider)
        if group is None:
            return job
        spent = set(_spent(job.last_error))
        candidates = [route for route in self._ordered(group) if _key(route) not in spent]
        if not candidates:  # every target used up (the route changed meanwhile): the last one fails the job
            return _on(job, group, group.targets[-1])
        for route in candidates:
            if self._can_serve(route):
                return _on(job, group, route)
        return _on(job, group, candidates[0])

    def move_on(self, job: Job, error: ProviderError, *, retrying: bool) -> dict[str, Any] | None:
        """The `last_error` that sends a routed job to its next target, or None (retry as usual, or fail).

        Only when the job will not be retried on this target (`retrying` False) and another may succeed."""
        if job.route is None or retrying or not falls_back(error):
            return None
        group = self._groups.get(job.route.name)
        if group is None:
            return None
        spent = [*_spent(job.last_error), f"{job.provider}/{job.model}"]
        if all(_key(route) in spent for route in group.targets):
            return None
        return {"kind": error.kind.value, "message": str(error), "attempt": job.attempts, SPENT_KEY: spent}

    def _ordered(self, group: RouteGroup) -> list[Route]:
        return group.ordered(in_flight=self._limits.in_flight, random=self._random)

    def _can_serve(self, route: Route) -> bool:
        name = route.provider_name
        if not self._breakers.get(name).would_allow():  # open, or half-open with its probes out
            return False
        limit = self._limits.limit(name)
        return limit is None or self._limits.in_flight(name) < limit


def _on(job: Job, group: RouteGroup, route: Route) -> Job:
    return job.with_changes(
        provider=route.provider_name, model=route.info.model_id, route=JobRoute(group.name, route.info.provider)
    )


def _spent(last_error: Mapping[str, Any] | None) -> list[str]:
    spent = (last_error or {}).get(SPENT_KEY)
    return [str(name) for name in spent] if isinstance(spent, list) else []


def job_route_groups(
    groups: Iterable[RouteGroup],
    aliases: Mapping[str, str],
    route: Callable[[str], Route],
    *,
    providers: Iterable[str] = (),
) -> list[RouteGroup]:
    """The gateway's routes, and each alias served here as a one-target route; a name that is also a provider's
    (or a deployment's) is left out, so it can never reroute the jobs stored under that provider."""
    taken = {*providers, *(name.value for name in ProviderName)}
    found = [group for group in groups if group.name not in taken]
    for alias, target in aliases.items():
        if alias in taken:
            continue
        try:
            found.append(RouteGroup(alias, (route(target),)))
        except ModelNotFoundError:  # an alias not served here is ignored, as the gateway ignores it
            continue
    skipped = sorted(taken & {*(group.name for group in groups), *aliases})
    if skipped:
        logger.warning("routes named like a provider are not used by jobs: %s", ", ".join(skipped))
    return found
