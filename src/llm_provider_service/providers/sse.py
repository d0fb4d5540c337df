"""A small server-sent events (text/event-stream) parser for vendor streams."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event: its `event` name ("message" when unnamed) and its joined `data` lines."""

    event: str
    data: str


async def iter_sse(lines: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Parse a byte stream of lines into events, per the WHATWG event-stream rules that vendors use.

    Comments (":" lines, e.g. keep-alives) are skipped; an event is dispatched at a blank line and only
    if it has data. A final event without a trailing blank line is still dispatched.
    """
    event, data = "", list[str]()
    async for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield ServerSentEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
    if data:
        yield ServerSentEvent(event or "message", "\n".join(data))
