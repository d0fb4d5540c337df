"""A small JSON-schema checker for the subset the mock generates (the project has no jsonschema dependency)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def schema_errors(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> list[str]:
    """Reasons `value` violates `schema`; empty when valid."""
    root = root if root is not None else schema
    if isinstance(ref := schema.get("$ref"), str):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return schema_errors(value, target, root)
    if "anyOf" in schema:
        branches = [schema_errors(value, branch, root) for branch in schema["anyOf"]]
        return [] if any(not errors for errors in branches) else ["no anyOf branch matches"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{value!r} not in enum"]
    if value is None and schema.get("nullable"):
        return []
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    kinds = [str(kind).lower() for kind in kinds]
    if kinds and not any(_is(value, kind) for kind in kinds):
        return [f"{value!r} is not of type {kinds}"]
    return _object_errors(value, schema, root) + _scalar_errors(value, schema) + _array_errors(value, schema, root)


def _is(value: Any, kind: str) -> bool:
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return bool(checks[kind](value))


def _object_errors(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[str]:
    if not isinstance(value, dict):
        return []
    properties = schema.get("properties", {})
    errors = [f"missing {name}" for name in schema.get("required", []) if name not in value]
    if schema.get("additionalProperties") is False:
        errors += [f"unexpected {name}" for name in value if name not in properties]
    for name, sub in properties.items():
        if name in value:
            errors += schema_errors(value[name], sub, root)
    return errors


def _scalar_errors(value: Any, schema: Mapping[str, Any]) -> list[str]:
    errors = []
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{value!r} has the wrong length")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{value} < minimum")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{value} > maximum")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{value} <= exclusiveMinimum")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            errors.append(f"{value} >= exclusiveMaximum")
    return errors


def _array_errors(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[str]:
    if not isinstance(value, list):
        return []
    errors = []
    if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
        errors.append("array has the wrong length")
    if isinstance(items := schema.get("items"), Mapping):
        for item in value:
            errors += schema_errors(item, items, root)
    return errors
