"""`POST /v1/embeddings` with the official `openai` SDK (base64 by default) to the mock, OpenAI and Gemini formats."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from llm_provider_service.bootstrap import Services
from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.mock.server import serve_mock
from tests.contract.gateway.conftest import serve_service

pytestmark = pytest.mark.contract

MODELS = {
    "mock": "mock/mock-comparison-v1",  # the mock embeds with any model
    "openai": "openai/text-embedding-3-small",
    "google": "google/gemini-embedding-001",
    "openai_compatible": "openai_compatible/nomic-embed-text",
}


@dataclass
class Gateway:
    client: AsyncOpenAI
    model: str
    vendor: str
    services: Services
    received: list[tuple[str, dict[str, Any]]]


@pytest.fixture(params=list(MODELS))
async def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    vendor = str(request.param)
    received: list[tuple[str, dict[str, Any]]] = []
    async with serve_mock(MockEngine(MockProfile(seed=7)), received=received) as mock_url:
        settings: dict[str, dict[str, str]] = {
            "openai": {"openai": {"api_key": "test", "base_url": f"{mock_url}/v1"}},
            "google": {"gemini": {"api_key": "test", "base_url": mock_url}},
            "openai_compatible": {"openai_compatible": {"base_url": f"{mock_url}/v1"}},
            "mock": {},
        }[vendor]
        async with (
            serve_service(tmp_path, anthropic={"api_key": "t", "base_url": mock_url}, **settings) as (base, services),
            AsyncOpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0) as client,
        ):
            yield Gateway(client, MODELS[vendor], vendor, services, received)


async def test_vectors_are_deterministic_unit_vectors_with_usage(gateway: Gateway) -> None:
    texts = ["the cat sat", "on the mat", "the cat sat"]

    answer = await gateway.client.embeddings.create(model=gateway.model, input=texts, dimensions=64)

    vectors = [item.embedding for item in answer.data]
    assert [item.index for item in answer.data] == [0, 1, 2]
    assert all(len(vector) == 64 for vector in vectors)
    assert vectors[0] == vectors[2]
    assert vectors[0] != vectors[1]
    assert math.isclose(math.fsum(value * value for value in vectors[0]), 1.0, rel_tol=1e-4)
    assert answer.usage.prompt_tokens > 0
    if gateway.vendor == "google":
        path, body = gateway.received[-1]
        assert path.endswith("/models/gemini-embedding-001:batchEmbedContents")
        assert body["requests"][0]["outputDimensionality"] == 64
    await gateway.services.usage_recorder.flush()
    [row] = await gateway.services.api.usage.usage_summary(start=None, end=None, group_by="provider")
    assert row.calls == 1
    assert row.prompt_tokens == answer.usage.prompt_tokens


async def test_float_encoding_and_a_single_string(gateway: Gateway) -> None:
    answer = await gateway.client.embeddings.create(model=gateway.model, input="hello", encoding_format="float")

    [item] = answer.data
    assert len(item.embedding) == 1536  # the mock's default size, as text-embedding-3-small


async def test_a_vendor_without_embeddings_and_bad_input_raise_bad_request(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        await gateway.client.embeddings.create(model="anthropic/claude-haiku-4-5", input="hi")
    assert refused.value.code == "unsupported_parameter"

    with pytest.raises(openai.BadRequestError):
        await gateway.client.embeddings.create(model=gateway.model, input=[])
