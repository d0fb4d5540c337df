"""docs/configuration.md lists every setting with its environment variable and default, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from llm_provider_service.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `(LLM_PROVIDER_[A-Z0-9_]+)` \| (.*?) \| (.*?) \|$")


def variables() -> dict[str, FieldInfo]:
    """Every environment variable and its field; a nested model (`mock`, each vendor) adds one per sub-field."""
    found: dict[str, FieldInfo] = {}
    for name, field in Settings.model_fields.items():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            for sub_name, sub_field in nested.model_fields.items():
                found[f"LLM_PROVIDER_{name.upper()}_{sub_name.upper()}"] = sub_field
        else:
            found[f"LLM_PROVIDER_{name.upper()}"] = field
    return found


def documented_default(field: FieldInfo) -> str:
    default = field.get_default(call_default_factory=True)
    if default is None:
        return "unset"
    if isinstance(default, SecretStr):
        return "unset"
    if isinstance(default, list | dict) and not default:
        return "empty"
    if isinstance(default, bool):
        return str(default).lower()
    return f"`{default}`"


def documented_rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3))
    return rows


def test_every_setting_is_documented_with_its_default() -> None:
    rows = documented_rows()
    expected = variables()
    assert set(rows) == set(expected), "docs/configuration.md and Settings disagree"
    for env_name, field in expected.items():
        default, meaning = rows[env_name]
        assert default == documented_default(field), env_name
        assert meaning.strip(), f"{env_name} has no meaning"


@pytest.mark.parametrize(
    "alias", ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENROUTER_API_KEY"]
)
def test_vendor_key_fallbacks_are_documented(alias: str) -> None:
    assert f"`{alias}`" in DOC.read_text()


@pytest.mark.parametrize("name", ["LLM_PROVIDER_MOCK_LATENCY_MIN_MS", "LLM_PROVIDER_OPENAI_COMPATIBLE_BASE_URL"])
def test_documented_nested_variables_are_read(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "7")
    settings = Settings(_env_file=None)
    assert (settings.mock.latency_min_ms, settings.openai_compatible.base_url) != (0.0, None)
    assert settings.openai.base_url is None  # the longer vendor name is not mistaken for OPENAI_*
