"""Usage accounting records for calls made through the OpenAI-compatible gateway and by jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

UsageGrouping = Literal["provider", "model", "day"]


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One provider call's tokens and cost, written off the hot path."""

    id: str
    source: Literal["job", "gateway"]
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: int
    outcome: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UsageSummaryRow:
    """Totals for one group (a provider, a model or a UTC day)."""

    group: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
