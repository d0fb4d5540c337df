"""Several API and worker processes side by side: N jobs from concurrent clients, exactly N valid callbacks."""

from __future__ import annotations

import collections
import logging

import pytest

from tests.integration.pipeline.conftest import Pipeline
from tests.integration.pipeline.jobs import audit_callbacks, job_statuses, submit_many
from tests.kafka_consumer import CallbackCollector

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

JOBS = 200


async def test_two_apis_and_two_workers_deliver_each_callback_once(
    pipeline: Pipeline, callbacks: CallbackCollector
) -> None:
    with pipeline.processes() as group:
        first_api, second_api = group.api(), group.api()
        group.worker()
        group.worker()
        accepted = [
            *await submit_many(first_api.base_url, pipeline.callback_topic, JOBS // 2, clients=6),
            *await submit_many(second_api.base_url, pipeline.callback_topic, JOBS // 2, clients=6),
        ]
        assert len(set(accepted)) == JOBS
        await callbacks.wait_for(JOBS, timeout_seconds=60)
        events = await callbacks.wait_quiet(quiet_seconds=1.0, timeout_seconds=20)

    audit = audit_callbacks(events, accepted)
    logger.info(
        "scale-out: %d callbacks read, %d true duplicates, %d re-reads",
        len(events),
        audit.true_duplicates,
        audit.rereads,
    )
    assert audit.true_duplicates == 0, f"{audit.true_duplicates} redeliveries (same event_id)"
    outcomes = collections.Counter(
        "ok" if envelope["data"]["error_detail"] is None else "error" for envelope in audit.by_request.values()
    )
    assert outcomes == {"ok": JOBS}
    statuses = await job_statuses(pipeline.postgres_url)
    assert collections.Counter(statuses.values()) == {"completed": JOBS}
