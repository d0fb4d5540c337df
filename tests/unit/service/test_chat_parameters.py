"""The drop|reject policy for Chat Completions parameters a vendor or model cannot honour."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.errors import UnsupportedParameterError
from llm_provider_service.domain.models import ChatMessage, ChatOptions, CompletionRequest
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.service.chat_parameters import admit, supports

CATALOG = default_catalog()
CALL = CompletionRequest(
    model="m", messages=(ChatMessage("user", "x"),), options=ChatOptions(seed=3, top_p=0.5), temperature=0.2
)


@pytest.mark.parametrize(
    ("provider", "parameter", "honoured"),
    [
        ("openai", "logprobs", True),
        ("openrouter", "anything_new", True),
        ("anthropic", "seed", False),
        ("anthropic", "stop", True),
        ("google", "seed", True),
        ("google", "logprobs", True),
        ("anthropic", "logprobs", False),
        ("mock", "n", True),
    ],
)
def test_the_table(provider: str, parameter: str, honoured: bool) -> None:
    assert supports(provider, parameter) is honoured


def test_drop_clears_the_field_and_names_it() -> None:
    info = CATALOG.resolve("anthropic", "claude-haiku-4-5")
    admitted, dropped = admit("a", info, CALL, {"model", "messages", "seed", "top_p"}, "drop", stream=False)
    assert dropped == ("seed",)
    assert (admitted.options.seed, admitted.options.top_p) == (None, 0.5)


def test_a_model_limit_is_dropped_too_and_cleared_from_the_passthrough() -> None:
    info = CATALOG.resolve("openai", "gpt-5-mini")  # no temperature on reasoning models
    call = CompletionRequest(model="gpt-5-mini", messages=CALL.messages, temperature=0.2, passthrough={"seed": 1})
    admitted, dropped = admit("o", info, call, {"temperature", "seed"}, "drop", stream=False)
    assert dropped == ("temperature",)
    assert admitted.temperature is None
    assert admitted.passthrough == {"seed": 1}


def test_reject_names_the_first_parameter_and_n_is_refused_whatever_the_policy() -> None:
    info = CATALOG.resolve("anthropic", "claude-haiku-4-5")
    with pytest.raises(UnsupportedParameterError) as rejected:
        admit("a", info, CALL, {"seed", "logprobs"}, "reject", stream=False)
    assert rejected.value.param == "logprobs"
    several = CompletionRequest(model="m", messages=CALL.messages, options=ChatOptions(n=2))
    with pytest.raises(UnsupportedParameterError) as refused:
        admit("a", info, several, {"n"}, "drop", stream=False)
    assert refused.value.param == "n"
