"""LangChain's `ChatOpenAI` (langchain-openai), unchanged, through the gateway: tools, agent turn, structured output.

A popular framework client users run on top of OpenAI-compatible endpoints, end to end against the real service
(uvicorn on loopback) and, behind it, the in-process mock or the mock server in the Anthropic and Gemini formats.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.mock.server import serve_mock
from tests.contract.gateway.conftest import serve_service

pytestmark = pytest.mark.contract

MODELS = {
    "mock": "mock/mock-comparison-v1",
    "anthropic": "anthropic/claude-haiku-4-5",
    "google": "google/gemini-2.5-flash",
}


class Weather(BaseModel):
    """The weather report for one city."""

    city: str
    temperature_c: float
    sunny: bool


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return json.dumps({"city": city, "temperature_c": 21.0})


@pytest.fixture(params=list(MODELS))
async def llm(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ChatOpenAI]:
    vendor = str(request.param)
    async with serve_mock(MockEngine(MockProfile(seed=3))) as mock_url:
        settings = {
            "anthropic": {"anthropic": {"api_key": "test", "base_url": mock_url}},
            "google": {"gemini": {"api_key": "test", "base_url": mock_url}},
            "mock": {},
        }[vendor]
        async with serve_service(tmp_path, **settings) as (base_url, _):
            yield ChatOpenAI(
                model=MODELS[vendor], base_url=f"{base_url}/v1", api_key=SecretStr("unused"), max_retries=0
            )


async def test_structured_output_fills_the_pydantic_model(llm: ChatOpenAI) -> None:
    for method in ("json_schema", "function_calling"):
        structured = llm.with_structured_output(Weather, method=method)

        report = await structured.ainvoke("What is the weather in Lisbon?")

        assert isinstance(report, Weather), method


async def test_an_agent_turn_calls_the_tool_and_answers_from_its_result(llm: ChatOpenAI) -> None:
    agent = llm.bind_tools([get_weather], tool_choice="get_weather")
    history: list[BaseMessage] = [HumanMessage("What is the weather in Lisbon?")]

    decision = await agent.ainvoke(history)

    assert isinstance(decision, AIMessage)
    [call] = decision.tool_calls
    assert call["name"] == "get_weather"
    assert isinstance(call["args"].get("city"), str)
    history += [decision, ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])]
    answer = await llm.bind_tools([get_weather]).ainvoke(history)
    assert isinstance(answer, AIMessage)
    assert not answer.tool_calls
    assert answer.content


async def test_streamed_tool_call_chunks_are_assembled(llm: ChatOpenAI) -> None:
    agent = llm.bind_tools([get_weather], tool_choice="get_weather")

    merged: AIMessageChunk | None = None
    async for chunk in agent.astream("What is the weather in Lisbon?"):
        assert isinstance(chunk, AIMessageChunk)
        merged = chunk if merged is None else merged + chunk

    assert merged is not None
    [call] = merged.tool_calls
    assert call["name"] == "get_weather"
    assert isinstance(call["args"].get("city"), str)
