"""A mock server on a free loopback port, in the test's event loop, and the shared answer models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.mock.server import serve_mock


class Verdict(BaseModel):
    """The comparison answer as a caller's pydantic model (the SDKs derive the schema from it)."""

    winner: Literal["Essay A", "Essay B"]
    justification: str = Field(max_length=500)
    confidence: float = Field(ge=1, le=5)


class Ingredient(BaseModel):
    name: str
    grams: int = Field(ge=1, le=500)


class Recipe(BaseModel):
    """A generic structured answer: nested objects, arrays, enums, bounded numbers."""

    title: str
    course: Literal["starter", "main", "dessert"]
    vegetarian: bool
    servings: int = Field(ge=1, le=8)
    ingredients: list[Ingredient]


@pytest.fixture
async def mock_base_url() -> AsyncIterator[str]:
    profile = MockProfile(seed=123, ttft_ms=1, inter_token_ms=0.1, timeout_seconds=1)
    async with serve_mock(MockEngine(profile)) as base_url:
        yield base_url
