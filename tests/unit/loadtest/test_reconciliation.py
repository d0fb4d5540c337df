"""Callback matching and the reconciliation audit, with a hand-written fake of the status endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from llm_loadtest.load.e2e import ACCEPT_TO_CALLBACK, PROCESSING, QUEUE_WAIT, REQUESTED_TO_COMPLETED, JobTracker
from llm_loadtest.load.reconcile import audit_jobs
from llm_loadtest.metrics.histograms import summarize
from llm_loadtest.metrics.measurements import Measurements

MS = 1_000_000


def callback(queue_id: str, event_id: str, *, tokens: int = 30, run: str = "run-1") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "LLMComparisonResultV1",
        "data": {
            "request_id": queue_id,
            "winner": "Essay A",
            "queue_wait_ms": 4,
            "requested_at": "2026-01-01T00:00:00Z",
            "completed_at": "2026-01-01T00:00:00.016Z",
            "response_time_ms": 12,
            "token_usage": {"prompt_tokens": tokens - 10, "completion_tokens": 10, "total_tokens": tokens},
            "request_metadata": {"loadtest_run": run},
        },
    }


class FakeStatusEndpoint:
    """GET /api/v1/requests/{id} over an in-memory dict of stored rows."""

    def __init__(self, rows: dict[str, dict[str, Any]]) -> None:
        self.rows = rows
        self.calls: list[str] = []

    async def __call__(self, path: str) -> tuple[int, Any]:
        self.calls.append(path)
        queue_id = path.rsplit("/", 1)[-1]
        row = self.rows.get(queue_id)
        return (200, row) if row is not None else (404, {"code": "not_found"})


def tracker_with(*queue_ids: str) -> JobTracker:
    tracker = JobTracker(Measurements(scenario="t", window_seconds=1.0), run_id="run-1")
    for index, queue_id in enumerate(queue_ids):
        tracker.accepted(queue_id, workload="quick", phase="steady", intended_ns=index * MS, done_ns=index * MS + MS)
    return tracker


def stored(queue_id: str, *, tokens: int = 30, status: str = "completed") -> dict[str, Any]:
    return {"queue_id": queue_id, "status": status, "result": callback(queue_id, "x", tokens=tokens)["data"]}


async def test_clean_run_reconciles_and_splits_latency() -> None:
    tracker = tracker_with("a", "b")
    tracker.callback(callback("a", "e1"), received_ns=11 * MS)
    tracker.callback(callback("b", "e2"), received_ns=22 * MS)
    audit = await audit_jobs(tracker, FakeStatusEndpoint({"a": stored("a"), "b": stored("b")}), via="kafka")
    assert audit.reconciled
    assert audit.callback_tokens == audit.store_tokens == 60
    store = tracker.measurements
    assert summarize(store.select(ACCEPT_TO_CALLBACK, {})).count == 2
    assert summarize(store.select(QUEUE_WAIT, {})).p50_ms == pytest.approx(4.0, rel=1e-3)
    assert summarize(store.select(PROCESSING, {})).p50_ms == pytest.approx(12.0, rel=1e-3)
    # The service's own timestamps give accept -> completion without any polling resolution.
    assert summarize(store.select(REQUESTED_TO_COMPLETED, {})).p50_ms == pytest.approx(16.0, rel=1e-3)


async def test_duplicates_missing_callbacks_and_token_mismatches_are_reported() -> None:
    tracker = tracker_with("a", "b", "c", "d")
    tracker.callback(callback("a", "e1"), received_ns=5 * MS)
    tracker.callback(callback("a", "e1"), received_ns=6 * MS)  # redelivery of the same event
    tracker.callback(callback("b", "e2"), received_ns=7 * MS)
    tracker.callback(callback("b", "e3"), received_ns=8 * MS)  # a second, different callback for one job
    tracker.callback(callback("d", "e4", tokens=99), received_ns=9 * MS)
    tracker.callback(callback("zzz", "e5", run="other-run"), received_ns=9 * MS)
    rows = {"a": stored("a"), "b": stored("b"), "c": stored("c", status="processing"), "d": stored("d", tokens=30)}
    audit = await audit_jobs(tracker, FakeStatusEndpoint(rows), via="kafka")
    assert not audit.reconciled
    assert audit.duplicate_events == 1
    assert audit.extra_callbacks == ["b"]
    assert audit.missing_callback == ["c"]
    assert audit.not_terminal == ["c"]
    assert audit.token_mismatch == ["d"]
    assert audit.foreign_callbacks == 1
    assert audit.scalars()["reconciled"] == 0.0


async def test_missing_store_row_fails_the_audit() -> None:
    tracker = tracker_with("a")
    tracker.callback(callback("a", "e1"), received_ns=5 * MS)
    audit = await audit_jobs(tracker, FakeStatusEndpoint({}), via="kafka")
    assert audit.store_missing == ["a"]
    assert not audit.reconciled


async def test_polled_result_stands_in_for_the_callback_without_kafka() -> None:
    tracker = tracker_with("a")
    tracker.polled("a", stored("a")["result"], received_ns=50 * MS)
    assert tracker.outstanding == 0
    audit = await audit_jobs(tracker, FakeStatusEndpoint({"a": stored("a")}), via="polling")
    assert audit.reconciled


def test_accept_latency_is_found_by_slo_queries() -> None:
    tracker = tracker_with("a", "b", "c")
    histogram = tracker.measurements.select("accept_latency", {"outcome": "ok", "phase": "steady"})
    assert histogram.get_total_count() == 3


def test_completed_by_counts_answers_that_arrived_in_time_outside_the_warmup() -> None:
    tracker = tracker_with("a", "b", "c")
    tracker.accepted("w", workload="quick", phase="warmup", intended_ns=0, done_ns=MS)
    tracker.callback(callback("a", "e1"), received_ns=10 * MS)
    tracker.callback(callback("b", "e2"), received_ns=50 * MS)
    tracker.callback(callback("w", "e3"), received_ns=5 * MS)
    # "c" never answered: a saturated service accepted it and is still working.
    assert tracker.completed_by(20 * MS) == 1
    assert tracker.completed_by(60 * MS) == 2


async def test_a_callback_arriving_during_the_audit_counts_as_late_not_missing() -> None:
    tracker = tracker_with("a", "b", "c")
    tracker.callback(callback("a", "e1"), received_ns=5 * MS)
    rows = {"a": stored("a"), "b": stored("b"), "c": stored("c")}
    endpoint = FakeStatusEndpoint(rows)

    async def store_then_late_callback(path: str) -> tuple[int, Any]:
        answer = await endpoint(path)
        if path.endswith("/b"):  # the outbox trailed the store: b's callback comes in while the audit reads rows
            tracker.callback(callback("b", "e2"), received_ns=9 * MS)
        return answer

    audit = await audit_jobs(tracker, store_then_late_callback, via="kafka", pending={"b", "c"})
    assert audit.late_callbacks == 1
    assert audit.missing_callback == ["c"]  # still nothing after the audit: missing
    assert audit.with_one_callback == 2
    assert audit.scalars()["late"] == 1.0
    assert not audit.reconciled
