"""The HTTP contract of `/api/v1`: request and response shapes, kept apart from the domain models."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import orjson
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llm_provider_service.domain.errors import RequestValidationError
from llm_provider_service.domain.events import iso
from llm_provider_service.domain.models import (
    BatchingMode,
    ComparisonRequest,
    Job,
    LLMConfigOverrides,
    OutputVerbosity,
    PromptBlock,
    ProviderName,
    ReasoningEffort,
)

_log = structlog.get_logger(__name__)

TOPIC_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"


class _Lenient(BaseModel):
    """Known fields strictly typed; unknown fields accepted and ignored, as the original's models do (pydantic's
    default): a newer client that adds a field must not be refused by this drop-in."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class PromptBlockIn(BaseModel):
    """A prompt block. Other keys (the original client adds `content_hash`) are accepted and ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    content: str = Field(min_length=1)
    target: Literal["system", "user_content"] = "user_content"
    cacheable: bool = False
    ttl: Literal["5m", "1h"] = "5m"


class LLMConfigOverridesIn(_Lenient):
    provider_override: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="A provider (anthropic, openai, google, openrouter, openai_compatible, mock), or a route or "
        "alias configured here (LLM_PROVIDER_MODEL_ROUTES, LLM_PROVIDER_MODEL_ALIASES); unknown names are a 400.",
    )
    model_override: str | None = Field(None, min_length=1, max_length=200)
    temperature_override: float | None = Field(None, ge=0, le=2)
    system_prompt_override: str | None = None  # "" is allowed (the original's model allows it): the default prompt
    max_tokens_override: int | None = Field(None, gt=0, le=1_000_000)
    reasoning_effort: ReasoningEffort | None = None
    output_verbosity: OutputVerbosity | None = None
    batching_mode: BatchingMode | None = None


class ComparisonRequestIn(_Lenient):
    """The original client's `LLMComparisonRequest`, a superset: every field it allows as None may be null."""

    user_prompt: str = Field(min_length=1)
    prompt_blocks: list[PromptBlockIn] | None = Field(None, max_length=64)
    callback_topic: str | None = Field(None, pattern=TOPIC_PATTERN)
    llm_config_overrides: LLMConfigOverridesIn | None = None
    correlation_id: uuid.UUID | None = None
    user_id: str | None = Field(None, max_length=256)
    priority: int = Field(5, ge=0, le=10)
    metadata: dict[str, Any] | None = None

    @field_validator("user_prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("user_prompt must not be blank")
        return value

    @field_validator("metadata")
    @classmethod
    def _storable(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # The job row and the callback carry metadata as JSON: integers beyond 64 bits cannot be stored (fuzzing
        # found a 500 here), so they are the client's error.
        try:
            orjson.dumps(value)
        except TypeError as exc:
            raise ValueError(f"metadata cannot be stored as JSON: {exc}") from None
        return value

    @field_validator("callback_topic")
    @classmethod
    def _legal_topic(cls, value: str | None) -> str | None:
        if value in {".", ".."}:
            raise ValueError("'.' and '..' are not legal Kafka topic names")
        return value

    def to_domain(self) -> ComparisonRequest:
        overrides = self.llm_config_overrides or LLMConfigOverridesIn()
        provider = overrides.provider_override
        return ComparisonRequest(
            user_prompt=self.user_prompt,
            correlation_id=str(self.correlation_id or uuid.uuid4()),
            prompt_blocks=tuple(
                PromptBlock(block.content, block.target, block.cacheable, block.ttl)
                for block in self.prompt_blocks or ()
            ),
            callback_topic=self.callback_topic,
            overrides=LLMConfigOverrides(
                # Any other name is a route or alias; the use case refuses one it does not know (400).
                provider=ProviderName(provider) if provider in _PROVIDER_NAMES else None,
                route=provider if provider is not None and provider not in _PROVIDER_NAMES else None,
                model=overrides.model_override,
                temperature=overrides.temperature_override,
                system_prompt=overrides.system_prompt_override or None,
                max_tokens=overrides.max_tokens_override,
                reasoning_effort=overrides.reasoning_effort,
                output_verbosity=overrides.output_verbosity,
                batching_mode=overrides.batching_mode,
            ),
            user_id=self.user_id,
            priority=self.priority,
            metadata=self.metadata or {},
        )


_PROVIDER_NAMES = frozenset(provider.value for provider in ProviderName)


def parse_comparison_request(body: bytes) -> tuple[ComparisonRequest, str | None]:
    """Validate a request body: the request, and the correlation id when the client sent one.

    Errors never echo the input (it may hold essays)."""
    try:
        parsed = ComparisonRequestIn.model_validate_json(body)
    except ValidationError as exc:
        errors: list[dict[str, object]] = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in exc.errors()
        ]
        raise RequestValidationError("the request body is invalid", errors) from exc
    overrides = parsed.llm_config_overrides
    ignored = sorted(parsed.model_extra or ()) + [
        f"llm_config_overrides.{name}" for name in sorted((overrides.model_extra if overrides else None) or ())
    ]
    if ignored:
        # Names only: values may hold essay text.
        _log.info("comparison_request_fields_ignored", fields=ignored)
    return parsed.to_domain(), str(parsed.correlation_id) if parsed.correlation_id is not None else None


def job_view(job: Job) -> dict[str, Any]:
    """`GET /api/v1/requests/{queue_id}`."""
    return {
        "queue_id": job.id,
        "status": job.status.value,
        "attempts": job.attempts,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "result": dict(job.result) if job.result is not None else None,
    }
