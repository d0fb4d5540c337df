"""`logprobs` through the gateway with the official `openai` SDK, streamed and not, to every vendor format.

OpenAI-protocol upstreams relay `choices[].logprobs` (the mock server's OpenAI wire emits them when asked);
Gemini's `logprobsResult` is mapped into OpenAI's shape; Anthropic has none, so the parameters are dropped
and named in `x-llm-provider-dropped-params` (or refused under `reject`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.mock.server import serve_mock
from tests.contract.gateway.conftest import serve_service
from tests.contract.test_gateway_surface_sdk import MODELS, QUESTION

pytestmark = pytest.mark.contract

WITH_LOGPROBS = ("openai", "google")


@dataclass
class Gateway:
    client: AsyncOpenAI
    model: str
    vendor: str
    received: list[tuple[str, dict[str, Any]]]


def _settings(vendor: str, mock_url: str) -> dict[str, Any]:
    return {
        "openai": {"openai": {"api_key": "test", "base_url": f"{mock_url}/v1"}},
        "anthropic": {"anthropic": {"api_key": "test", "base_url": mock_url}},
        "google": {"gemini": {"api_key": "test", "base_url": mock_url}},
        "mock": {},
    }[vendor]


@pytest.fixture(params=list(MODELS))
async def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    vendor = str(request.param)
    received: list[tuple[str, dict[str, Any]]] = []
    async with (
        serve_mock(MockEngine(MockProfile(seed=7)), received=received) as mock_url,
        serve_service(tmp_path, **_settings(vendor, mock_url)) as (base_url, _),
        AsyncOpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0) as client,
    ):
        yield Gateway(client, MODELS[vendor], vendor, received)


async def test_streamed_logprobs_reach_the_sdk_or_are_named_as_dropped(gateway: Gateway) -> None:
    raw = await gateway.client.chat.completions.with_raw_response.create(
        model=gateway.model, messages=QUESTION, stream=True, logprobs=True, top_logprobs=2
    )
    text, entries = "", []
    async for chunk in raw.parse():
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.logprobs is not None and choice.logprobs.content:
                entries.extend(choice.logprobs.content)

    assert text
    dropped = raw.headers.get("x-llm-provider-dropped-params")
    if gateway.vendor not in WITH_LOGPROBS:
        assert dropped == "logprobs, top_logprobs"
        assert entries == []
        return
    assert dropped is None
    assert "".join(entry.token for entry in entries) == text  # one entry per token, in order
    assert all(entry.logprob <= 0 and len(entry.top_logprobs) == 2 for entry in entries)
    assert entries[0].top_logprobs[0].token == entries[0].token  # the chosen token is the likeliest


async def test_logprobs_of_a_whole_answer_match_its_text(gateway: Gateway) -> None:
    raw = await gateway.client.chat.completions.with_raw_response.create(
        model=gateway.model, messages=QUESTION, logprobs=True
    )
    choice = raw.parse().choices[0]

    if gateway.vendor not in WITH_LOGPROBS:
        assert raw.headers.get("x-llm-provider-dropped-params") == "logprobs"
        assert choice.logprobs is None
        return
    assert choice.logprobs is not None
    assert choice.logprobs.content
    assert "".join(entry.token for entry in choice.logprobs.content) == choice.message.content


async def test_the_reject_policy_refuses_logprobs_where_a_vendor_has_none(tmp_path: Path) -> None:
    async with (
        serve_mock(MockEngine(MockProfile(seed=7))) as mock_url,
        serve_service(tmp_path, unsupported_params="reject", **_settings("anthropic", mock_url)) as (base_url, _),
        AsyncOpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0) as client,
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model=MODELS["anthropic"], messages=QUESTION, logprobs=True)

    assert refused.value.param == "logprobs"
