"""The gateway over fakes: the real app, the real mock provider (with a recording sleep) and a scripted one."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import orjson

from llm_provider_service.api.app import create_app
from llm_provider_service.domain.errors import ProviderError
from llm_provider_service.domain.models import CompletionChunk, CompletionRequest, CompletionResponse, TokenUsage
from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.ports import StreamingLLMProvider
from llm_provider_service.providers.mock import MockProvider
from llm_provider_service.service.budgets import BudgetPolicy
from llm_provider_service.service.gateway import ChatGateway
from llm_provider_service.service.usage_recorder import UsageRecorder
from tests.api.conftest import MAX_BODY_BYTES
from tests.unit.service.harness import Harness

MOCK_MODEL = "mock/mock-comparison-v1"


class RecordingSleep:
    """Stands in for asyncio.sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits_seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits_seconds.append(seconds)


class ScriptedStreamingProvider:
    """Answers from a script (a response, an error, or a list of stream chunks / errors); records requests."""

    def __init__(self, name: str, script: Sequence[Any] = ()) -> None:
        self._name = name
        self.script = list(script)
        self.requests: list[CompletionRequest] = []

    @property
    def name(self) -> str:
        return self._name

    def _next(self, request: CompletionRequest) -> Any:
        self.requests.append(request)
        return self.script.pop(0) if self.script else CompletionResponse("scripted answer", TokenUsage(7, 3), "m")

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        item = self._next(request)
        if isinstance(item, ProviderError):
            raise item
        assert isinstance(item, CompletionResponse)
        return item

    async def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        item = self._next(request)
        if isinstance(item, ProviderError):
            raise item
        for piece in item if isinstance(item, list) else [CompletionChunk("scripted answer")]:
            if isinstance(piece, ProviderError):
                raise piece
            yield piece


@dataclass
class ChatApi:
    client: httpx.AsyncClient
    harness: Harness
    recorder: UsageRecorder
    sleep: RecordingSleep
    scripted: ScriptedStreamingProvider
    openai: ScriptedStreamingProvider
    gateway: ChatGateway
    metrics: Any = field(default=None)

    async def chat(self, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
        return await self.send(body, headers)

    async def send(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        payload = {"model": MOCK_MODEL, "messages": [{"role": "user", "content": "Say hello."}], **body}
        return await self.client.post("/v1/chat/completions", content=orjson.dumps(payload), headers=headers)


def build_chat_api(
    *,
    api_keys: list[str] | None = None,
    aliases: dict[str, str] | None = None,
    gateway_enabled: bool = True,
    unsupported_params: Literal["drop", "reject"] = "drop",
    budget_policy: BudgetPolicy | None = None,
    budget_wait_seconds: float = 5.0,
    model_routes: dict[str, Any] | None = None,
    deployments: dict[str, Any] | None = None,
) -> ChatApi:
    sleep = RecordingSleep()
    scripted = ScriptedStreamingProvider("openai_compatible")
    openai = ScriptedStreamingProvider("openai")
    providers: dict[str, StreamingLLMProvider] = {
        "mock": MockProvider(MockEngine(MockProfile()), sleep=sleep),
        "openai_compatible": scripted,
        "openai": openai,
        # A scripted stand-in for a translating vendor (reach it with `gateway.route(...).provider`).
        "anthropic": ScriptedStreamingProvider("anthropic"),
    }
    settings = {
        "api_keys": api_keys or [],
        "model_aliases": aliases or {},
        "retry_base_delay_seconds": 0.5,
        "gateway_budget_wait_seconds": budget_wait_seconds,
        "model_routes": model_routes or {},
        "deployments": deployments or {},
    }
    for name in deployments or {}:  # each deployment a scripted stand-in of its own
        providers[name] = ScriptedStreamingProvider(name)
    harness = Harness(
        providers=providers,
        settings_overrides=settings,
        unsupported_params=unsupported_params,
        sleep=sleep,
        random=lambda: 0.0,
        budget_policy=budget_policy,
    )
    services = harness.services
    context = services.api if gateway_enabled else dataclasses.replace(services.api, gateway=None)
    app = create_app(context, max_body_bytes=MAX_BODY_BYTES)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test")
    return ChatApi(
        client, harness, services.usage_recorder, sleep, scripted, openai, services.gateway, services.metrics
    )


def sse_data(text: str) -> list[Any]:
    """The decoded `data:` payloads of an SSE body ("[DONE]" kept as a string)."""
    events: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            events.append(data if data == "[DONE]" else orjson.loads(data))
    return events
