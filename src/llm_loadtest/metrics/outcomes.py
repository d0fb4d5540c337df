"""How one request ended: success or one of the error classes every report and threshold uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """Request outcome; everything but OK is a failure and counts against the success rate."""

    OK = "ok"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    RATE_LIMITED = "429"
    CLIENT_ERROR = "4xx"
    SERVER_ERROR = "5xx"
    DROPPED = "dropped"
    INVALID = "invalid"


ERROR_KINDS: tuple[Outcome, ...] = tuple(kind for kind in Outcome if kind is not Outcome.OK)


def outcome_for_status(status: int) -> Outcome:
    """Classify an HTTP status; 1xx/3xx are not answers a client of this API should ever get."""
    if 200 <= status < 300:
        return Outcome.OK
    if status == 429:
        return Outcome.RATE_LIMITED
    if 400 <= status < 500:
        return Outcome.CLIENT_ERROR
    if status >= 500:
        return Outcome.SERVER_ERROR
    return Outcome.INVALID


@dataclass(frozen=True, slots=True)
class Response:
    """What a workload's send function reports back to the runner."""

    outcome: Outcome
    status: int | None = None
    # Workload-specific facts (e.g. queue_id of an accepted job, x-mock-intrinsic-ms); kept small.
    facts: dict[str, Any] = field(default_factory=dict)
