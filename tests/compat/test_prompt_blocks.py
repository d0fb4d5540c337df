"""Prompt blocks are the prompt (SPEC §3.1): system blocks -> system, user_content blocks -> the user message, in
order, with their cache markers; the legacy `user_prompt` copy is then not sent as well."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_provider_service.api.schemas import parse_comparison_request
from llm_provider_service.domain.comparison import build_completion_request, prompt_sha256
from llm_provider_service.domain.models import CompletionRequest, TextBlock
from llm_provider_service.providers.anthropic import AnthropicProvider
from llm_provider_service.providers.http_client import VendorTransport
from tests.compat.client_requests import assembled_blocks, client_request, prompt_block

pytestmark = pytest.mark.compat


def _call(body: dict[str, Any]) -> CompletionRequest:
    request, _ = parse_comparison_request(json.dumps(body).encode())
    return build_completion_request(request, job_id="job-1", model="claude-sonnet-4-5", attempt=1)


def test_user_content_blocks_are_the_user_message_and_user_prompt_is_not_sent_too() -> None:
    blocks = assembled_blocks("Essay one text.", "Essay two text.")
    call = _call(client_request(blocks=blocks))
    [message] = call.messages
    assert all(isinstance(part, TextBlock) for part in message.parts)  # job prompts hold no images
    assert [part.text for part in message.parts if isinstance(part, TextBlock)] == [b["content"] for b in blocks]
    assert [part.cacheable for part in message.parts] == [True, False, False, True]
    assert message.content == "\n\n".join(block["content"] for block in blocks)
    # The client's user_prompt is the same text rendered once more: sending both doubled every prompt.
    sent_text = "".join(block.text for block in call.system) + "".join(m.content for m in call.messages)
    assert sent_text.count("Essay one text.") == 1


def test_without_blocks_the_user_prompt_is_the_message() -> None:
    body = client_request(blocks=[])
    call = _call(body)
    assert [message.content for message in call.messages] == [body["user_prompt"]]
    assert call.messages[0].parts == ()


def test_system_blocks_follow_the_system_prompt_in_order() -> None:
    blocks = [
        prompt_block("system", "Rubric one.", cacheable=True, ttl="1h"),
        prompt_block("user_content", "The essays."),
        prompt_block("system", "Rubric two."),
    ]
    call = _call(client_request(blocks=blocks, system_prompt="You are a CJ judge."))
    assert [(block.text, block.cacheable, block.ttl) for block in call.system] == [
        ("You are a CJ judge.", False, "5m"),
        ("Rubric one.", True, "1h"),
        ("Rubric two.", False, "5m"),
    ]
    assert [message.content for message in call.messages] == ["The essays."]


def test_the_prompt_hash_is_of_the_text_sent() -> None:
    with_blocks = _call(client_request(blocks=assembled_blocks("A.", "B.")))
    legacy_copy = _call(client_request(blocks=[]) | {"user_prompt": with_blocks.messages[0].content})
    assert prompt_sha256(with_blocks) == prompt_sha256(legacy_copy)


def _anthropic() -> AnthropicProvider:
    session: Any = None  # build_payload sends nothing
    return AnthropicProvider(VendorTransport(session, provider="anthropic", base_url="http://unused", headers={}))


def test_anthropic_gets_cache_markers_on_user_content_blocks() -> None:
    provider = _anthropic()
    call = _call(client_request(blocks=assembled_blocks("A.", "B.", extended_ttl=True)))
    payload = provider.build_payload(call, stream=False)
    [message] = payload["messages"]
    assert [part.get("cache_control") for part in message["content"]] == [
        {"type": "ephemeral", "ttl": "1h"},
        None,
        None,
        {"type": "ephemeral", "ttl": "1h"},
    ]
    assert all(part["type"] == "text" for part in message["content"])


def test_anthropic_cache_breakpoints_stay_within_four() -> None:
    blocks = [prompt_block("system", f"S{n}", cacheable=True) for n in range(3)]
    blocks += [prompt_block("user_content", f"U{n}", cacheable=True) for n in range(3)]
    provider = _anthropic()
    payload = provider.build_payload(_call(client_request(blocks=blocks)), stream=False)
    marked = [block for block in payload["system"] if "cache_control" in block]
    marked += [part for part in payload["messages"][0]["content"] if "cache_control" in part]
    assert [block["text"] for block in marked] == ["S2", "U0", "U1", "U2"]  # the last four: the longest prefixes
