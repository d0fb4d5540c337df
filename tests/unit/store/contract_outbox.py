"""Outbox and usage behaviour every SQL store must show; run on SQLite and PostgreSQL by subclassing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from llm_provider_service.domain.models import OutboxEvent
from llm_provider_service.domain.usage import UsageRecord, UsageSummaryRow
from llm_provider_service.ports import Store
from tests.unit.store.contract import LEASE, T0, event, make_job

LOCK_SECONDS = 30.0


async def record_events(store: Store, count: int) -> list[OutboxEvent]:
    """`count` events, written the way the service writes them (with a state change)."""
    written: list[OutboxEvent] = []
    for _ in range(count):
        job = await store.add(make_job())
        events = [event(job.id)]
        await store.begin_attempt(job.id, owner="w", now=T0, lease_expires_at=T0 + LEASE, events=events)
        written.extend(events)
    return written


def usage(record_id: str, provider: str, model: str, day: int, tokens: int, cost_usd: float) -> UsageRecord:
    return UsageRecord(
        id=record_id,
        source="gateway",
        provider=provider,
        model=model,
        prompt_tokens=tokens,
        completion_tokens=1,
        cost_usd=cost_usd,
        latency_ms=10,
        outcome="ok",
        created_at=T0 + timedelta(days=day, hours=11),  # 23:00 UTC: the day boundary must be UTC's
    )


class OutboxUsageContract:
    """Subclasses provide an async `store` fixture yielding an open, empty store (SQL, or the in-memory fake)."""

    async def test_claim_returns_events_in_order_and_hides_them(self, store: Store) -> None:
        written = await record_events(store, 3)

        first = await store.claim_outbox(now=T0, limit=2, lock_seconds=LOCK_SECONDS)
        second = await store.claim_outbox(now=T0, limit=10, lock_seconds=LOCK_SECONDS)
        nothing = await store.claim_outbox(now=T0 + timedelta(seconds=1), limit=10, lock_seconds=LOCK_SECONDS)

        assert first == written[:2]
        assert second == written[2:]
        assert nothing == []

    async def test_an_unpublished_claim_comes_back_after_its_lock(self, store: Store) -> None:
        written = await record_events(store, 1)
        await store.claim_outbox(now=T0, limit=10, lock_seconds=LOCK_SECONDS)

        again = await store.claim_outbox(now=T0 + timedelta(seconds=LOCK_SECONDS), limit=10, lock_seconds=5)

        assert again == written

    async def test_a_released_claim_comes_back_at_once_but_a_published_event_never(self, store: Store) -> None:
        written = await record_events(store, 3)
        claimed = await store.claim_outbox(now=T0, limit=3, lock_seconds=LOCK_SECONDS)
        await store.mark_published([claimed[0].event_id], now=T0)

        await store.release_outbox([item.event_id for item in claimed])
        await store.release_outbox([])

        assert await store.claim_outbox(now=T0, limit=10, lock_seconds=LOCK_SECONDS) == written[1:]
        assert await store.outbox_backlog() == 2

    async def test_published_events_leave_the_backlog(self, store: Store) -> None:
        written = await record_events(store, 3)
        claimed = await store.claim_outbox(now=T0, limit=2, lock_seconds=LOCK_SECONDS)

        await store.mark_published([item.event_id for item in claimed], now=T0)
        await store.mark_published([], now=T0)

        assert await store.outbox_backlog() == 1
        later = T0 + timedelta(hours=1)
        assert await store.claim_outbox(now=later, limit=10, lock_seconds=LOCK_SECONDS) == written[2:]

    async def test_pruning_removes_only_old_published_events(self, store: Store) -> None:
        written = await record_events(store, 5)
        await store.claim_outbox(now=T0, limit=5, lock_seconds=LOCK_SECONDS)
        await store.mark_published([e.event_id for e in written[:2]], now=T0)
        await store.mark_published([e.event_id for e in written[2:3]], now=T0 + timedelta(hours=2))
        pruned = await store.prune_outbox(published_before=T0 + timedelta(hours=1), limit=100)
        assert pruned == 2
        assert await store.prune_outbox(published_before=T0 + timedelta(hours=1), limit=100) == 0
        assert await store.outbox_backlog() == 2  # unpublished rows are never pruned
        assert await store.prune_outbox(published_before=T0 + timedelta(hours=3), limit=100) == 1

    async def test_concurrent_claimers_never_share_an_event(self, store: Store) -> None:
        written = await record_events(store, 60)
        seen: list[list[str]] = [[], [], []]

        async def relay(index: int) -> None:
            for _ in range(40):  # bounded; each pass takes a few events
                claimed = await store.claim_outbox(now=T0, limit=3, lock_seconds=LOCK_SECONDS)
                if not claimed:
                    return
                seen[index].extend(item.event_id for item in claimed)

        async with asyncio.TaskGroup() as group:
            for index in range(len(seen)):
                group.create_task(relay(index))

        everything = [event_id for ids in seen for event_id in ids]
        assert len(everything) == len(set(everything))
        assert set(everything) == {item.event_id for item in written}

    async def test_usage_is_summarised_by_provider_model_and_utc_day(self, store: Store) -> None:
        await store.record_usage(
            [
                usage("u1", "openai", "gpt-a", 0, 10, 0.5),
                usage("u2", "openai", "gpt-b", 0, 20, 0.25),
                usage("u3", "anthropic", "claude", 1, 30, 1.0),
                usage("u1", "openai", "gpt-a", 0, 10, 0.5),  # a retried write counts once
            ]
        )
        await store.record_usage([])

        by_provider = await store.usage_summary(start=None, end=None, group_by="provider")
        by_model = await store.usage_summary(start=None, end=None, group_by="model")
        by_day = await store.usage_summary(start=None, end=None, group_by="day")
        second_day = await store.usage_summary(start=T0 + timedelta(days=1), end=None, group_by="provider")
        first_day = await store.usage_summary(start=None, end=T0 + timedelta(days=1), group_by="day")

        assert by_provider == [
            UsageSummaryRow("anthropic", 1, 30, 1, 1.0),
            UsageSummaryRow("openai", 2, 30, 2, 0.75),
        ]
        assert [row.group for row in by_model] == ["claude", "gpt-a", "gpt-b"]
        assert by_day == [
            UsageSummaryRow("2026-03-01", 2, 30, 2, 0.75),
            UsageSummaryRow("2026-03-02", 1, 30, 1, 1.0),
        ]
        assert second_day == [UsageSummaryRow("anthropic", 1, 30, 1, 1.0)]
        assert first_day == [UsageSummaryRow("2026-03-01", 2, 30, 2, 0.75)]

    async def test_an_empty_usage_summary(self, store: Store) -> None:
        assert await store.usage_summary(start=None, end=None, group_by="day") == []
