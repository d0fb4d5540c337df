"""The official `anthropic` SDK against the mock server's Messages wire format."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest
from anthropic import AsyncAnthropic
from anthropic.types import MessageParam, ToolParam

from llm_provider_service.domain.comparison import COMPARISON_SCHEMA
from tests.contract.mock_server.conftest import Recipe, Verdict

pytestmark = pytest.mark.contract

# A model id the SDK does not know, so it warns about no deprecation.
MODEL = "mock-comparison-v1"
MESSAGES: list[MessageParam] = [{"role": "user", "content": "Essay A: ... Essay B: ..."}]
VERDICT_TOOL: ToolParam = {
    "name": "record_comparison",
    "description": COMPARISON_SCHEMA.description,
    "input_schema": dict(COMPARISON_SCHEMA.json_schema),
}
RECIPE_TOOL: ToolParam = {"name": "recipe", "description": "A recipe.", "input_schema": Recipe.model_json_schema()}


@pytest.fixture
async def client(mock_base_url: str) -> AsyncIterator[AsyncAnthropic]:
    async with AsyncAnthropic(base_url=mock_base_url, api_key="test", max_retries=0) as sdk:
        yield sdk


async def test_plain_message(client: AsyncAnthropic) -> None:
    raw = await client.messages.with_raw_response.create(
        model=MODEL,
        max_tokens=256,
        system="Judge fairly.",
        messages=MESSAGES,
    )
    message = await raw.parse()

    assert message.content[0].type == "text"
    assert message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert float(raw.headers["x-mock-intrinsic-ms"]) >= 0


@pytest.mark.parametrize(("tool", "model"), [(VERDICT_TOOL, Verdict), (RECIPE_TOOL, Recipe)])
async def test_a_forced_tool_answers_with_valid_input(
    client: AsyncAnthropic, tool: ToolParam, model: type[Verdict | Recipe]
) -> None:
    message = await client.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=MESSAGES,
        tools=[tool],
        tool_choice={"type": "tool", "name": str(tool["name"])},
    )

    block = message.content[0]
    assert block.type == "tool_use"
    assert block.name == tool["name"]
    model.model_validate(block.input)
    assert message.stop_reason == "tool_use"


async def test_a_text_stream_has_every_event(client: AsyncAnthropic) -> None:
    async with client.messages.stream(
        model=MODEL,
        max_tokens=256,
        messages=MESSAGES,
    ) as stream:
        events = [event.type async for event in stream]
        final = await stream.get_final_message()

    assert events[0] == "message_start"
    assert {"content_block_start", "content_block_delta", "content_block_stop", "message_delta"} <= set(events)
    assert events[-1] == "message_stop"
    assert final.content[0].type == "text"
    assert final.content[0].text
    assert final.usage.output_tokens > 1


async def test_a_tool_stream_assembles_the_input(client: AsyncAnthropic) -> None:
    async with client.messages.stream(
        model=MODEL,
        max_tokens=256,
        messages=MESSAGES,
        tools=[VERDICT_TOOL],
        tool_choice={"type": "tool", "name": "record_comparison"},
    ) as stream:
        final = await stream.get_final_message()

    block = final.content[0]
    assert block.type == "tool_use"
    Verdict.model_validate(block.input)


@pytest.mark.parametrize(
    ("scenario", "error", "status"),
    [
        ("rate_limited", anthropic.RateLimitError, 429),
        ("overloaded", anthropic.OverloadedError, 529),
        ("server_error", anthropic.InternalServerError, 500),
        ("timeout", anthropic.GatewayTimeoutError, 504),
        ("unauthorized", anthropic.AuthenticationError, 401),
        ("explode", anthropic.BadRequestError, 400),
    ],
)
async def test_faults_raise_the_sdk_error_for_their_status(
    client: AsyncAnthropic, scenario: str, error: type[anthropic.APIStatusError], status: int
) -> None:
    with pytest.raises(error) as caught:
        await client.messages.create(
            model=MODEL,
            max_tokens=256,
            messages=MESSAGES,
            extra_headers={"x-mock-scenario": scenario, "x-mock-latency-ms": "1"},
        )

    assert caught.value.status_code == status
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "error"


async def test_malformed_output_is_a_missing_tool_block(client: AsyncAnthropic) -> None:
    message = await client.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=MESSAGES,
        tools=[VERDICT_TOOL],
        tool_choice={"type": "tool", "name": "record_comparison"},
        extra_headers={"x-mock-scenario": "malformed"},
    )

    assert [block.type for block in message.content] == ["text"]


async def test_models_are_listed(client: AsyncAnthropic) -> None:
    models = [model.id async for model in client.models.list()]

    assert models == ["mock-comparison-v1"]
