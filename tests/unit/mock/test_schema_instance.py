"""Deterministic instances of generic JSON schemas are valid against them."""

from __future__ import annotations

from typing import Any

import orjson

from llm_provider_service.mock import MockCall, MockControl, MockEngine, MockProfile
from llm_provider_service.mock.answers import _JUSTIFICATIONS
from llm_provider_service.mock.schema_instance import schema_instance
from tests.unit.mock.schema_check import schema_errors

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 3, "maxLength": 12},
        "kind": {"type": "string", "enum": ["news", "essay", "poem"]},
        "score": {"type": "number", "minimum": 0.5, "maximum": 0.75},
        "count": {"type": "integer", "minimum": 3, "maximum": 5},
        "strict": {"type": "integer", "exclusiveMinimum": 10, "exclusiveMaximum": 12},
        "flag": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4},
        "nested": {
            "type": "object",
            "properties": {"when": {"type": "string", "format": "date-time"}, "maybe": {"type": ["string", "null"]}},
            "required": ["when", "maybe"],
            "additionalProperties": False,
        },
        "choice": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "ref": {"$ref": "#/$defs/point"},
    },
    "required": ["title", "kind", "score", "count", "strict", "flag", "tags", "nested", "choice", "ref"],
    "additionalProperties": False,
    "$defs": {
        "point": {
            "type": "object",
            "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
            "required": ["x", "y"],
        }
    },
}

GEMINI_SCHEMA: dict[str, Any] = {
    "type": "OBJECT",
    "properties": {
        "name": {"type": "STRING"},
        "rating": {"type": "INTEGER", "minimum": 1, "maximum": 3},
        "notes": {"type": "ARRAY", "items": {"type": "STRING"}},
        "note": {"type": "STRING", "nullable": True},
    },
    "required": ["name", "rating"],
}


def test_instances_are_valid_for_many_draws() -> None:
    engine = MockEngine(MockProfile())
    for index in range(300):
        key = f"p{index}"

        def draw(purpose: str, key: str = key) -> float:
            return engine.draw(key, 0, purpose)

        instance = schema_instance(SCHEMA, draw)
        assert schema_errors(instance, SCHEMA) == [], instance


def test_gemini_upper_case_types_are_understood() -> None:
    instance = schema_instance(GEMINI_SCHEMA, lambda purpose: 0.5)

    assert schema_errors(instance, {**GEMINI_SCHEMA, "type": "object"}) == []
    assert isinstance(instance["rating"], int)


def test_the_engine_answers_a_generic_schema_with_a_valid_instance() -> None:
    result = MockEngine(MockProfile()).respond(MockCall(prompt="describe", schema=SCHEMA))

    assert schema_errors(orjson.loads(result.text), SCHEMA) == []
    assert result.structured == orjson.loads(result.text)


def test_invalid_output_for_a_generic_schema_violates_it() -> None:
    control = MockControl(scenario="invalid_output")

    result = MockEngine(MockProfile()).respond(MockCall(prompt="describe", schema=SCHEMA, control=control))

    assert schema_errors(orjson.loads(result.text), SCHEMA) != []


def test_canned_justifications_fit_the_limit() -> None:
    assert all(len(text.format(winner="Essay B")) <= 500 for text in _JUSTIFICATIONS)
