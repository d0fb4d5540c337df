"""`POST /api/v1/comparison` naming a route or alias in `provider_override`, and routes in `GET /api/v1/providers`."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import ApiFactory
from tests.fakes import ScriptedProvider
from tests.unit.service.harness import CALLBACK_TOPIC, Harness

ROUTES = {"judge": {"targets": ["openai_compatible/primary", "mock/mock-comparison-v1"]}}


def _harness() -> Harness:
    return Harness(
        providers={"openai_compatible": ScriptedProvider(name="openai_compatible"), "mock": ScriptedProvider()},
        settings_overrides={"model_routes": ROUTES, "model_aliases": {"fast": "mock/mock-comparison-v1"}},
    )


def _body(**overrides: Any) -> dict[str, Any]:
    return {
        "user_prompt": "Essay A: ...\n\nEssay B: ...",
        "callback_topic": CALLBACK_TOPIC,
        "llm_config_overrides": overrides,
    }


async def test_a_job_naming_a_route_or_an_alias_is_accepted_and_served_through_it(make_api: ApiFactory) -> None:
    api = await make_api(_harness())

    for name in ("judge", "fast"):
        response = await api.client.post("/api/v1/comparison", json=_body(provider_override=name))
        assert response.status_code == 202, response.text
        assert api.harness.store.jobs[response.json()["queue_id"]].provider == name

    assert (await api.harness.process_next()).provider == "openai_compatible"
    assert (await api.harness.process_next()).provider == "mock"
    routes = {c["data"]["request_metadata"]["provider_route"]: c["data"] for c in await api.harness.callbacks()}
    assert (routes["judge"]["provider"], routes["fast"]["provider"]) == ("openai", "mock")


async def test_an_unknown_route_is_a_400_unknown_provider_and_nothing_is_stored(make_api: ApiFactory) -> None:
    api = await make_api(_harness())

    unknown = await api.client.post("/api/v1/comparison", json=_body(provider_override="nowhere"))
    with_model = await api.client.post(
        "/api/v1/comparison", json=_body(provider_override="judge", model_override="gpt-4.1")
    )

    assert unknown.status_code == 400
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert (unknown.json()["code"], unknown.json()["is_retryable"]) == ("unknown_provider", False)
    assert "judge" in unknown.json()["detail"]  # the names that would have worked
    assert (with_model.status_code, with_model.json()["code"]) == (400, "unsupported_parameter")
    assert api.harness.store.jobs == {}


async def test_providers_list_the_routes_jobs_may_name(make_api: ApiFactory) -> None:
    api = await make_api(_harness())

    routes = (await api.client.get("/api/v1/providers")).json()["routes"]

    assert routes == [
        {
            "name": "judge",
            "strategy": "fallback",
            "jobs": True,
            "targets": [
                {"model": "openai_compatible/primary", "circuit_state": "closed", "in_flight": 0},
                {"model": "mock/mock-comparison-v1", "circuit_state": "closed", "in_flight": 0},
            ],
        }
    ]
