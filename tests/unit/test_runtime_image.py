"""The runtime image installs only runtime dependencies, at the same pins as the development lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ \\]+)", re.MULTILINE)


def _pins(name: str) -> dict[str, str]:
    return {package.lower(): version for package, version in PIN.findall((ROOT / name).read_text(encoding="utf-8"))}


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_runtime_lock_has_no_dev_tools_and_the_same_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime, full = _pins("requirements-runtime.lock"), _pins("requirements.lock")
    dev = {_requirement_name(requirement) for requirement in project["dependency-groups"]["dev"]}
    declared = {_requirement_name(requirement) for requirement in project["project"]["dependencies"]}
    assert declared <= set(runtime)
    leaked = (dev - declared) & set(runtime)  # a dev tool that is also a runtime dependency (httpx) may stay
    assert not leaked, f"dev tools in the runtime lock: {sorted(leaked)}"
    assert all(full[package] == version for package, version in runtime.items())


def test_the_image_installs_the_runtime_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "requirements-runtime.lock" in dockerfile
    assert "-r requirements.lock" not in dockerfile
