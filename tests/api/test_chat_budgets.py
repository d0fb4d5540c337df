"""Gateway calls and rate budgets: a bounded wait for budget, then 429 budget_exhausted with Retry-After."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.rate_limits import Dimension
from llm_provider_service.resilience.circuit_breaker import CircuitState
from llm_provider_service.service.budgets import BudgetPolicy
from tests.api.chat_support import build_chat_api

# 20 per minute: a burst of one, the next one 60 / 18.6 s later.
POLICY = BudgetPolicy(configured={"mock": {Dimension.REQUESTS: 20}})


async def test_past_its_bounded_wait_a_sync_call_gets_429_budget_exhausted() -> None:
    api = build_chat_api(budget_policy=POLICY, budget_wait_seconds=1.0)
    try:
        assert (await api.chat()).status_code == 200
        refused = await api.chat()
    finally:
        await api.client.aclose()
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["code"] == "budget_exhausted"
    assert body["error"]["type"] == "rate_limit_error"
    assert int(refused.headers["Retry-After"]) >= 1
    assert api.harness.breakers.get("mock").state == CircuitState.CLOSED  # our own limit is no provider failure


async def test_within_its_bounded_wait_a_sync_call_waits_for_its_turn() -> None:
    api = build_chat_api(budget_policy=POLICY, budget_wait_seconds=10.0)
    try:
        assert (await api.chat()).status_code == 200
        assert (await api.chat()).status_code == 200
    finally:
        await api.client.aclose()
    assert api.sleep.waits_seconds == [pytest.approx(60 / 18.6, rel=0.01)]


async def test_streams_wait_for_budget_too() -> None:
    api = build_chat_api(budget_policy=POLICY, budget_wait_seconds=0.0)
    try:
        assert (await api.chat(stream=True)).status_code == 200
        refused = await api.chat(stream=True)
    finally:
        await api.client.aclose()
    assert refused.status_code == 429
    assert refused.json()["code"] == "budget_exhausted"
