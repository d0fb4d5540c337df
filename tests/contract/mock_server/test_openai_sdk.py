"""The official `openai` SDK against the mock server's Chat Completions wire format."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from tests.contract.mock_server.conftest import Recipe, Verdict

pytestmark = pytest.mark.contract

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Judge fairly."},
    {"role": "user", "content": "Essay A: ... Essay B: ..."},
]


@pytest.fixture
async def client(mock_base_url: str) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=f"{mock_base_url}/v1", api_key="test", max_retries=0) as sdk:
        yield sdk


async def test_plain_completion(client: AsyncOpenAI) -> None:
    raw = await client.chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
    completion = raw.parse()

    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert float(raw.headers["x-mock-intrinsic-ms"]) >= 0


@pytest.mark.parametrize("model", [Verdict, Recipe])
async def test_json_schema_answers_parse_into_the_callers_model(client: AsyncOpenAI, model: type) -> None:
    completion = await client.chat.completions.parse(model="gpt-5-mini", messages=MESSAGES, response_format=model)

    assert isinstance(completion.choices[0].message.parsed, model)


async def test_a_forced_tool_is_called_with_valid_arguments(client: AsyncOpenAI) -> None:
    tool = openai.pydantic_function_tool(Verdict, name="record_verdict")

    completion = await client.chat.completions.parse(
        model="gpt-4.1",
        messages=MESSAGES,
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "record_verdict"}},
    )

    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].function.name == "record_verdict"
    assert isinstance(calls[0].function.parsed_arguments, Verdict)


async def test_a_stream_ends_with_a_usage_chunk(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="gpt-5-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert len(chunks) > 3
    assert text
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


async def test_a_structured_stream_yields_the_parsed_answer(client: AsyncOpenAI) -> None:
    async with client.chat.completions.stream(
        model="gpt-5-mini",
        messages=MESSAGES,
        response_format=Recipe,
    ) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_completion()

    assert isinstance(final.choices[0].message.parsed, Recipe)


async def test_a_forced_tool_streams_its_arguments(client: AsyncOpenAI) -> None:
    async with client.chat.completions.stream(
        model="gpt-5-mini",
        messages=MESSAGES,
        tools=[openai.pydantic_function_tool(Verdict)],
        tool_choice={"type": "function", "function": {"name": "Verdict"}},
    ) as stream:
        final = await stream.get_final_completion()

    calls = final.choices[0].message.tool_calls
    assert calls is not None
    assert isinstance(calls[0].function.parsed_arguments, Verdict)


@pytest.mark.parametrize(
    ("scenario", "error", "status"),
    [
        ("rate_limited", openai.RateLimitError, 429),
        ("overloaded", openai.InternalServerError, 503),
        ("server_error", openai.InternalServerError, 500),
        ("timeout", openai.InternalServerError, 504),
        ("unauthorized", openai.AuthenticationError, 401),
    ],
)
async def test_faults_raise_the_sdk_error_for_their_status(
    client: AsyncOpenAI, scenario: str, error: type[openai.APIStatusError], status: int
) -> None:
    headers = {"x-mock-scenario": scenario, "x-mock-latency-ms": "1"}

    with pytest.raises(error) as caught:
        await client.chat.completions.create(model="gpt-5-mini", messages=MESSAGES, extra_headers=headers)

    assert caught.value.status_code == status
    assert "x-mock-intrinsic-ms" in caught.value.response.headers
    if scenario == "rate_limited":
        assert caught.value.response.headers["retry-after"] == "1"


async def test_a_bad_control_header_is_a_bad_request(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(
            model="gpt-5-mini",
            messages=MESSAGES,
            extra_headers={"x-mock-scenario": "explode"},
        )


@pytest.mark.parametrize("scenario", ["malformed", "invalid_output"])
async def test_bad_output_reaches_the_caller_as_content(client: AsyncOpenAI, scenario: str) -> None:
    completion = await client.chat.completions.create(
        model="gpt-5-mini",
        messages=MESSAGES,
        response_format={"type": "json_schema", "json_schema": {"name": "v", "schema": Verdict.model_json_schema()}},
        extra_headers={"x-mock-scenario": scenario},
    )

    content = completion.choices[0].message.content
    assert content is not None
    with pytest.raises(ValueError, match=r"validation error|Invalid JSON"):
        Verdict.model_validate_json(content)


async def test_models_are_listed(client: AsyncOpenAI) -> None:
    models = [model.id async for model in client.models.list()]

    assert models == ["mock-comparison-v1"]


async def test_asked_for_logprobs_stream_with_each_piece(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "Hello"}], stream=True, logprobs=True, top_logprobs=2
    )
    text, tokens = "", list[str]()
    async for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.logprobs is not None and choice.logprobs.content:
                tokens.extend(entry.token for entry in choice.logprobs.content)
                assert all(len(entry.top_logprobs) == 2 for entry in choice.logprobs.content)

    assert text
    assert "".join(tokens) == text
    plain = await client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "Hello"}])
    assert plain.choices[0].logprobs is None  # only when asked
