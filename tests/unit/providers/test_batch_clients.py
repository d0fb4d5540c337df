"""The batch clients against the mock server's batch APIs: the same payloads and parsing as immediate calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestServer

from llm_provider_service.domain.batches import BatchState
from llm_provider_service.domain.comparison import build_completion_request, parse_comparison
from llm_provider_service.domain.errors import ProviderErrorKind
from llm_provider_service.domain.models import CompletionRequest, TokenUsage
from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.mock.batch_store import MockBatches
from llm_provider_service.mock.server import create_mock_app
from llm_provider_service.ports import BatchProvider
from llm_provider_service.providers.anthropic import AnthropicProvider, anthropic_headers
from llm_provider_service.providers.batch_anthropic import AnthropicBatchClient
from llm_provider_service.providers.batch_openai import OpenAIBatchClient
from llm_provider_service.providers.http_client import VendorTransport, open_http_session
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.openai import OpenAIChatProvider
from tests.unit.service.harness import comparison

MODELS = {"openai": "gpt-4.1", "anthropic": "claude-sonnet-4-5"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def batch_client(vendor: str, clock: Clock, **script: str) -> AsyncIterator[BatchProvider]:
    engine = MockEngine(MockProfile(seed=3))
    server = TestServer(create_mock_app(engine, batches=MockBatches(engine, clock=clock)), host="127.0.0.1")
    await server.start_server()
    try:
        root = str(server.make_url("")).rstrip("/")
        async with open_http_session(timeout_seconds=10.0, connect_timeout_seconds=2.0) as session:
            if vendor == "openai":
                transport = VendorTransport(session, provider="openai", base_url=f"{root}/v1", headers={})
                adapter = OpenAIChatProvider(transport, default_catalog())
                yield OpenAIBatchClient(transport, adapter, submit_headers=script)
            else:
                headers = anthropic_headers("test-key")
                transport = VendorTransport(session, provider="anthropic", base_url=root, headers=headers)
                yield AnthropicBatchClient(transport, AnthropicProvider(transport), submit_headers=script)
    finally:
        await server.close()


def requests_for(vendor: str, count: int) -> dict[str, CompletionRequest]:
    return {
        f"job-{index}": build_completion_request(
            comparison(correlation_id=f"7b0c1c4e-0000-4000-8000-00000000000{index}"),
            job_id=f"job-{index}",
            model=MODELS[vendor],
            attempt=1,
        )
        for index in range(count)
    }


async def submit(client: BatchProvider, requests: dict[str, CompletionRequest]) -> str:
    batch = await client.submit_batch(list(requests.items()))
    assert batch.state is BatchState.IN_PROGRESS
    return batch.id


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
async def test_a_batch_is_submitted_polled_and_collected_into_valid_verdicts(vendor: str) -> None:
    clock = Clock()
    async with batch_client(vendor, clock, **{"x-mock-batch-delay-ms": "3000"}) as client:
        requests = requests_for(vendor, 3)
        batch_id = await submit(client, requests)
        assert (await client.batch_status(batch_id)).state is BatchState.IN_PROGRESS
        clock.now += 3
        ended = await client.batch_status(batch_id)
        assert ended.state is BatchState.COMPLETED
        assert (ended.total, ended.done) == (3, 3)
        outcomes = await client.batch_results(batch_id, requests)
    assert sorted(outcome.custom_id for outcome in outcomes) == sorted(requests)
    for outcome in outcomes:
        assert outcome.error is None
        assert outcome.response is not None
        verdict = parse_comparison(outcome.response, provider=vendor)
        assert verdict.winner in ("Essay A", "Essay B")
        assert outcome.response.usage.prompt_tokens > 0


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
async def test_failed_expired_and_lost_items_come_back_as_errors_or_not_at_all(vendor: str) -> None:
    script = {"x-mock-batch-fail-every": "2", "x-mock-batch-drop-every": "3", "x-mock-batch-expire-after": "4"}
    async with batch_client(vendor, Clock(), **script) as client:
        requests = requests_for(vendor, 5)
        batch_id = await submit(client, requests)
        assert (await client.batch_status(batch_id)).state is BatchState.EXPIRED
        outcomes = {outcome.custom_id: outcome for outcome in await client.batch_results(batch_id, requests)}
    assert "job-2" not in outcomes  # lost by the vendor: the caller ends it by policy
    assert outcomes["job-0"].response is not None
    assert outcomes["job-1"].error is not None
    assert outcomes["job-1"].error.kind is ProviderErrorKind.SERVER_ERROR
    assert outcomes["job-4"].error is not None
    assert outcomes["job-4"].error.kind is ProviderErrorKind.TIMEOUT  # expired: retryable, e.g. as immediate


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
async def test_a_cancelled_batch_reports_its_items_cancelled(vendor: str) -> None:
    async with batch_client(vendor, Clock(), **{"x-mock-batch-delay-ms": "60000"}) as client:
        requests = requests_for(vendor, 2)
        batch_id = await submit(client, requests)
        assert (await client.cancel_batch(batch_id)).state is BatchState.CANCELLED
        outcomes = await client.batch_results(batch_id, requests)
    assert len(outcomes) == 2
    assert all(outcome.error is not None for outcome in outcomes)


def test_the_batch_price_is_the_manifests_or_half_the_immediate_one() -> None:
    model = default_catalog().resolve("openai", "gpt-4.1")
    usage = TokenUsage(1_000_000, 1_000_000)
    assert model.batch_cost_usd(usage) == pytest.approx(model.cost_usd(usage) / 2)
    priced = replace(model, batch_input_usd_per_mtok=0.1, batch_output_usd_per_mtok=0.2)
    assert priced.batch_cost_usd(usage) == pytest.approx(0.3)
