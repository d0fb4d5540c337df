"""The official `google-genai` SDK against the mock server's Gemini wire format."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from google import genai
from google.genai import errors, types

from tests.contract.mock_server.conftest import Recipe, Verdict

pytestmark = pytest.mark.contract

PROMPT = "Essay A: ... Essay B: ..."


@pytest.fixture
async def client(mock_base_url: str) -> AsyncIterator[genai.Client]:
    # Our own session: the SDK's default one subclasses ClientSession, which aiohttp deprecates.
    # One attempt: our retry policy governs, never the SDK's.
    async with aiohttp.ClientSession() as session:
        options = types.HttpOptions(
            base_url=mock_base_url, retry_options=types.HttpRetryOptions(attempts=1), aiohttp_client=session
        )
        yield genai.Client(api_key="test", http_options=options)


def _config(**values: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(system_instruction="Judge fairly.", **values)


async def test_plain_generation(client: genai.Client) -> None:
    response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=PROMPT, config=_config())

    assert response.text
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage is not None
    assert usage.total_token_count == (usage.prompt_token_count or 0) + (usage.candidates_token_count or 0)
    assert response.sdk_http_response is not None
    assert response.sdk_http_response.headers is not None
    assert "x-mock-intrinsic-ms" in response.sdk_http_response.headers


@pytest.mark.parametrize("model", [Verdict, Recipe])
async def test_a_response_schema_answer_parses(client: genai.Client, model: type[Verdict | Recipe]) -> None:
    config = _config(response_mime_type="application/json", response_schema=model)

    response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=PROMPT, config=config)

    assert isinstance(response.parsed, model)


async def test_a_response_json_schema_answer_is_valid(client: genai.Client) -> None:
    config = _config(response_mime_type="application/json", response_json_schema=Recipe.model_json_schema())

    response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=PROMPT, config=config)

    assert response.text is not None
    Recipe.model_validate_json(response.text)


async def test_a_stream_carries_text_and_final_usage(client: genai.Client) -> None:
    config = _config(response_mime_type="application/json", response_schema=Verdict)

    chunks = [
        chunk
        async for chunk in await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents=PROMPT, config=config
        )
    ]

    assert len(chunks) > 1
    Verdict.model_validate_json("".join(chunk.text or "" for chunk in chunks))
    final = chunks[-1]
    assert final.usage_metadata is not None
    assert (final.usage_metadata.candidates_token_count or 0) > 0
    assert final.candidates is not None
    assert final.candidates[0].finish_reason == types.FinishReason.STOP


@pytest.mark.parametrize(
    ("scenario", "error", "status"),
    [
        ("rate_limited", errors.ClientError, 429),
        ("overloaded", errors.ServerError, 503),
        ("server_error", errors.ServerError, 500),
        ("timeout", errors.ServerError, 504),
        ("unauthorized", errors.ClientError, 401),
        ("explode", errors.ClientError, 400),
    ],
)
async def test_faults_raise_the_sdk_error_for_their_status(
    client: genai.Client, scenario: str, error: type[errors.APIError], status: int
) -> None:
    headers = {"x-mock-scenario": scenario, "x-mock-latency-ms": "1"}
    config = _config(http_options=types.HttpOptions(headers=headers))

    with pytest.raises(error) as caught:
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents=PROMPT, config=config)

    assert caught.value.code == status


async def test_a_stream_fault_raises_before_any_chunk(client: genai.Client) -> None:
    headers = {"x-mock-scenario": "overloaded"}
    config = _config(http_options=types.HttpOptions(headers=headers))

    async def consume() -> None:
        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents=PROMPT, config=config
        )
        async for _ in stream:
            pass

    with pytest.raises(errors.ServerError):
        await consume()


async def test_asked_for_logprobs_parse_as_the_sdks_logprobs_result(client: genai.Client) -> None:
    config = _config(response_logprobs=True, logprobs=3)
    response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=PROMPT, config=config)

    assert response.candidates is not None
    candidate = response.candidates[0]
    result = candidate.logprobs_result
    assert result is not None
    assert result.chosen_candidates is not None
    assert result.top_candidates is not None
    assert "".join(chosen.token or "" for chosen in result.chosen_candidates) == response.text
    assert all(len(step.candidates or []) == 3 for step in result.top_candidates)
    assert candidate.avg_logprobs is not None
    assert candidate.avg_logprobs < 0
    plain = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=PROMPT, config=_config())
    assert plain.candidates is not None
    assert plain.candidates[0].logprobs_result is None  # only when asked
