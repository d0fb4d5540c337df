"""Bearer keys, admin routes, health, readiness, metrics and logs."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from llm_provider_service.api.app import create_app
from llm_provider_service.domain.errors import StoreUnavailableError
from llm_provider_service.domain.models import Job
from llm_provider_service.domain.rate_limits import Demand, Dimension
from llm_provider_service.service.budgets import BudgetPolicy
from tests.api.conftest import MAX_BODY_BYTES, Api, ApiFactory, build_context
from tests.fakes import InMemoryJobStore
from tests.unit.service.harness import Harness

CLIENT_KEY = "client-key-0123456789"
ADMIN_KEY = "admin-key-9876543210"
BODY = {"user_prompt": "Essay A ... Essay B ..."}


@pytest.fixture
async def secured(make_api: ApiFactory) -> Api:
    api: Api = await make_api(api_keys=[CLIENT_KEY, "second-client-key"], admin_key=ADMIN_KEY)
    return api


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic abc", "Bearer "])
async def test_api_routes_need_a_valid_key(secured: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in [("POST", "/api/v1/comparison"), ("GET", "/api/v1/requests/x"), ("GET", "/api/v1/models")]:
        response = await secured.client.request(method, path, json=BODY, headers=headers)
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthorized"
    assert secured.harness.store.jobs == {}


async def test_a_valid_key_is_accepted(secured: Api) -> None:
    response = await secured.client.post(
        "/api/v1/comparison", json=BODY, headers={"Authorization": f"Bearer {CLIENT_KEY}"}
    )
    assert response.status_code == 202


async def test_admin_routes_need_the_admin_key(secured: Api) -> None:
    client = await secured.client.get("/api/v1/providers", headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    assert client.status_code == 403
    assert client.json()["code"] == "forbidden"
    admin = await secured.client.get("/api/v1/providers", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert admin.status_code == 200
    usage = await secured.client.get("/api/v1/usage", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert usage.status_code == 200


async def test_keys_are_never_logged(secured: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await secured.client.post("/api/v1/comparison", json=BODY, headers={"Authorization": "Bearer guessed-key"})
    await secured.client.post("/api/v1/comparison", json=BODY, headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    assert CLIENT_KEY not in caplog.text
    assert "guessed-key" not in caplog.text


async def test_prompts_are_not_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "unmistakable-essay-sentence"
    await api.client.post("/api/v1/comparison", json={"user_prompt": marker})
    await api.harness.process_next()
    await api.harness.published()
    assert marker not in caplog.text


async def test_providers_show_circuit_state(api: Api) -> None:
    providers = (await api.client.get("/api/v1/providers")).json()["providers"]
    mock = next(p for p in providers if p["name"] == "mock")
    assert mock == {
        "name": "mock",
        "enabled": True,
        "configured": True,
        "circuit_state": "closed",
        "in_flight": 0,
        "concurrency_limit": None,
        "default_model": "mock-comparison-v1",
        "rate_budgets": [],
        "open_batches": [],
    }
    openai = next(p for p in providers if p["name"] == "openai")
    assert openai["enabled"] is False


async def test_models_lists_the_manifest_with_prices(api: Api) -> None:
    models = (await api.client.get("/api/v1/models")).json()["models"]
    mock = next(m for m in models if m["provider"] == "mock")
    assert mock["available"] is True
    assert mock["input_usd_per_million_tokens"] == 0.0


async def test_usage_rejects_bad_parameters(api: Api) -> None:
    assert (await api.client.get("/api/v1/usage?group_by=user")).status_code == 400
    assert (await api.client.get("/api/v1/usage?from=yesterday")).status_code == 400
    assert (await api.client.get("/api/v1/usage?from=2026-01-01T00:00:00")).status_code == 400
    ok = await api.client.get("/api/v1/usage?from=2026-01-01T00:00:00Z&group_by=day")
    assert ok.status_code == 200
    assert ok.json()["groups"] == []


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).json()["status"] == "ok"
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"store": "ok", "queue": "ok"}
    api.harness.store.unavailable = StoreUnavailableError("down")
    not_ready = await api.client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["store"] == "store_unavailable"


async def test_metrics_use_route_templates_not_ids(api: Api) -> None:
    queue_id = (await api.client.post("/api/v1/comparison", json=BODY)).json()["queue_id"]
    await api.client.get(f"/api/v1/requests/{queue_id}")
    text = (await api.client.get("/metrics")).text
    assert 'endpoint="/api/v1/requests/{queue_id}"' in text
    assert queue_id not in text
    assert 'llm_provider_queue_depth{state="ready"} 1.0' in text
    assert "llm_provider_jobs_submitted_total" in text


async def test_correlation_id_is_echoed(api: Api) -> None:
    response = await api.client.get("/api/v1/requests/x", headers={"X-Correlation-ID": "corr-123"})
    assert response.headers["x-correlation-id"] == "corr-123"
    assert response.json()["correlation_id"] == "corr-123"


class GatedStore(InMemoryJobStore):
    """Reads wait on a gate, so a test can hold requests in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def get(self, job_id: str) -> Job | None:
        await self.gate.wait()
        return await super().get(job_id)


async def test_requests_over_the_in_flight_limit_are_shed_with_retry_after() -> None:
    harness = Harness()
    store = GatedStore()
    harness.store = store
    harness.jobs._store = store
    app = create_app(build_context(harness), max_body_bytes=MAX_BODY_BYTES, max_in_flight=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test") as client:
        held = [asyncio.ensure_future(client.get(f"/api/v1/requests/job-{n}")) for n in range(2)]
        await asyncio.sleep(0.05)
        shed = await client.get("/api/v1/requests/job-3")
        assert shed.status_code == 503
        assert shed.json()["code"] == "overloaded"
        assert shed.json()["is_retryable"] is True
        assert shed.headers["retry-after"] == "1"
        assert (await client.get("/healthz")).status_code == 200  # probes are never shed
        store.gate.set()
        assert [response.status_code for response in await asyncio.gather(*held)] == [404, 404]
        assert (await client.get("/api/v1/requests/job-4")).status_code == 404  # slots are given back


async def test_providers_tell_configured_apart_from_enabled(make_api: ApiFactory) -> None:
    # A key without the base URL an OpenAI-compatible server needs: configured, but not usable.
    api: Api = await make_api(openai_compatible={"api_key": "sk-local"})
    providers = {p["name"]: p for p in (await api.client.get("/api/v1/providers")).json()["providers"]}
    assert (providers["openai_compatible"]["configured"], providers["openai_compatible"]["enabled"]) == (True, False)
    assert (providers["openai"]["configured"], providers["openai"]["enabled"]) == (False, False)
    assert (providers["mock"]["configured"], providers["mock"]["enabled"]) == (True, True)


async def test_providers_show_their_rate_budgets(make_api: ApiFactory) -> None:
    policy = BudgetPolicy(configured={"mock": {Dimension.REQUESTS: 20, Dimension.TOKENS: 10_000}})
    harness = Harness(budget_policy=policy)
    assert harness.budgets is not None
    await harness.budgets.budget.reserve(
        "mock/mock-comparison-v1",
        demand=Demand(1.0, tokens=100.0),
        configured=policy.configured_for("mock", "mock-comparison-v1"),
        job_id=None,
        now=harness.clock.epoch(),
        horizon_seconds=0.0,
    )
    api: Api = await make_api(harness)
    providers = {p["name"]: p for p in (await api.client.get("/api/v1/providers")).json()["providers"]}
    [budget] = providers["mock"]["rate_budgets"]
    assert budget["model"] == "mock-comparison-v1"
    assert budget["window_seconds"] == 60.0
    assert budget["limits"] == {"requests": 20, "tokens": 10_000}
    assert set(budget["available"]) == {"requests", "tokens"}
    assert budget["paused_for_seconds"] == 0.0
    assert providers["openai"]["rate_budgets"] == []
