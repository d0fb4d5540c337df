"""The original client's callback contract, written from its `common_core` models as facts (not their code).

`EventEnvelope[LLMComparisonResultV1]` as the essay-assessment client parses every callback:
`EventEnvelope[...].model_validate_json(bytes)` then `LLMComparisonResultV1.model_validate(envelope.data)`.
Encoded here: field names, types, defaults, constraints (`ge`, `le`, `max_length`), the enums (error codes,
provider types, winners) and the validator that makes success fields and `error_detail` exclusive. Unknown keys
are ignored, as pydantic's default (which the original keeps) does.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ErrorCode(StrEnum):
    """`common_core.error_enums.ErrorCode`: the cross-service codes."""

    UNKNOWN_ERROR = "UNKNOWN_ERROR"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
    CONFIGURATION_ERROR = "CONFIGURATION_ERROR"
    EXTERNAL_SERVICE_ERROR = "EXTERNAL_SERVICE_ERROR"
    KAFKA_PUBLISH_ERROR = "KAFKA_PUBLISH_ERROR"
    CONTENT_SERVICE_ERROR = "CONTENT_SERVICE_ERROR"
    SPELLCHECK_SERVICE_ERROR = "SPELLCHECK_SERVICE_ERROR"
    NLP_SERVICE_ERROR = "NLP_SERVICE_ERROR"
    AI_FEEDBACK_SERVICE_ERROR = "AI_FEEDBACK_SERVICE_ERROR"
    CJ_ASSESSMENT_SERVICE_ERROR = "CJ_ASSESSMENT_SERVICE_ERROR"
    LLM_PROVIDER_SERVICE_ERROR = "LLM_PROVIDER_SERVICE_ERROR"
    MISSING_REQUIRED_FIELD = "MISSING_REQUIRED_FIELD"
    INVALID_CONFIGURATION = "INVALID_CONFIGURATION"
    TIMEOUT = "TIMEOUT"
    CONNECTION_ERROR = "CONNECTION_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    RATE_LIMIT = "RATE_LIMIT"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    AUTHENTICATION_ERROR = "AUTHENTICATION_ERROR"
    AUTHORIZATION_ERROR = "AUTHORIZATION_ERROR"
    INVALID_API_KEY = "INVALID_API_KEY"
    INVALID_REQUEST = "INVALID_REQUEST"
    INVALID_RESPONSE = "INVALID_RESPONSE"
    PARSING_ERROR = "PARSING_ERROR"
    CIRCUIT_BREAKER_OPEN = "CIRCUIT_BREAKER_OPEN"
    REQUEST_QUEUED = "REQUEST_QUEUED"
    PROCESSING_ERROR = "PROCESSING_ERROR"
    INITIALIZATION_FAILED = "INITIALIZATION_FAILED"


class LLMErrorCode(StrEnum):
    """`common_core.error_enums.LLMErrorCode`: the LLM Provider Service's own codes (values carry `LLM_`)."""

    PROVIDER_UNAVAILABLE = "LLM_PROVIDER_UNAVAILABLE"
    PROVIDER_RATE_LIMIT = "LLM_PROVIDER_RATE_LIMIT"
    PROVIDER_TIMEOUT = "LLM_PROVIDER_TIMEOUT"
    PROVIDER_API_ERROR = "LLM_PROVIDER_API_ERROR"
    INVALID_PROMPT = "LLM_INVALID_PROMPT"
    CONTENT_TOO_LONG = "LLM_CONTENT_TOO_LONG"
    INVALID_CONFIG = "LLM_INVALID_CONFIG"
    QUEUE_FULL = "LLM_QUEUE_FULL"
    INTERNAL_ERROR = "LLM_INTERNAL_ERROR"
    CALLBACK_TOPIC_MISSING = "LLM_CALLBACK_TOPIC_MISSING"
    INVALID_CALLBACK_TOPIC = "LLM_INVALID_CALLBACK_TOPIC"
    PARSING_ERROR = "LLM_PARSING_ERROR"
    INVALID_RESPONSE = "LLM_INVALID_RESPONSE"
    COST_LIMIT_EXCEEDED = "LLM_COST_LIMIT_EXCEEDED"
    CONFIGURATION_ERROR = "LLM_CONFIGURATION_ERROR"


class LLMProviderType(StrEnum):
    """`common_core.config_enums.LLMProviderType`: exactly five providers."""

    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    GOOGLE = "google"
    OPENROUTER = "openrouter"
    MOCK = "mock"


class EssayComparisonWinner(StrEnum):
    """`common_core.domain_enums.EssayComparisonWinner`."""

    ESSAY_A = "Essay A"
    ESSAY_B = "Essay B"


# The original's union also holds other services' enums; none of their values is ours to send.
ORIGINAL_ERROR_CODES = frozenset(code.value for code in (*ErrorCode, *LLMErrorCode))


class ErrorDetail(BaseModel):
    """`common_core.models.error_models.ErrorDetail` (frozen; `error_code` one of the code enums)."""

    model_config = ConfigDict(frozen=True)

    error_code: ErrorCode | LLMErrorCode
    message: str
    correlation_id: UUID
    timestamp: datetime
    service: str
    operation: str
    details: dict[str, Any] = Field(default_factory=dict)
    stack_trace: str | None = None
    trace_id: str | None = None
    span_id: str | None = None


class TokenUsage(BaseModel):
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)


class LLMComparisonResultV1(BaseModel):
    """`common_core.events.llm_provider_events.LLMComparisonResultV1`."""

    request_id: str
    correlation_id: UUID
    winner: EssayComparisonWinner | None = None
    justification: str | None = Field(None, max_length=500)
    confidence: float | None = Field(None, ge=1.0, le=5.0)
    error_detail: ErrorDetail | None = None
    provider: LLMProviderType
    model: str
    response_time_ms: int = Field(ge=0)
    token_usage: TokenUsage = Field(default_factory=TokenUsage)
    cost_estimate: float = Field(ge=0.0)
    requested_at: datetime
    completed_at: datetime
    trace_id: str | None = None
    request_metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _success_xor_error(self) -> LLMComparisonResultV1:
        succeeded = self.winner is not None
        failed = self.error_detail is not None
        if succeeded == failed:
            raise ValueError("exactly one of the success fields and error_detail must be set")
        if succeeded and (self.justification is None or self.confidence is None):
            raise ValueError("winner, justification and confidence must be set together")
        return self


class EventEnvelope(BaseModel):
    """`common_core.events.envelope.EventEnvelope` (`data` is `Any`: the client validates it in a second step)."""

    model_config = ConfigDict(populate_by_name=True)

    event_id: UUID
    event_type: str
    event_timestamp: datetime
    source_service: str
    schema_version: int = 1
    correlation_id: UUID
    data_schema_uri: str | None = None
    data: Any
    metadata: dict[str, Any] | None = None


def parse_callback(raw: bytes | str) -> tuple[EventEnvelope, LLMComparisonResultV1]:
    """Parse a callback exactly as the client's handler does (two phases); raises `ValidationError`."""
    envelope = EventEnvelope.model_validate_json(raw)
    return envelope, LLMComparisonResultV1.model_validate(envelope.data)
