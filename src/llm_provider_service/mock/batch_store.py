"""The mock server's batch jobs (OpenAI Batch and Anthropic Message Batches): state, timing and scripts.

A batch ends `delay_seconds` after it was created (looked at lazily: nothing runs in the background). When it
ends, each item is answered by the mock engine (keyed by its `custom_id`, so answers are deterministic and the
same as the immediate call would give), except where the batch's script says otherwise. Scripts come from
request headers on create, so tests can drive every path a vendor can take:

    x-mock-batch-delay-ms       time until the batch ends (default 0: at the first look)
    x-mock-batch-fail-every     every Nth item (1-based) fails with a server error
    x-mock-batch-drop-every     every Nth item is missing from the results (a vendor losing work)
    x-mock-batch-expire-after   the batch expires having finished only its first N items
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiohttp import web

from llm_provider_service.mock.engine import MockCall, MockEngine, MockResult

DELAY_HEADER = "x-mock-batch-delay-ms"
FAIL_EVERY_HEADER = "x-mock-batch-fail-every"
DROP_EVERY_HEADER = "x-mock-batch-drop-every"
EXPIRE_AFTER_HEADER = "x-mock-batch-expire-after"


class ItemOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    ERRORED = "errored"
    EXPIRED = "expired"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class BatchScript:
    """How a mock batch behaves (see the module docstring)."""

    delay_seconds: float = 0.0
    fail_every: int = 0
    drop_every: int = 0
    expire_after: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> BatchScript:
        def number(name: str) -> int | None:
            value = headers.get(name)
            return max(int(value), 0) if value not in (None, "") else None

        try:
            return cls(
                delay_seconds=(number(DELAY_HEADER) or 0) / 1000.0,
                fail_every=number(FAIL_EVERY_HEADER) or 0,
                drop_every=number(DROP_EVERY_HEADER) or 0,
                expire_after=number(EXPIRE_AFTER_HEADER),
            )
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"bad mock batch header: {exc}") from exc


@dataclass(frozen=True, slots=True)
class BatchItem:
    custom_id: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item's fate: its outcome and, when answered, the engine's result and the request body."""

    custom_id: str
    outcome: ItemOutcome
    body: Mapping[str, Any]
    result: MockResult | None = None


# Turns an item's request body into the (prompt, schema) the engine answers.
Reader = Callable[[Mapping[str, Any]], tuple[str, Mapping[str, Any] | None]]


@dataclass(slots=True)
class MockBatch:
    id: str
    vendor: str
    items: tuple[BatchItem, ...]
    script: BatchScript
    created_at: float
    endpoint: str = ""
    input_file_id: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    cancel_requested_at: float | None = None
    ended_at: float | None = None
    expired: bool = False
    results: list[ItemResult] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def counts(self) -> dict[ItemOutcome, int]:
        counted = dict.fromkeys(ItemOutcome, 0)
        for item in self.results:
            counted[item.outcome] += 1
        return counted


@dataclass(slots=True)
class StoredFile:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: float


class MockBatches:
    """Every batch and file the mock server holds (in memory, for the life of the server)."""

    def __init__(self, engine: MockEngine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self.clock = clock
        self.batches: dict[str, MockBatch] = {}
        self.files: dict[str, StoredFile] = {}
        self._sequence = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._sequence):06d}{uuid.uuid4().hex[:18]}"

    def add_file(self, content: bytes, *, filename: str, purpose: str) -> StoredFile:
        stored = StoredFile(self.new_id("file-"), filename, purpose, content, self.clock())
        self.files[stored.id] = stored
        return stored

    def create(self, vendor: str, items: Sequence[BatchItem], script: BatchScript, **fields: Any) -> MockBatch:
        prefix = "msgbatch_" if vendor == "anthropic" else "batch_"
        batch = MockBatch(self.new_id(prefix), vendor, tuple(items), script, self.clock(), **fields)
        self.batches[batch.id] = batch
        return batch

    def look(self, batch_id: str, reader: Reader) -> MockBatch:
        """The batch as of now: ended (and answered) once its delay has passed or it was cancelled."""
        batch = self.batches.get(batch_id)
        if batch is None:
            raise web.HTTPNotFound(text=f"no batch {batch_id}")
        now = self.clock()
        if not batch.ended and (
            batch.cancel_requested_at is not None or now >= batch.created_at + batch.script.delay_seconds
        ):
            self._end(batch, reader, now)
        return batch

    def cancel(self, batch_id: str, reader: Reader) -> MockBatch:
        batch = self.look(batch_id, reader)
        if not batch.ended:
            batch.cancel_requested_at = self.clock()
            self._end(batch, reader, batch.cancel_requested_at)
        return batch

    def _end(self, batch: MockBatch, reader: Reader, now: float) -> None:
        script = batch.script
        cancelled = batch.cancel_requested_at is not None
        batch.expired = not cancelled and script.expire_after is not None
        for index, item in enumerate(batch.items, 1):
            if cancelled:
                batch.results.append(ItemResult(item.custom_id, ItemOutcome.CANCELED, item.body))
            elif script.expire_after is not None and index > script.expire_after:
                batch.results.append(ItemResult(item.custom_id, ItemOutcome.EXPIRED, item.body))
            elif script.drop_every and index % script.drop_every == 0:
                continue  # lost: the vendor never reports this item
            elif script.fail_every and index % script.fail_every == 0:
                batch.results.append(ItemResult(item.custom_id, ItemOutcome.ERRORED, item.body))
            else:
                batch.results.append(self._answer(item, reader))
        batch.ended_at = now

    def _answer(self, item: BatchItem, reader: Reader) -> ItemResult:
        prompt, schema = reader(item.body)
        result = self._engine.respond(MockCall(prompt=prompt, key=item.custom_id, schema=schema), rate_limited=False)
        outcome = ItemOutcome.SUCCEEDED if result.has_answer else ItemOutcome.ERRORED
        return ItemResult(item.custom_id, outcome, item.body, result)
