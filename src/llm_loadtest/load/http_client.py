"""Pooled aiohttp client that sends one workload request and classifies how it ended."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson

from llm_loadtest.load.payloads import COMPARISON_PATH, PayloadFactory, endpoint_of
from llm_loadtest.load.schedule import Arrival
from llm_loadtest.metrics.outcomes import Outcome, Response, outcome_for_status

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    target: str
    api_key: str | None = None
    pool_size: int = 1024
    request_timeout_seconds: float = 30.0
    chat_model: str = "mock/mock-comparison-v1"
    callback_topic: str | None = None


class HttpTarget:
    """One shared pooled session for the whole run; an async context manager that owns it."""

    def __init__(self, settings: HttpSettings, payloads: PayloadFactory) -> None:
        self.settings = settings
        self._payloads = payloads
        self._session: aiohttp.ClientSession | None = None
        self._base = settings.target.rstrip("/")
        # Called with (queue_id, accepted monotonic ns, workload) for every accepted job.
        self.on_accepted: Callable[[str, int, str], None] | None = None

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(
            limit=self.settings.pool_size, limit_per_host=self.settings.pool_size, ttl_dns_cache=300
        )
        headers = {"content-type": "application/json"}
        if self.settings.api_key:
            headers["authorization"] = f"Bearer {self.settings.api_key}"
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout_seconds),
            json_serialize=lambda value: orjson.dumps(value).decode(),
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("HttpTarget used outside `async with`")
        return self._session

    def url(self, path: str) -> str:
        return f"{self._base}{path}"

    async def send(self, arrival: Arrival) -> Response:
        """The runners' send function; never raises for an HTTP or connection failure."""
        path = endpoint_of(arrival.workload)
        try:
            if arrival.workload == "get":
                async with self.session.get(self.url(path)) as response:
                    await response.read()
                    return Response(outcome_for_status(response.status), response.status)
            if path == COMPARISON_PATH:
                return await self._comparison(arrival)
            return await self._chat()
        except (aiohttp.ServerTimeoutError, TimeoutError):
            return Response(Outcome.TIMEOUT)
        except aiohttp.ClientResponseError as exc:
            return Response(outcome_for_status(exc.status), exc.status)
        except (aiohttp.ClientError, OSError) as exc:
            logger.debug("connection failure: %r", exc)
            return Response(Outcome.CONNECT)

    async def _comparison(self, arrival: Arrival) -> Response:
        body = self._payloads.comparison(arrival.workload, callback_topic=self.settings.callback_topic)
        async with self.session.post(self.url(COMPARISON_PATH), data=orjson.dumps(body)) as response:
            raw = await response.read()
            outcome = outcome_for_status(response.status)
            if outcome is not Outcome.OK:
                return Response(outcome, response.status)
        accepted_ns = time.monotonic_ns()
        queue_id = _field(raw, "queue_id")
        if not isinstance(queue_id, str):
            return Response(Outcome.INVALID, response.status)
        if self.on_accepted is not None:
            self.on_accepted(queue_id, accepted_ns, arrival.workload)
        return Response(Outcome.OK, response.status, {"queue_id": queue_id})

    async def _chat(self) -> Response:
        body = self._payloads.chat(model=self.settings.chat_model)
        async with self.session.post(self.url("/v1/chat/completions"), data=orjson.dumps(body)) as response:
            raw = await response.read()
            outcome = outcome_for_status(response.status)
            intrinsic = response.headers.get("x-mock-intrinsic-ms")
        if outcome is not Outcome.OK:
            return Response(outcome, response.status)
        if not isinstance(_field(raw, "choices"), list):
            return Response(Outcome.INVALID, response.status)
        facts: dict[str, Any] = {}
        if intrinsic is not None:
            facts["intrinsic_ms"] = float(intrinsic)
        return Response(Outcome.OK, response.status, facts)

    async def get_json(self, path: str) -> tuple[int, Any]:
        async with self.session.get(self.url(path)) as response:
            raw = await response.read()
            try:
                return response.status, orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                return response.status, None


def _field(raw: bytes, name: str) -> Any:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return document.get(name) if isinstance(document, dict) else None
