"""docs/configuration.md lists every setting with its environment variable and default, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from llm_provider_service.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `(LLM_PROVIDER_[A-Z0-9_]+)` \| (.*?) \| (.*?) \|$")


def documented_default(settings_field: str) -> str:
    field = Settings.model_fields[settings_field]
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
    expected = {f"LLM_PROVIDER_{name.upper()}": name for name in Settings.model_fields}
    assert set(rows) == set(expected), "docs/configuration.md and Settings disagree"
    for env_name, field_name in expected.items():
        default, meaning = rows[env_name]
        assert default == documented_default(field_name), env_name
        assert meaning.strip(), f"{env_name} has no meaning"


@pytest.mark.parametrize(
    "alias", ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENROUTER_API_KEY"]
)
def test_vendor_key_fallbacks_are_documented(alias: str) -> None:
    assert f"`{alias}`" in DOC.read_text()
