"""Every vendor adapter against the wire-compatible mock server, reached through its base URL."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.comparison import build_completion_request, parse_comparison
from llm_provider_service.domain.models import ComparisonRequest
from llm_provider_service.mock.engine import MockEngine
from llm_provider_service.mock.profile import MockProfile
from llm_provider_service.providers.manifest import default_catalog
from tests.unit.providers.mock_server import VENDORS, adapter_against_mock_server


@pytest.mark.parametrize("provider", VENDORS)
async def test_adapter_parses_the_mock_servers_answers(provider: str) -> None:
    async with adapter_against_mock_server(provider, MockEngine(MockProfile())) as adapter:
        comparison = ComparisonRequest(user_prompt="Essay A: ... Essay B: ...", correlation_id="c-1")
        model = default_catalog().resolve(provider, None).model_id
        call = build_completion_request(comparison, job_id="job-1", model=model, attempt=1)
        response = await adapter.complete(call)
        chunks = [part async for part in adapter.stream(call)]
        streamed = "".join(part.delta for part in chunks)
    verdict = parse_comparison(response, provider=provider)
    assert verdict.winner in {"Essay A", "Essay B"}
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0
    assert streamed
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
