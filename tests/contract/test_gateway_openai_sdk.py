"""The official `openai` SDK, unchanged, against the service's gateway: in-process mock and mock server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, Field

from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.mock.server import serve_mock
from tests.contract.gateway.conftest import serve_service

pytestmark = pytest.mark.contract

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Judge fairly."},
    {"role": "user", "content": "Essay A: ... Essay B: ..."},
]
API_KEY = "gateway-test-key"


class Verdict(BaseModel):
    winner: Literal["Essay A", "Essay B"]
    justification: str = Field(max_length=500)
    confidence: float = Field(ge=1, le=5)


class Gateway:
    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self.client = client
        self.model = model


@pytest.fixture(params=["mock", "openai_compatible"])
async def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with serve_mock(MockEngine(MockProfile(seed=7))) as mock_url:
        settings: dict[str, object] = {"api_keys": API_KEY}
        model = "mock/mock-comparison-v1"
        if request.param == "openai_compatible":
            settings["openai_compatible"] = {"base_url": f"{mock_url}/v1"}
            model = "openai_compatible/mock-comparison-v1"
        async with (
            serve_service(tmp_path, model_aliases={"judge": model}, **settings) as (base_url, _),
            AsyncOpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0) as client,
        ):
            yield Gateway(client, model)


async def test_chat(gateway: Gateway) -> None:
    completion = await gateway.client.chat.completions.create(model=gateway.model, messages=MESSAGES)

    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0


async def test_stream_with_usage(gateway: Gateway) -> None:
    stream = await gateway.client.chat.completions.create(
        model="judge", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


async def test_stream_helper_accumulates_the_answer(gateway: Gateway) -> None:
    async with gateway.client.chat.completions.stream(model=gateway.model, messages=MESSAGES) as stream:
        final = await stream.get_final_completion()

    assert final.choices[0].message.content


async def test_structured_output_parses_into_the_callers_model(gateway: Gateway) -> None:
    completion = await gateway.client.chat.completions.parse(
        model=gateway.model, messages=MESSAGES, response_format=Verdict
    )

    assert isinstance(completion.choices[0].message.parsed, Verdict)


async def test_json_object_mode_answers_a_json_object(gateway: Gateway) -> None:
    completion = await gateway.client.chat.completions.create(
        model=gateway.model,
        messages=[{"role": "user", "content": "Answer in JSON: which essay is better?"}],
        response_format={"type": "json_object"},
    )

    content = completion.choices[0].message.content
    assert content is not None
    assert isinstance(json.loads(content), dict)


async def test_mock_headers_reach_the_mock_through_any_provider(gateway: Gateway) -> None:
    """`x-mock-*` headers steer the in-process mock and, forwarded by the adapter, the mock server."""
    raw = await gateway.client.chat.completions.with_raw_response.create(
        model=gateway.model, messages=MESSAGES, extra_headers={"x-mock-latency-ms": "3"}
    )
    assert raw.headers["x-mock-intrinsic-ms"] == "3.000"
    assert raw.parse().choices[0].message.content

    with pytest.raises(openai.InternalServerError) as failed:
        await gateway.client.chat.completions.create(
            model=gateway.model, messages=MESSAGES, extra_headers={"x-mock-scenario": "unauthorized"}
        )
    assert failed.value.status_code == 502  # our vendor key "failing" at the mock


async def test_models_are_listed(gateway: Gateway) -> None:
    ids = [model.id async for model in gateway.client.models.list()]

    assert "mock/mock-comparison-v1" in ids
    assert "judge" in ids  # an alias of an ad-hoc OpenAI-compatible model id is listed by its alias


async def test_error_statuses_raise_the_sdk_exceptions(gateway: Gateway) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        await gateway.client.chat.completions.create(model="mock/nope", messages=MESSAGES)
    assert not_found.value.code == "model_not_found"

    with pytest.raises(openai.BadRequestError) as refused:  # OpenAI's status for a bad body, never 422
        await gateway.client.chat.completions.create(model=gateway.model, messages=MESSAGES, top_p=3)
    assert refused.value.code == "validation_error"

    async with AsyncOpenAI(base_url=str(gateway.client.base_url), api_key="wrong", max_retries=0) as stranger:
        with pytest.raises(openai.AuthenticationError):
            await stranger.chat.completions.create(model=gateway.model, messages=MESSAGES)


async def test_provider_failures_raise_the_sdk_exceptions(tmp_path: Path) -> None:
    async with (
        serve_service(tmp_path, circuit_failure_threshold=50) as (base_url, _),
        AsyncOpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0) as client,
    ):
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(
                model="mock/mock-comparison-v1", messages=MESSAGES, extra_headers={"x-mock-scenario": "rate_limited"}
            )
        assert limited.value.response.headers["retry-after"] == "1"
        with pytest.raises(openai.InternalServerError) as overloaded:
            await client.chat.completions.create(
                model="mock/mock-comparison-v1", messages=MESSAGES, extra_headers={"x-mock-scenario": "overloaded"}
            )
        assert overloaded.value.status_code == 503
        with pytest.raises(openai.InternalServerError) as failed:  # a stream that cannot start gets a status
            await client.chat.completions.create(
                model="mock/mock-comparison-v1",
                messages=MESSAGES,
                stream=True,
                extra_headers={"x-mock-scenario": "unauthorized"},  # our vendor key failing is a 502
            )
        assert failed.value.status_code == 502


async def test_usage_reaches_the_store(tmp_path: Path) -> None:
    async with (
        serve_service(tmp_path) as (base_url, services),
        AsyncOpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0) as client,
    ):
        await client.chat.completions.create(model="mock/mock-comparison-v1", messages=MESSAGES)
        await services.usage_recorder.flush()
        [row] = await services.api.usage.usage_summary(start=None, end=None, group_by="provider")

    assert (row.group, row.calls) == ("mock", 1)
    assert row.completion_tokens > 0
