"""Reconciliation audit (one callback, one store row, matching tokens per accepted job) and result polling."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from llm_loadtest.load.e2e import JobTracker, token_total

logger = logging.getLogger(__name__)
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
GetJson = Callable[[str], Awaitable[tuple[int, Any]]]
# Store reads during the audit; enough to overlap round trips without loading the service much.
AUDIT_CONCURRENCY = 32
EXAMPLES = 10


@dataclass(slots=True)
class Audit:
    accepted: int = 0
    with_one_callback: int = 0
    missing_callback: list[str] = field(default_factory=list)
    extra_callbacks: list[str] = field(default_factory=list)
    duplicate_events: int = 0
    store_checked: int = 0
    store_missing: list[str] = field(default_factory=list)
    not_terminal: list[str] = field(default_factory=list)
    token_mismatch: list[str] = field(default_factory=list)
    callback_tokens: int = 0
    store_tokens: int = 0
    foreign_callbacks: int = 0
    # Jobs whose callback had not arrived when the drain ended but did while the audit read the store: late, not
    # lost (under overload the outbox trails the store); a job still without one after the audit is missing.
    late_callbacks: int = 0
    via: str = "kafka"

    @property
    def reconciled(self) -> bool:
        return (
            self.accepted == self.with_one_callback
            and not (self.store_missing or self.not_terminal or self.token_mismatch or self.extra_callbacks)
            and self.duplicate_events == 0
            and self.store_checked == self.accepted
        )

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        for key in ("missing_callback", "extra_callbacks", "store_missing", "not_terminal", "token_mismatch"):
            values[f"{key}_count"] = len(values[key])
            values[key] = values[key][:EXAMPLES]
        values["reconciled"] = self.reconciled
        return values

    def scalars(self) -> dict[str, float]:
        """Numbers thresholds can gate on, e.g. `reconciliation: missing==0, reconciled==1`."""
        return {
            "accepted": float(self.accepted),
            "missing": float(len(self.missing_callback)),
            "duplicates": float(self.duplicate_events + len(self.extra_callbacks)),
            "store_missing": float(len(self.store_missing)),
            "not_terminal": float(len(self.not_terminal)),
            "token_mismatch": float(len(self.token_mismatch)),
            "late": float(self.late_callbacks),
            "reconciled": 1.0 if self.reconciled else 0.0,
        }


def _check_store(audit: Audit, queue_id: str, status: int, body: Any) -> tuple[bool, int | None]:
    """The store's side of one job: whether its row is terminal, and its token total (None when it has none)."""
    audit.store_checked += 1
    if status != 200 or not isinstance(body, Mapping):
        audit.store_missing.append(queue_id)
        return False, None
    if body.get("status") not in TERMINAL:
        audit.not_terminal.append(queue_id)
        return False, None
    result = body.get("result")
    stored = token_total(result) if isinstance(result, Mapping) else None
    audit.store_tokens += stored or 0
    return True, stored


async def audit_jobs(
    tracker: JobTracker, get_json: GetJson, *, via: str, max_seconds: float = 60.0, pending: set[str] | None = None
) -> Audit:
    """Every accepted job: exactly one callback, a terminal store row, token totals equal to the callback's.

    The store is read first and the callbacks counted after, while the consumer keeps running, so a callback that
    arrives during the audit counts (and, if it was `pending` when the drain ended, counts as late).
    """
    audit = Audit(accepted=len(tracker.jobs), via=via)
    gate = asyncio.Semaphore(AUDIT_CONCURRENCY)
    stored_tokens: dict[str, int | None] = {}

    async def check(queue_id: str) -> None:
        async with gate:
            try:
                status, body = await get_json(f"/api/v1/requests/{queue_id}")
            except (aiohttp.ClientError, TimeoutError, OSError):
                status, body = 0, None
        terminal, tokens = _check_store(audit, queue_id, status, body)
        if terminal:
            stored_tokens[queue_id] = tokens

    try:
        async with asyncio.timeout(max_seconds), asyncio.TaskGroup() as group:
            for queue_id in tracker.jobs:
                group.create_task(check(queue_id))
    except TimeoutError:
        logger.warning("reconciliation audit stopped after %.0f s; %d rows checked", max_seconds, audit.store_checked)
    _count_callbacks(audit, tracker, stored_tokens, pending or set())
    return audit


def _count_callbacks(
    audit: Audit, tracker: JobTracker, stored_tokens: dict[str, int | None], pending: set[str]
) -> None:
    """The callbacks' side, after the store's: one per job, and the same token total as its terminal row."""
    audit.duplicate_events = tracker.duplicate_events()
    audit.foreign_callbacks = tracker.foreign
    for queue_id, job in tracker.jobs.items():
        if not job.callbacks:
            audit.missing_callback.append(queue_id)
            continue
        if queue_id in pending:
            audit.late_callbacks += 1
        if len(job.callbacks) > 1:
            audit.extra_callbacks.append(queue_id)
            continue
        audit.with_one_callback += 1
        expected = token_total(job.callbacks[0])
        audit.callback_tokens += expected or 0
        if expected is not None and queue_id in stored_tokens and stored_tokens[queue_id] != expected:
            audit.token_mismatch.append(queue_id)


def _due(
    pending: list[str], schedule: dict[str, tuple[float, float]], first: float, cap: float, limit: int
) -> list[str]:
    """Jobs whose next poll is due (at most `limit`), rescheduling each with a doubled delay."""
    now = time.monotonic()
    due: list[str] = []
    for queue_id in pending:
        next_at, delay = schedule.setdefault(queue_id, (now + first, first))
        if next_at <= now and len(due) < limit:
            due.append(queue_id)
            doubled = min(delay * 2, cap)
            schedule[queue_id] = (now + doubled, doubled)
    return due


async def poll_results(
    tracker: JobTracker,
    get_json: GetJson,
    *,
    interval_seconds: float,
    max_seconds: float,
    keep_going: Callable[[], bool],
    max_delay_seconds: float = 1.0,
    max_polls_per_second: float = 100.0,
) -> None:
    """Without Kafka: poll GET /api/v1/requests/{id} until every job is terminal or time runs out.

    Each job is first polled `interval_seconds` after acceptance, then with doubling delays (capped at
    `max_delay_seconds`), oldest first, and at most `max_polls_per_second` in total: polling is load on
    the very service being measured and must not grow with its backlog. Resolution is therefore coarse;
    consume the callback topic for exact end-to-end numbers.
    """
    round_seconds = min(interval_seconds, 0.05)
    max_per_round = max(1, round(max_polls_per_second * round_seconds))
    gate = asyncio.Semaphore(AUDIT_CONCURRENCY)
    schedule: dict[str, tuple[float, float]] = {}  # queue_id -> (next poll, current delay), monotonic seconds

    async def poll(queue_id: str) -> None:
        async with gate:
            try:
                status, body = await get_json(f"/api/v1/requests/{queue_id}")
            except (aiohttp.ClientError, TimeoutError, OSError):
                return
        if status == 200 and isinstance(body, Mapping) and body.get("status") in TERMINAL:
            result = body.get("result")
            tracker.polled(
                queue_id, result if isinstance(result, Mapping) else {}, time.monotonic_ns(), status=body["status"]
            )
            schedule.pop(queue_id, None)

    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        pending = tracker.pending()
        if not pending and not keep_going():
            return
        due = _due(pending, schedule, interval_seconds, max_delay_seconds, max_per_round)
        if due:
            async with asyncio.TaskGroup() as group:
                for queue_id in due:
                    group.create_task(poll(queue_id))
        await asyncio.sleep(round_seconds)
