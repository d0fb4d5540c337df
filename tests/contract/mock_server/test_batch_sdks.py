"""The official `openai` and `anthropic` SDKs' batch calls against the mock server's batch APIs.

Each vendor's whole round trip: submit (OpenAI: JSONL upload then `/v1/batches`; Anthropic: `/v1/messages/batches`),
poll until ended, read the results, cancel; and the scripted paths a vendor can take: partial failures,
expiry, lost items. The SDK's own models parse every answer, so the wire shapes are the vendors'.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import orjson
import pytest
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI

from llm_provider_service.domain.comparison import COMPARISON_SCHEMA
from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.mock.batch_store import MockBatches
from llm_provider_service.mock.server import serve_mock

pytestmark = pytest.mark.contract

MODEL = "mock-comparison-v1"
SCHEMA = dict(COMPARISON_SCHEMA.json_schema)


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def mock_url(clock: Clock) -> AsyncIterator[str]:
    engine = MockEngine(MockProfile(seed=7))
    async with serve_mock(engine, batches=MockBatches(engine, clock=clock)) as base_url:
        yield base_url


@pytest.fixture
async def openai_client(mock_url: str) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=f"{mock_url}/v1", api_key="test", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def anthropic_client(mock_url: str) -> AsyncIterator[AsyncAnthropic]:
    async with AsyncAnthropic(base_url=mock_url, api_key="test", max_retries=0) as sdk:
        yield sdk


def openai_jsonl(count: int) -> bytes:
    lines = []
    for index in range(count):
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": f"Essay A: {index} ... Essay B: ..."}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": SCHEMA, "strict": True},
            },
        }
        lines.append(
            orjson.dumps({"custom_id": f"job-{index}", "method": "POST", "url": "/v1/chat/completions", "body": body})
        )
    return b"\n".join(lines) + b"\n"


async def openai_submit(client: AsyncOpenAI, count: int, **headers: str) -> str:
    uploaded = await client.files.create(file=("input.jsonl", io.BytesIO(openai_jsonl(count))), purpose="batch")
    batch = await client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"service": "llm-provider"},
        extra_headers=headers,
    )
    assert batch.status == "in_progress"
    assert batch.request_counts is not None
    return batch.id


async def openai_lines(client: AsyncOpenAI, file_id: str | None) -> list[dict[str, object]]:
    if file_id is None:
        return []
    content = await client.files.content(file_id)
    return [orjson.loads(line) for line in content.content.splitlines() if line.strip()]


async def test_openai_batch_round_trip(openai_client: AsyncOpenAI, clock: Clock) -> None:
    batch_id = await openai_submit(openai_client, 3, **{"x-mock-batch-delay-ms": "5000"})
    assert (await openai_client.batches.retrieve(batch_id)).status == "in_progress"
    clock.now += 5
    batch = await openai_client.batches.retrieve(batch_id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (3, 3, 0)
    assert batch.error_file_id is None
    lines = await openai_lines(openai_client, batch.output_file_id)
    assert [line["custom_id"] for line in lines] == ["job-0", "job-1", "job-2"]
    response = lines[0]["response"]
    assert isinstance(response, dict)
    assert response["status_code"] == 200
    verdict = orjson.loads(response["body"]["choices"][0]["message"]["content"])
    assert verdict["winner"] in ("Essay A", "Essay B")
    assert 1 <= verdict["confidence"] <= 5
    listed = await openai_client.batches.list()
    assert batch_id in [item.id for item in listed.data]


async def test_openai_partial_failures_go_to_the_error_file(openai_client: AsyncOpenAI) -> None:
    batch_id = await openai_submit(openai_client, 4, **{"x-mock-batch-fail-every": "2"})
    batch = await openai_client.batches.retrieve(batch_id)
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 2)
    errors = await openai_lines(openai_client, batch.error_file_id)
    assert [line["custom_id"] for line in errors] == ["job-1", "job-3"]
    assert all(isinstance(line["response"], dict) and line["response"]["status_code"] == 500 for line in errors)


async def test_openai_expiry_and_lost_items(openai_client: AsyncOpenAI) -> None:
    batch_id = await openai_submit(
        openai_client, 5, **{"x-mock-batch-expire-after": "3", "x-mock-batch-drop-every": "2"}
    )
    batch = await openai_client.batches.retrieve(batch_id)
    assert batch.status == "expired"
    done = await openai_lines(openai_client, batch.output_file_id)
    errors = await openai_lines(openai_client, batch.error_file_id)
    assert [line["custom_id"] for line in done] == ["job-0", "job-2"]  # job-1 is lost: in neither file
    assert [line["custom_id"] for line in errors] == ["job-3", "job-4"]
    assert all(line["error"] == {"code": "batch_expired", "message": line["error"]["message"]} for line in errors)  # type: ignore[index]


async def test_openai_cancel(openai_client: AsyncOpenAI) -> None:
    batch_id = await openai_submit(openai_client, 2, **{"x-mock-batch-delay-ms": "60000"})
    cancelled = await openai_client.batches.cancel(batch_id)
    assert cancelled.status == "cancelled"
    errors = await openai_lines(openai_client, cancelled.error_file_id)
    assert {line["error"]["code"] for line in errors} == {"batch_cancelled"}  # type: ignore[index]


def anthropic_requests(count: int) -> list[dict[str, object]]:
    tool = {"name": "record_comparison", "description": "The verdict.", "input_schema": SCHEMA}
    return [
        {
            "custom_id": f"job-{index}",
            "params": {
                "model": MODEL,
                "max_tokens": 256,
                "system": "Judge fairly.",
                "messages": [{"role": "user", "content": f"Essay A: {index} ... Essay B: ..."}],
                "tools": [tool],
                "tool_choice": {"type": "tool", "name": "record_comparison"},
            },
        }
        for index in range(count)
    ]


async def test_anthropic_message_batch_round_trip(anthropic_client: AsyncAnthropic, clock: Clock) -> None:
    created = await anthropic_client.messages.batches.create(
        requests=anthropic_requests(3),  # type: ignore[arg-type]
        extra_headers={"x-mock-batch-delay-ms": "2000", "x-mock-batch-fail-every": "3"},
    )
    assert created.processing_status == "in_progress"
    assert created.request_counts.processing == 3
    clock.now += 2
    ended = await anthropic_client.messages.batches.retrieve(created.id)
    assert ended.processing_status == "ended"
    assert (ended.request_counts.succeeded, ended.request_counts.errored) == (2, 1)
    results = [entry async for entry in await anthropic_client.messages.batches.results(created.id)]
    assert [entry.custom_id for entry in results] == ["job-0", "job-1", "job-2"]
    first = results[0].result
    assert first.type == "succeeded"
    block = first.message.content[0]
    assert block.type == "tool_use"
    assert block.input["winner"] in ("Essay A", "Essay B")
    assert results[2].result.type == "errored"


async def test_anthropic_expiry_cancel_and_list(anthropic_client: AsyncAnthropic) -> None:
    expired = await anthropic_client.messages.batches.create(
        requests=anthropic_requests(2),  # type: ignore[arg-type]
        extra_headers={"x-mock-batch-expire-after": "1"},
    )
    retrieved = await anthropic_client.messages.batches.retrieve(expired.id)
    assert (retrieved.request_counts.succeeded, retrieved.request_counts.expired) == (1, 1)
    kinds = [entry.result.type async for entry in await anthropic_client.messages.batches.results(expired.id)]
    assert kinds == ["succeeded", "expired"]
    waiting = await anthropic_client.messages.batches.create(
        requests=anthropic_requests(2),  # type: ignore[arg-type]
        extra_headers={"x-mock-batch-delay-ms": "60000"},
    )
    cancelled = await anthropic_client.messages.batches.cancel(waiting.id)
    assert cancelled.request_counts.canceled == 2
    listed = await anthropic_client.messages.batches.list()
    assert {expired.id, waiting.id} <= {item.id for item in listed.data}
