"""W3C trace context: the trace id of a `traceparent` header."""

from __future__ import annotations

TRACEPARENT_PARTS = 4
TRACE_ID_HEX_CHARS = 32


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C `traceparent` header, so the job's events join the caller's trace."""
    if traceparent is None:
        return None
    parts = traceparent.strip().split("-")
    if len(parts) != TRACEPARENT_PARTS or len(parts[1]) != TRACE_ID_HEX_CHARS or parts[1] == "0" * TRACE_ID_HEX_CHARS:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1].lower()
