"""Pydantic models of the JSON the routes answer, for the OpenAPI document (the request models are the parsers').

The routes build their answers as dicts for speed; `tests/api/test_openapi.py` validates real answers against these
models' schemas, so a field added to a route without being added here fails a test.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_provider_service.domain.models import JobStatus


class _Open(BaseModel):
    """Extra members are allowed: clients must ignore what they do not know."""

    model_config = ConfigDict(extra="allow")


class ProblemDetails(_Open):
    """RFC 9457 problem+json with the service's stable `code` and the original client's `error`/`is_retryable`."""

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(description="Stable machine-readable error code.")
    correlation_id: str | None
    error: Any = Field(description="The message (or, for some codes, an object) the original client reads.")
    is_retryable: bool
    errors: list[dict[str, Any]] | None = Field(None, description="Per-field validation errors (400 only).")


class Accepted(BaseModel):
    """202 answer of `POST /api/v1/comparison`."""

    queue_id: str
    status: JobStatus
    message: str
    estimated_wait_seconds: float
    estimated_wait_minutes: int
    status_url: str


class JobView(BaseModel):
    """A job as `GET /api/v1/requests/{queue_id}` (and a finished `?wait=`) shows it."""

    queue_id: str
    status: JobStatus
    attempts: int
    created_at: str = Field(description="ISO 8601.")
    updated_at: str = Field(description="ISO 8601.")
    result: dict[str, Any] | None


class ProviderList(BaseModel):
    providers: list[dict[str, Any]]
    routes: list[dict[str, Any]]  # routes: targets' circuit state and in-flight calls, `jobs` (may jobs name it)


class ModelCatalog(BaseModel):
    models: list[dict[str, Any]]


class UsageGroup(BaseModel):
    group: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float


class UsageSummary(BaseModel):
    group_by: Literal["provider", "model", "day"]
    from_: str | None = Field(alias="from")
    to: str | None
    groups: list[UsageGroup]


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]


class OpenAIError(_Open):
    """The OpenAI error envelope the gateway answers with (the SDKs read `error.message`/`error.type`)."""

    error: dict[str, Any]


class ChatCompletion(_Open):
    """`chat.completion` (non-streaming); with `stream: true` the answer is `text/event-stream` chunks instead."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: dict[str, Any] | None = None


class Embedding(_Open):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str = Field(description="Floats, or base64 of little-endian float32 with base64.")


class EmbeddingList(_Open):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: dict[str, int]


class OpenAIModel(_Open):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class OpenAIModelList(_Open):
    object: Literal["list"]
    data: list[OpenAIModel]
