"""The vendors' own SDKs as oracles of the mock server's tool calling, stop sequences and embeddings."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from anthropic import AsyncAnthropic
from google import genai
from google.genai import types
from openai import AsyncOpenAI

pytestmark = pytest.mark.contract

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
    "required": ["city", "unit"],
}
SCRIPT = json.dumps({"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}})


@pytest.fixture
async def gemini(mock_base_url: str) -> AsyncIterator[genai.Client]:
    async with aiohttp.ClientSession() as session:
        options = types.HttpOptions(
            base_url=mock_base_url, retry_options=types.HttpRetryOptions(attempts=1), aiohttp_client=session
        )
        yield genai.Client(api_key="test", http_options=options)


async def test_anthropic_sdk_reads_scripted_tool_use_and_stop_sequences(mock_base_url: str) -> None:
    async with AsyncAnthropic(base_url=mock_base_url, api_key="test", max_retries=0) as client:
        tool = {"name": "get_weather", "description": "Weather.", "input_schema": WEATHER_SCHEMA}
        called = await client.messages.create(
            model="mock-comparison-v1",
            max_tokens=256,
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
            tools=[tool],  # type: ignore[list-item]
            extra_headers={"x-mock-tool-call": SCRIPT},
        )
        plain = await client.messages.create(
            model="mock-comparison-v1", max_tokens=256, messages=[{"role": "user", "content": "Say something."}]
        )
        text = plain.content[0].text  # type: ignore[union-attr]
        stop = text.split()[1]
        stopped = await client.messages.create(
            model="mock-comparison-v1",
            max_tokens=256,
            messages=[{"role": "user", "content": "Say something."}],
            stop_sequences=[stop],
        )

    assert called.stop_reason == "tool_use"
    [block] = called.content
    assert block.type == "tool_use"
    assert (block.name, block.input) == ("get_weather", {"city": "Oslo", "unit": "c"})
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", stop)
    assert stopped.content[0].text == text[: text.index(stop)]  # type: ignore[union-attr]


async def test_gemini_sdk_reads_forced_function_calls_and_several_candidates(gemini: genai.Client) -> None:
    declaration = types.FunctionDeclaration(
        name="get_weather", description="Weather.", parameters_json_schema=WEATHER_SCHEMA
    )
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[declaration])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
    )
    called = await gemini.aio.models.generate_content(model="gemini-2.5-flash", contents="Oslo?", config=config)
    several = await gemini.aio.models.generate_content(
        model="gemini-2.5-flash", contents="Hello", config=types.GenerateContentConfig(candidate_count=2)
    )

    [call] = called.function_calls or []
    assert call.name == "get_weather"
    assert set((call.args or {}).keys()) == {"city", "unit"}
    assert len(several.candidates or []) == 2


async def test_gemini_sdk_reads_embeddings(gemini: genai.Client) -> None:
    answer = await gemini.aio.models.embed_content(
        model="gemini-embedding-001",
        contents=["one", "two"],
        config=types.EmbedContentConfig(output_dimensionality=32),
    )

    vectors = [embedding.values or [] for embedding in answer.embeddings or []]
    assert [len(vector) for vector in vectors] == [32, 32]
    assert vectors[0] != vectors[1]


async def test_openai_sdk_reads_embeddings_in_base64_and_float(mock_base_url: str) -> None:
    async with AsyncOpenAI(base_url=f"{mock_base_url}/v1", api_key="test", max_retries=0) as client:
        packed = await client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        floats = await client.embeddings.create(model="text-embedding-3-small", input="a", encoding_format="float")

    assert len(packed.data) == 2
    assert packed.data[0].embedding == pytest.approx(floats.data[0].embedding, rel=1e-6)
    assert packed.usage.prompt_tokens > 0
