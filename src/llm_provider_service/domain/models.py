"""Domain models: jobs, comparison requests, provider calls and their results (frozen, I/O free)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from llm_provider_service.domain.chat import AnswerChoice, ImagePart, ToolCall, ToolCallDelta, ToolChoice, ToolSpec
from llm_provider_service.domain.mock_control import NO_CONTROL, MockControl

Winner = Literal["Essay A", "Essay B"]
JsonObject = Mapping[str, Any]
# `CompletionResponse.provider_metadata` key of the mock's intrinsic time (ms); the callback envelope carries it.
MOCK_INTRINSIC_MS_KEY = "mock_intrinsic_ms"


class JobStatus(StrEnum):
    """Where a job is in its lifecycle; the last four are terminal."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.CANCELLED})


class ProviderName(StrEnum):
    """Provider kinds a caller may name in `provider_override`."""

    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    GOOGLE = "google"
    OPENROUTER = "openrouter"
    OPENAI_COMPATIBLE = "openai_compatible"
    MOCK = "mock"


class ReasoningEffort(StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class BatchingMode(StrEnum):
    """How a job reaches the vendor (the original's `LLMBatchingMode`); only `provider_batch_api` changes anything."""

    PER_REQUEST = "per_request"
    SERIAL_BUNDLE = "serial_bundle"
    PROVIDER_BATCH_API = "provider_batch_api"


class OutputVerbosity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class PromptBlock:
    """A piece of prompt text the caller wants placed in the system prompt or the user content."""

    content: str
    target: Literal["system", "user_content"] = "user_content"
    cacheable: bool = False
    ttl: Literal["5m", "1h"] = "5m"


@dataclass(frozen=True, slots=True)
class LLMConfigOverrides:
    """Per-request overrides of the provider, model and generation parameters."""

    provider: ProviderName | None = None
    model: str | None = None
    temperature: float | None = None
    # A route or alias named by `provider_override` instead of a provider; read at submit only (the job's
    # `provider` then records the route's name, so the store keeps no copy of this field).
    route: str | None = None
    system_prompt: str | None = None
    max_tokens: int | None = None
    reasoning_effort: ReasoningEffort | None = None
    output_verbosity: OutputVerbosity | None = None
    batching_mode: BatchingMode | None = None


@dataclass(frozen=True, slots=True)
class ComparisonRequest:
    """A validated pairwise comparison job as the caller submitted it."""

    user_prompt: str
    correlation_id: str
    prompt_blocks: tuple[PromptBlock, ...] = ()
    callback_topic: str | None = None
    overrides: LLMConfigOverrides = field(default_factory=LLMConfigOverrides)
    user_id: str | None = None
    priority: int = 5
    metadata: JsonObject = field(default_factory=dict)
    dropped_params: tuple[str, ...] = ()  # overrides the model cannot take, removed at submit (policy `drop`)

    @property
    def mock_control(self) -> MockControl:
        """Per-job mock instructions (`metadata.mock`, validated at submit), none when absent."""
        control = self.metadata.get("mock")
        return MockControl.of_validated(control) if isinstance(control, Mapping) else NO_CONTROL


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Comparison:
    """A validated verdict: which essay is better, why, and how sure (1-5)."""

    winner: Winner
    justification: str
    confidence: float


@dataclass(frozen=True, slots=True)
class TextBlock:
    """Text sent to a provider; `cacheable` asks vendors that support it to cache the prefix."""

    text: str
    cacheable: bool = False
    ttl: Literal["5m", "1h"] = "5m"


# A piece of a message's content, in order: text (with cache markers) or an image.
ContentPart = TextBlock | ImagePart


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn. `parts`, when given, are its content in order: text blocks (with cache markers) and images;
    `content` is the text alone, for adapters that send one string.

    An assistant turn may carry the `tool_calls` it made; a `tool` turn answers the call `tool_call_id`.
    """

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    parts: tuple[ContentPart, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutputSchema:
    """A JSON schema the provider must answer with (json_schema, a forced tool, responseSchema).

    `json_object` is JSON mode: any JSON object will do (`json_schema` is then `{"type": "object"}`), so
    adapters use the vendor's JSON mode instead of sending a schema.
    """

    name: str
    description: str
    json_schema: JsonObject
    json_object: bool = False


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """Tools and sampling options of a gateway call (Chat Completions names; adapters translate them)."""

    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    n: int = 1
    logprobs: bool = False
    top_logprobs: int | None = None
    user: str | None = None


NO_OPTIONS = ChatOptions()


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One provider call, vendor neutral. Adapters translate it into their wire format.

    `request_key` and `attempt` make the mock deterministic per job and attempt; `mock` carries
    per-request mock instructions (scenario, latency_ms, fail_attempts) and is ignored by real vendors.
    """

    model: str
    messages: tuple[ChatMessage, ...]
    system: tuple[TextBlock, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    reasoning_effort: ReasoningEffort | None = None
    output_verbosity: OutputVerbosity | None = None
    output_schema: OutputSchema | None = None
    request_key: str = ""
    attempt: int = 1
    mock: MockControl = NO_CONTROL
    # The Chat Completions surface (the gateway); jobs keep the defaults. One nested object, not a dozen
    # fields: a frozen dataclass pays per field on every construction and `replace`, on the hot path.
    options: ChatOptions = NO_OPTIONS
    # Fields of the caller's Chat Completions body that OpenAI-protocol upstreams receive verbatim
    # (unknown ones, and `messages`, `tools`, `response_format`... as sent); None outside the gateway.
    passthrough: JsonObject | None = None


@dataclass(frozen=True, slots=True)
class CompletionResponse:
    """What a provider answered: raw text, the structured object when one was requested, usage.

    `finish_reason` is "stop", "length" or "tool_calls" (then `tool_calls` holds them)."""

    text: str
    usage: TokenUsage
    model: str
    finish_reason: str = "stop"
    structured: JsonObject | None = None
    provider_metadata: JsonObject = field(default_factory=dict)
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: JsonObject | None = None
    more_choices: tuple[AnswerChoice, ...] = ()


@dataclass(frozen=True, slots=True)
class CompletionChunk:
    """One piece of a streamed answer: a text delta; the last chunk carries usage and the finish reason
    when the provider reported them (None otherwise: the vendor did not say)."""

    delta: str = ""
    usage: TokenUsage | None = None
    finish_reason: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    index: int = 0  # the choice this piece belongs to (n > 1)
    logprobs: JsonObject | None = None  # this piece's token log probabilities, OpenAI's shape (`content`)


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """The callback's `error_detail`: why a job ended without a verdict."""

    error_code: str
    message: str
    correlation_id: str
    timestamp: datetime
    service: str
    operation: str
    retryable: bool
    details: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobRoute:
    """The route a job was submitted under and the vendor of the target serving this attempt (in memory only:
    the store keeps the route's name as the job's `provider`; `service.job_routing` picks the target)."""

    name: str
    vendor: str


@dataclass(frozen=True, slots=True)
class Job:
    """A comparison job as the store records it. `result` holds the callback payload once terminal."""

    id: str
    request: ComparisonRequest
    status: JobStatus
    provider: str
    model: str
    created_at: datetime
    updated_at: datetime
    available_at: datetime
    expires_at: datetime
    attempts: int = 0
    idempotency_key: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    started_at: datetime | None = None
    trace_id: str | None = None
    result: JsonObject | None = None
    last_error: JsonObject | None = None
    route: JobRoute | None = None  # set while a routed job runs on one of its route's targets

    def with_changes(self, **changes: Any) -> Job:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event written in the same transaction as the state change it reports; a relay publishes it."""

    event_id: str
    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, str], ...] = ()
