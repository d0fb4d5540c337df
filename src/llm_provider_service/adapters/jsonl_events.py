"""An event publisher that appends each event as one JSON line to a local file (the embedded default)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import orjson

from llm_provider_service.domain.errors import PublishError
from llm_provider_service.domain.models import OutboxEvent


class JsonlEventPublisher:
    """Writes `{"topic", "key", "headers", "value"}` lines, flushed per batch, so `tail -f` shows callbacks.

    Writes run in a thread so a slow disk never blocks the event loop.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> JsonlEventPublisher:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._file = await asyncio.to_thread(self._path.open, "ab")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            await asyncio.to_thread(self._file.close)
            self._file = None

    async def publish(self, events: Sequence[OutboxEvent]) -> None:
        if self._file is None:
            raise PublishError("the JSONL publisher is not open")
        # The value is JSON already: embedded as it is, not parsed and serialised again.
        lines = b"".join(
            orjson.dumps(
                {
                    "topic": event.topic,
                    "key": event.key,
                    "headers": dict(event.headers),
                    "value": orjson.Fragment(event.value),
                },
                option=orjson.OPT_APPEND_NEWLINE,
            )
            for event in events
        )
        async with self._lock:
            try:
                await asyncio.to_thread(self._write, lines)
            except OSError as exc:
                raise PublishError(f"could not append events to {self._path}") from exc

    def _write(self, lines: bytes) -> None:
        assert self._file is not None  # noqa: S101 - checked by publish before the thread starts
        self._file.write(lines)
        self._file.flush()
