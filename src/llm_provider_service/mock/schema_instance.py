"""Deterministic instances of a JSON schema, for answers to structured-output requests.

Covers what vendors accept for structured output: object/properties/required, string (enum, const,
minLength/maxLength, a few formats), number and integer (minimum/maximum, exclusive bounds, multipleOf
for integers), boolean, null, array (items, minItems/maxItems), anyOf/oneOf/allOf (first branch),
`$ref` into `$defs`/`definitions`, type lists, and Gemini's upper-case type names and `nullable`.
Every optional property is filled, so strict schemas (all properties required) are satisfied too.
Values come from `draw(path) -> [0, 1)`, so an instance depends only on the schema and the draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

Draw = Callable[[str], float]

_MAX_DEPTH = 12
_WORDS = ("alpha", "beta", "gamma", "delta", "sigma", "omega", "lumen", "terra", "nova", "ridge")
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "mock@example.com",
    "uri": "https://example.com/mock",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def schema_instance(schema: Mapping[str, Any], draw: Draw) -> Any:
    """A value valid against `schema`; the same schema and draw give the same value."""
    return _Builder(schema, draw).build(schema, "$", 0)


class _Builder:
    def __init__(self, root: Mapping[str, Any], draw: Draw) -> None:
        self._root = root
        self._draw = draw

    def build(self, schema: Mapping[str, Any], path: str, depth: int) -> Any:
        schema = self._resolve(schema)
        if depth > _MAX_DEPTH:
            return None
        if "const" in schema:
            return schema["const"]
        if enum := schema.get("enum"):
            return enum[self._index(path, len(enum))]
        for combinator in ("anyOf", "oneOf", "allOf"):
            if branches := schema.get(combinator):
                # The first branch is valid for anyOf/oneOf; for allOf it is the usual lone wrapper.
                return self.build(branches[0], path, depth + 1)
        return self._by_type(schema, _type_of(schema), path, depth)

    def _by_type(self, schema: Mapping[str, Any], kind: str, path: str, depth: int) -> Any:
        if kind == "object":
            properties: Mapping[str, Any] = schema.get("properties") or {}
            return {name: self.build(sub, f"{path}.{name}", depth + 1) for name, sub in properties.items()}
        if kind == "array":
            return self._array(schema, path, depth)
        if kind == "string":
            return self._string(schema, path)
        if kind == "integer":
            return self._integer(schema, path)
        if kind == "number":
            return self._number(schema, path)
        if kind == "boolean":
            return self._draw(path) < 0.5
        return None

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        for _ in range(_MAX_DEPTH):
            ref = schema.get("$ref")
            if not isinstance(ref, str) or not ref.startswith("#/"):
                return schema
            target: Any = self._root
            for part in ref[2:].split("/"):
                target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
            schema = target
        return schema

    def _index(self, path: str, size: int) -> int:
        return min(int(self._draw(path) * size), size - 1)

    def _array(self, schema: Mapping[str, Any], path: str, depth: int) -> list[Any]:
        items = schema.get("items")
        low = int(schema.get("minItems", 1 if items else 0))
        high = int(schema.get("maxItems", max(low, 3)))
        count = low + self._index(f"{path}#len", high - low + 1) if high >= low else low
        if not isinstance(items, Mapping):
            return [None] * count if count else []
        return [self.build(items, f"{path}[{i}]", depth + 1) for i in range(count)]

    def _string(self, schema: Mapping[str, Any], path: str) -> str:
        if (fmt := schema.get("format")) in _FORMATS:
            return _FORMATS[fmt]
        words = [_WORDS[self._index(f"{path}#{i}", len(_WORDS))] for i in range(3)]
        text = "mock " + " ".join(words)
        min_length = int(schema.get("minLength", 0))
        max_length = schema.get("maxLength")
        if len(text) < min_length:
            text += "x" * (min_length - len(text))
        if max_length is not None:
            text = text[: int(max_length)]
        return text

    def _integer(self, schema: Mapping[str, Any], path: str) -> int:
        low, high = _bounds(schema, default_low=0, default_high=100)
        low_int = math.ceil(low) + (1 if "exclusiveMinimum" in schema and math.ceil(low) == low else 0)
        high_int = math.floor(high) - (1 if "exclusiveMaximum" in schema and math.floor(high) == high else 0)
        high_int = max(high_int, low_int)
        value = low_int + self._index(path, high_int - low_int + 1)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0 and value % step:
            up = value + step - value % step
            value = up if up <= high_int else value - value % step
        return value

    def _number(self, schema: Mapping[str, Any], path: str) -> float:
        low, high = _bounds(schema, default_low=0.0, default_high=100.0)
        # Keep clear of exclusive bounds; round to keep the JSON short and stable.
        span = high - low
        value = low + span * (0.05 + 0.9 * self._draw(path))
        rounded = round(value, 2)
        return rounded if low < rounded < high or span == 0 else value


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        concrete = [k for k in kind if str(k).lower() != "null"]
        kind = concrete[0] if concrete else "null"
    if isinstance(kind, str):
        return kind.lower()
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _bounds(schema: Mapping[str, Any], *, default_low: float, default_high: float) -> tuple[float, float]:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    low_value = float(low) if isinstance(low, int | float) else None
    high_value = float(high) if isinstance(high, int | float) else None
    span = default_high - default_low
    if low_value is not None and high_value is not None:
        return low_value, high_value
    if low_value is not None:
        return low_value, max(default_high, low_value + span)
    if high_value is not None:
        return min(default_low, high_value - span), high_value
    return default_low, default_high
