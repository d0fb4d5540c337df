"""Settings: every knob of the service, read once at the entrypoint from `LLM_PROVIDER_*` variables and `.env`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from llm_provider_service.domain.models import ProviderName
from llm_provider_service.domain.rate_limits import Dimension

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "admin", "test", "xxx"})


# The variables each vendor's own tools read, used when `LLM_PROVIDER_<VENDOR>_API_KEY` is unset.
VENDOR_KEY_FALLBACKS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "openrouter": ("OPENROUTER_API_KEY",),
}
# Settings field -> the provider name the registry and the catalog use.
VENDOR_PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "openrouter": "openrouter",
    "openai_compatible": "openai_compatible",
}


class VendorSettings(BaseModel):
    """How to reach one vendor: `LLM_PROVIDER_<VENDOR>_API_KEY` and `LLM_PROVIDER_<VENDOR>_BASE_URL`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    api_key: SecretStr | None = Field(None, description="API key; unset = the vendor is not configured.")
    base_url: str | None = Field(None, description="Base URL (a proxy or the mock server); unset = the vendor's.")


class DeploymentSettings(VendorSettings):
    """One more deployment of a vendor (another key, region or proxy), served under its own name."""

    vendor: Literal["openai", "anthropic", "google", "openrouter", "openai_compatible"]


class ModelRouteSettings(BaseModel):
    """One gateway route: its targets (`provider/model-id`, tried in order), the strategy and weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: list[str] = Field(min_length=1)
    strategy: Literal["fallback", "weighted", "least_busy"] = "fallback"
    weights: list[float] = Field(default_factory=list)


class MockSettings(BaseModel):
    """The mock's default behaviour (`LLM_PROVIDER_MOCK_<FIELD>`); the fields are `MockProfile`'s, one for one."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    seed: int = Field(42, description="Seed of the deterministic mock.")
    performance_mode: bool = Field(False, description="Disable mock fault injection.")
    latency_model: Literal["none", "fixed", "uniform", "lognormal"] = Field(
        "none", description="Mock latency distribution."
    )
    latency_ms: float = Field(0.0, ge=0, description="Fixed latency; median for lognormal.")
    latency_min_ms: float = Field(0.0, ge=0, description="Uniform latency lower bound.")
    latency_max_ms: float = Field(0.0, ge=0, description="Uniform latency upper bound.")
    latency_p99_ms: float = Field(0.0, ge=0, description="Lognormal p99.")
    ttft_ms: float = Field(0.0, ge=0, description="Streaming time to first token.")
    inter_token_ms: float = Field(0.0, ge=0, description="Streaming pace between tokens.")
    fault_rates: dict[str, float] = Field(
        default_factory=dict, description='Fault rate per kind, JSON, e.g. {"overloaded": 0.3}.'
    )
    burst_every: int = Field(0, ge=0, description="Start a failure burst every N calls (0: never).")
    burst_length: int = Field(0, ge=0, description="Consecutive failures in a burst.")
    burst_kind: str = Field("overloaded", description="Fault kind of burst failures.")
    timeout_seconds: float = Field(30.0, gt=0, description="How long a `timeout` fault hangs.")
    rate_limit_requests: int = Field(
        0, ge=0, description="Mock refuses with 429 past this many requests per window (0: no limit)."
    )
    rate_limit_tokens: int = Field(
        0, ge=0, description="Mock refuses with 429 past this many tokens per window (0: no limit)."
    )
    rate_limit_window_seconds: float = Field(60.0, gt=0, description="Sliding window of the mock's rate limit.")


class _VendorKeyFallbacks(PydanticBaseSettingsSource):
    """`OPENAI_API_KEY` and friends, from the environment or `.env`, ranked below every `LLM_PROVIDER_` value."""

    def __init__(self, settings_cls: type[BaseSettings], *variables: Mapping[str, str | None]) -> None:
        super().__init__(settings_cls)
        self._variables = variables  # lower-cased names, as pydantic-settings reads them

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ answers for every vendor at once

    def _first(self, names: tuple[str, ...]) -> str | None:
        for name in names:
            for variables in self._variables:
                if value := variables.get(name.lower()):
                    return value
        return None

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for vendor, names in VENDOR_KEY_FALLBACKS.items():
            if value := self._first(names):
                found[vendor] = {"api_key": value}
        return found


class Settings(BaseSettings):
    """All configuration. Built once in the CLI and passed down; nothing reads the environment elsewhere."""

    # `mock` and the vendors are nested models that keep the flat variable names: the one `_` after the
    # field's own name separates it from the sub-field (LLM_PROVIDER_MOCK_LATENCY_MIN_MS -> mock.latency_min_ms).
    model_config = SettingsConfigDict(
        env_prefix="LLM_PROVIDER_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    # --- runtime -------------------------------------------------------------------------------------
    environment: Literal["development", "test", "production"] = Field(
        "development", description="Outside development, API keys and an admin key are required."
    )
    service_name: str = Field(
        "llm_provider_service",
        description="`source_service` in every event and `service` in every callback `error_detail`.",
    )
    host: str = Field("127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port `serve` listens on.")
    data_dir: Path = Field(Path(".llm-provider"), description="Local directory for embedded defaults.")
    log_level: str = Field("INFO", description="Log level of the JSON logs.")
    otlp_endpoint: str | None = Field(None, description="OTLP/HTTP endpoint; traces are exported when set.")

    # --- dependencies (unset = embedded alternative) -------------------------------------------------
    database_url: str | None = Field(None, description="SQLAlchemy async URL; unset = SQLite in data_dir.")
    redis_url: str | None = Field(None, description="Redis URL for the queue; unset = in-process queue.")
    redis_namespace: str = Field(
        "llmq", min_length=1, description="Prefix of every queue key; deployments sharing a Redis need different ones."
    )
    kafka_bootstrap_servers: str | None = Field(None, description="Kafka brokers; unset = JSONL event file.")
    kafka_session_timeout_ms: int = Field(
        6000,
        ge=1000,
        description="Session timeout of the callback consumer of `llm-provider perf` (the service only produces); "
        "Apache Kafka needs >= 6000, Tansu is quicker with 2000.",
    )
    kafka_client_id: str = Field("llm-provider-service", description="Kafka client.id.")
    kafka_delivery_timeout_seconds: float = Field(
        30.0, gt=0, description="Producer delivery.timeout.ms: a batch not acknowledged by then fails and is retried."
    )
    events_jsonl_path: Path | None = Field(None, description="Event file when embedded; default data_dir.")
    topic_request_started: str = Field("llm_provider.request_started.v1", description="Lifecycle topic.")
    topic_request_completed: str = Field("llm_provider.request_completed.v1", description="Lifecycle topic.")
    topic_request_failed: str = Field("llm_provider.request_failed.v1", description="Lifecycle topic.")
    topic_circuit_state_changed: str = Field("llm_provider.circuit_state_changed.v1", description="Lifecycle topic.")

    # --- HTTP API ------------------------------------------------------------------------------------
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted request body (413 above).")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Comma-separated bearer keys; when set, /api/v1 and /v1 need one."
    )
    admin_key: SecretStr | None = Field(None, description="Bearer key for admin routes.")
    allow_anonymous_jobs: bool = Field(
        False,
        description="Accept job submissions without a bearer key (private networks only; warned about at start).",
    )
    unsupported_params: Literal["drop", "reject"] = Field(
        "drop",
        description="A parameter the model cannot take: drop it (listed in the callback, or the gateway's "
        "x-llm-provider-dropped-params header) or reject (400).",
    )
    idempotency_from: Literal["correlation_id"] | None = Field(
        None, description="Use the request's correlation_id as Idempotency-Key when the client sends none."
    )
    max_wait_seconds: float = Field(60.0, ge=0, description="Upper bound of `?wait=N`.")
    max_in_flight_requests: int = Field(
        256, ge=0, description="Requests served at once before 503 overloaded + Retry-After (0: no limit)."
    )

    # --- jobs, queue and worker ----------------------------------------------------------------------
    default_provider: ProviderName = Field(ProviderName.MOCK, description="Provider when none is requested.")
    lease_seconds: float = Field(30.0, gt=0, description="Job lease; renewed while processing.")
    max_attempts: int = Field(5, ge=1, description="Provider attempts per job before it fails.")
    job_ttl_seconds: float = Field(14400.0, gt=0, description="Jobs older than this expire.")
    queue_capacity: int = Field(100_000, ge=1, description="Jobs the queue holds before 503 queue_full.")
    worker_concurrency: int = Field(64, ge=1, description="Jobs processed at once per worker process.")
    provider_concurrency: dict[str, int] = Field(
        default_factory=dict, description='Per-provider in-flight limits, JSON, e.g. {"openai": 16}.'
    )
    shutdown_grace_seconds: float = Field(30.0, ge=0, description="How long a draining worker waits.")
    reconcile_interval_seconds: float = Field(5.0, gt=0, description="How often lost jobs are re-enqueued.")
    outbox_poll_interval_seconds: float = Field(0.5, gt=0, description="Outbox relay poll interval.")
    outbox_retention_seconds: float = Field(
        86400.0, gt=0, description="Published outbox events are deleted after this long (the reconciler prunes)."
    )

    # --- resilience ----------------------------------------------------------------------------------
    retry_base_delay_seconds: float = Field(0.5, gt=0, description="First retry backoff (full jitter).")
    retry_max_delay_seconds: float = Field(60.0, gt=0, description="Largest retry backoff.")
    circuit_failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open a breaker.")
    circuit_reset_seconds: float = Field(30.0, gt=0, description="How long a breaker stays open.")
    circuit_half_open_probes: int = Field(1, ge=1, description="Calls let through when half-open.")

    # --- rate budgets ("queue instead of 429") --------------------------------------------------------
    budgets: dict[str, dict[Dimension, int]] = Field(
        default_factory=dict,
        description='Rate limits per window, JSON, by "provider" or "provider/model", e.g. '
        '{"openai/gpt-4.1": {"requests": 500, "tokens": 30000}}; dimensions requests, tokens, input_tokens, '
        "output_tokens.",
    )
    budget_learn: bool = Field(True, description="Learn limits from the vendors' rate-limit headers.")
    budget_window_seconds: float = Field(60.0, gt=0, description="The window limits count over (vendors: a minute).")
    budget_burst_fraction: float = Field(0.05, ge=0, lt=1, description="Share of a limit that may go at once.")
    budget_headroom_fraction: float = Field(
        0.02, ge=0, lt=1, description="Share of a limit kept unused (clock skew, network jitter)."
    )
    budget_horizon_seconds: float = Field(
        2.0, ge=0, description="A job whose budget frees up within this wait holds its slot; else it is requeued."
    )
    budget_max_defer_seconds: float = Field(30.0, gt=0, description="Longest a job is sent back to wait for budget.")
    gateway_budget_wait_seconds: float = Field(
        5.0, ge=0, description="Longest a gateway call waits for budget before 429 budget_exhausted."
    )

    # --- vendor batch mode (jobs with llm_config_overrides.batching_mode = provider_batch_api) -------------
    batch_window_seconds: float = Field(
        60.0, gt=0, description="Longest a batch-mode job waits to be collected before its batch is submitted."
    )
    batch_max_size: int = Field(
        1000, ge=1, description="Jobs per vendor batch: a full collection is submitted at once."
    )
    batch_poll_interval_seconds: float = Field(30.0, gt=0, description="How often open vendor batches are polled.")
    batch_job_lease_seconds: float = Field(
        90000.0, gt=0, description="Lease of a submitted batch's jobs (beyond the vendors' 24 h window)."
    )
    batch_submit_headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra headers sent with each vendor batch submission, JSON (e.g. the mock server's "
        "x-mock-batch-* scripts in tests).",
    )
    batch_fallback: Literal["immediate", "fail"] = Field(
        "immediate",
        description="A job its batch did not answer (lost, expired, cancelled, retryable error): retry it as an "
        "immediate job while attempts remain, or fail it.",
    )

    # --- vendors: LLM_PROVIDER_<VENDOR>_API_KEY and LLM_PROVIDER_<VENDOR>_BASE_URL --------------------
    provider_timeout_seconds: float = Field(120.0, gt=0, description="Total timeout of one vendor call.")
    provider_connect_timeout_seconds: float = Field(10.0, gt=0, description="Connect timeout to vendors.")
    openai: VendorSettings = Field(default_factory=VendorSettings, description="OpenAI.")
    anthropic: VendorSettings = Field(default_factory=VendorSettings, description="Anthropic.")
    gemini: VendorSettings = Field(default_factory=VendorSettings, description="Google Gemini.")
    openrouter: VendorSettings = Field(default_factory=VendorSettings, description="OpenRouter.")
    openai_compatible: VendorSettings = Field(
        default_factory=VendorSettings, description="Any OpenAI-compatible server."
    )
    model_aliases: dict[str, str] = Field(
        default_factory=dict,
        description='Model aliases for the gateway and for jobs\' provider_override, JSON, e.g. {"fast": '
        '"openai/gpt-5-mini"}.',
    )
    deployments: dict[str, DeploymentSettings] = Field(
        default_factory=dict,
        description='More deployments of a vendor under their own names, JSON, e.g. {"openai-eu": {"vendor": '
        '"openai", "api_key": "...", "base_url": "..."}}; models are "openai-eu/gpt-4.1", usable as route targets.',
    )
    model_routes: dict[str, ModelRouteSettings] = Field(
        default_factory=dict,
        description='Routes with fallbacks, for the gateway and for jobs\' provider_override, JSON, e.g. {"judge": '
        '{"targets": ["anthropic/claude-sonnet-4-5", '
        '"openai/gpt-4.1"], "strategy": "fallback"}}; strategy fallback, weighted (with "weights") or least_busy.',
    )

    # --- mock LLM: LLM_PROVIDER_MOCK_<FIELD> ---------------------------------------------------------
    mock: MockSettings = Field(default_factory=lambda: MockSettings(), description="The deterministic mock LLM.")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.environment == "development":
            return self
        if not self.api_keys and not self.allow_anonymous_jobs:
            raise ValueError("LLM_PROVIDER_API_KEYS is required outside development")
        secrets = [*self.api_keys, *([self.admin_key] if self.admin_key else [])]
        if any(secret.get_secret_value().lower() in PLACEHOLDER_SECRETS for secret in secrets):
            raise ValueError("placeholder secrets are refused outside development")
        if self.admin_key is None:
            raise ValueError("LLM_PROVIDER_ADMIN_KEY is required outside development")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        variables = [getattr(source, "env_vars", {}) for source in (env_settings, dotenv_settings)]
        fallbacks = _VendorKeyFallbacks(settings_cls, *variables)
        return init_settings, env_settings, dotenv_settings, fallbacks, file_secret_settings

    @property
    def vendors(self) -> dict[str, VendorSettings]:
        """Each vendor's settings under the provider name the registry uses (`gemini` serves `google`)."""
        return {provider: getattr(self, field) for field, provider in VENDOR_PROVIDER_NAMES.items()}

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'llm_provider.db'}"

    @property
    def resolved_events_path(self) -> Path:
        return self.events_jsonl_path or self.data_dir / "events.jsonl"
