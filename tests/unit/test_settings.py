"""Settings: environment parsing, vendor key fallbacks, and refusing unsafe values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from llm_provider_service.config import Settings
from llm_provider_service.resources import mock_profile


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLM_PROVIDER_DATABASE_URL", "LLM_PROVIDER_REDIS_URL", "LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.redis_url is None
    assert settings.default_provider == "mock"
    assert (settings.lease_seconds, settings.max_attempts, settings.job_ttl_seconds) == (30.0, 5, 14400.0)
    assert settings.max_body_bytes == 1_048_576


def test_lists_mappings_and_vendor_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER_API_KEYS", "k1, k2 ,")
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key")
    monkeypatch.setenv("LLM_PROVIDER_PROVIDER_CONCURRENCY", '{"openai": 8}')
    settings = Settings(_env_file=None)
    assert [key.get_secret_value() for key in settings.api_keys] == ["k1", "k2"]
    assert settings.gemini.api_key is not None
    assert settings.gemini.api_key.get_secret_value() == "g-key"
    assert settings.provider_concurrency == {"openai": 8}
    assert "g-key" not in repr(settings)


def test_production_refuses_missing_or_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="API_KEYS"):
        Settings(_env_file=None)
    monkeypatch.setenv("LLM_PROVIDER_API_KEYS", "changeme")
    monkeypatch.setenv("LLM_PROVIDER_ADMIN_KEY", "a-real-admin-key")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None)
    monkeypatch.setenv("LLM_PROVIDER_API_KEYS", "a-real-client-key")
    assert Settings(_env_file=None).environment == "production"


def test_prefixed_vendor_key_wins_and_fallbacks_are_read_from_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LLM_PROVIDER_ANTHROPIC_API_KEY", "prefixed")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "vendor-tool-key")
    monkeypatch.setenv("LLM_PROVIDER_ANTHROPIC_BASE_URL", "http://127.0.0.1:9/anthropic")
    dotenv = tmp_path / ".env"
    dotenv.write_text("OPENROUTER_API_KEY=from-dotenv\nLLM_PROVIDER_MOCK_SEED=9\n")

    settings = Settings(_env_file=dotenv)

    assert settings.anthropic.api_key is not None
    assert settings.anthropic.api_key.get_secret_value() == "prefixed"
    assert settings.anthropic.base_url == "http://127.0.0.1:9/anthropic"
    assert settings.openrouter.api_key is not None
    assert settings.openrouter.api_key.get_secret_value() == "from-dotenv"
    assert settings.mock.seed == 9
    assert set(settings.vendors) == {"openai", "anthropic", "google", "openrouter", "openai_compatible"}


def test_the_mock_settings_are_the_mock_profile() -> None:
    profile = mock_profile(Settings(_env_file=None, mock={"seed": 5, "latency_model": "fixed", "latency_ms": 3}))
    assert (profile.seed, profile.latency_model, profile.latency_ms) == (5, "fixed", 3.0)


def test_the_compatibility_settings_and_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings(_env_file=None)
    assert (defaults.unsupported_params, defaults.allow_anonymous_jobs, defaults.idempotency_from) == (
        "drop",
        False,
        None,
    )
    monkeypatch.setenv("LLM_PROVIDER_UNSUPPORTED_PARAMS", "reject")
    monkeypatch.setenv("LLM_PROVIDER_IDEMPOTENCY_FROM", "correlation_id")
    chosen = Settings(_env_file=None)
    assert (chosen.unsupported_params, chosen.idempotency_from) == ("reject", "correlation_id")
    monkeypatch.setenv("LLM_PROVIDER_UNSUPPORTED_PARAMS", "ignore")
    with pytest.raises(ValidationError, match="unsupported_params"):
        Settings(_env_file=None)


def test_anonymous_jobs_let_production_run_without_client_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER_ENVIRONMENT", "production")
    monkeypatch.setenv("LLM_PROVIDER_ADMIN_KEY", "a-real-admin-key")
    with pytest.raises(ValidationError, match="API_KEYS"):
        Settings(_env_file=None)
    monkeypatch.setenv("LLM_PROVIDER_ALLOW_ANONYMOUS_JOBS", "true")
    assert Settings(_env_file=None).allow_anonymous_jobs
    monkeypatch.delenv("LLM_PROVIDER_ADMIN_KEY")
    with pytest.raises(ValidationError, match="ADMIN_KEY"):
        Settings(_env_file=None)  # admin routes still need their key
