"""The `openai` SDK through the gateway to every vendor format: tools, streamed tool calls, parse(), stop, images.

Each test runs against the in-process mock and, through the real adapters, the mock server speaking
OpenAI (`openai`), Anthropic Messages (`anthropic`) and Gemini (`google`); the mock server records the
bodies it received, so a test can check that a parameter reached the vendor in the vendor's own shape.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel

from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.mock.server import serve_mock
from tests.contract.gateway.conftest import serve_service

pytestmark = pytest.mark.contract

MODELS = {
    "mock": "mock/mock-comparison-v1",
    "openai": "openai/gpt-4.1",
    "anthropic": "anthropic/claude-haiku-4-5",
    "google": "google/gemini-2.5-flash",
}
QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are a weather assistant."},
    {"role": "user", "content": "What is the weather in Paris?"},
]
# A 1x1 transparent PNG.
PNG_DATA_URL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


class GetWeather(BaseModel):
    city: str
    unit: str


WEATHER_TOOL = openai.pydantic_function_tool(GetWeather, name="get_weather", description="Current weather")


@dataclass
class Gateway:
    client: AsyncOpenAI
    model: str
    vendor: str
    received: list[tuple[str, dict[str, Any]]]

    def last_body(self) -> dict[str, Any]:
        assert self.received, "the mock server received nothing"
        return self.received[-1][1]


@pytest.fixture(params=list(MODELS))
async def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    vendor = str(request.param)
    received: list[tuple[str, dict[str, Any]]] = []
    async with serve_mock(MockEngine(MockProfile(seed=7)), received=received) as mock_url:
        settings: dict[str, dict[str, str]] = {
            "openai": {"openai": {"api_key": "test", "base_url": f"{mock_url}/v1"}},
            "anthropic": {"anthropic": {"api_key": "test", "base_url": mock_url}},
            "google": {"gemini": {"api_key": "test", "base_url": mock_url}},
            "mock": {},
        }[vendor]
        async with (
            serve_service(tmp_path, **settings) as (base_url, _),
            AsyncOpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0) as client,
        ):
            yield Gateway(client, MODELS[vendor], vendor, received)


async def test_a_forced_tool_call_round_trips_with_the_tool_message(gateway: Gateway) -> None:
    first = await gateway.client.chat.completions.create(
        model=gateway.model, messages=QUESTION, tools=[WEATHER_TOOL], tool_choice="required"
    )

    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "get_weather"
    GetWeather.model_validate_json(call.function.arguments)

    history: list[ChatCompletionMessageParam] = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(include={"id", "type", "function"})]},  # type: ignore[list-item]
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature_c": 21})},
    ]
    second = await gateway.client.chat.completions.create(model=gateway.model, messages=history, tools=[WEATHER_TOOL])

    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content
    if gateway.vendor == "anthropic":
        [_, tool_turn] = [m for m in gateway.last_body()["messages"] if m["role"] == "user"][-2:]
        result = {"type": "tool_result", "tool_use_id": call.id, "content": '{"temperature_c": 21}'}
        assert tool_turn["content"][0] == result
    if gateway.vendor == "google":
        response_part = gateway.last_body()["contents"][-1]["parts"][0]
        assert response_part == {"functionResponse": {"name": "get_weather", "response": {"temperature_c": 21}}}


async def test_a_scripted_tool_call_carries_the_scripted_arguments(gateway: Gateway) -> None:
    script = json.dumps({"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}})
    completion = await gateway.client.chat.completions.create(
        model=gateway.model, messages=QUESTION, tools=[WEATHER_TOOL], extra_headers={"x-mock-tool-call": script}
    )

    [call] = completion.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}


async def test_streamed_tool_calls_are_assembled_by_the_sdk(gateway: Gateway) -> None:
    async with gateway.client.chat.completions.stream(
        model=gateway.model,
        messages=QUESTION,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    ) as stream:
        pieces = [event async for event in stream if event.type == "tool_calls.function.arguments.delta"]
        final = await stream.get_final_completion()

    [call] = final.choices[0].message.tool_calls or []
    assert isinstance(call.function.parsed_arguments, GetWeather)
    assert final.choices[0].finish_reason == "tool_calls"
    if gateway.vendor != "google":  # Gemini streams a function call whole, in one chunk
        assert len(pieces) > 1


async def test_parse_fills_the_callers_pydantic_model(gateway: Gateway) -> None:
    completion = await gateway.client.chat.completions.parse(
        model=gateway.model, messages=QUESTION, response_format=GetWeather
    )

    assert isinstance(completion.choices[0].message.parsed, GetWeather)


async def test_stop_seed_and_top_p_reach_the_vendor_in_its_own_shape(gateway: Gateway) -> None:
    plain = await gateway.client.chat.completions.create(model=gateway.model, messages=QUESTION)
    text = plain.choices[0].message.content or ""
    words = text.split()
    assert len(words) > 3
    stop = words[2]

    raw = await gateway.client.chat.completions.with_raw_response.create(
        model=gateway.model, messages=QUESTION, stop=[stop], seed=11, top_p=0.5, extra_body={"service_tier": "flex"}
    )

    stopped = raw.parse().choices[0].message.content or ""
    assert stopped == text[: text.index(stop)]
    dropped = raw.headers.get("x-llm-provider-dropped-params")
    if gateway.vendor == "mock":
        assert dropped == "service_tier"
        return
    body = gateway.last_body()
    if gateway.vendor == "openai":
        assert (body["stop"], body["seed"], body["top_p"], body["service_tier"]) == ([stop], 11, 0.5, "flex")
        assert dropped is None
    elif gateway.vendor == "anthropic":
        assert (body["stop_sequences"], body["top_p"]) == ([stop], 0.5)
        assert "seed" not in body
        assert dropped == "seed, service_tier"
    else:
        config = body["generationConfig"]
        assert (config["stopSequences"], config["seed"], config["topP"]) == ([stop], 11, 0.5)
        assert dropped == "service_tier"


async def test_images_are_accepted_as_data_and_https_urls(gateway: Gateway) -> None:
    completion = await gateway.client.chat.completions.create(
        model=gateway.model,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe these."},
                    {"type": "image_url", "image_url": {"url": PNG_DATA_URL}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
                ],
            }
        ],
    )

    assert completion.choices[0].message.content
    if gateway.vendor == "mock":
        return
    body = gateway.last_body()
    if gateway.vendor == "openai":
        parts = body["messages"][0]["content"]
        assert parts[1] == {"type": "image_url", "image_url": {"url": PNG_DATA_URL}}
    elif gateway.vendor == "anthropic":
        blocks = body["messages"][0]["content"]
        assert blocks[1]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG_DATA_URL.split(",")[1]}
        assert blocks[2]["source"] == {"type": "url", "url": "https://example.com/cat.png"}
    else:
        parts = body["contents"][0]["parts"]
        assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG_DATA_URL.split(",")[1]}}
        assert parts[2] == {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}}


async def test_caller_mistakes_raise_the_sdk_exceptions(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as invalid:
        await gateway.client.chat.completions.create(model=gateway.model, messages=QUESTION, temperature=9)
    assert invalid.value.code == "validation_error"

    with pytest.raises(openai.NotFoundError):
        await gateway.client.chat.completions.create(model="nowhere/model", messages=QUESTION)

    if gateway.vendor == "anthropic":
        with pytest.raises(openai.BadRequestError) as refused:
            await gateway.client.chat.completions.create(model=gateway.model, messages=QUESTION, n=2)
        assert refused.value.code == "unsupported_parameter"
        assert refused.value.param == "n"
    else:
        several = await gateway.client.chat.completions.create(model=gateway.model, messages=QUESTION, n=2)
        assert [choice.index for choice in several.choices] == [0, 1]

    with pytest.raises(openai.RateLimitError):
        await gateway.client.chat.completions.create(
            model=gateway.model, messages=QUESTION, extra_headers={"x-mock-scenario": "rate_limited"}
        )
