"""The deterministic mock LLM engine shared by the in-process `mock` provider and the mock server.

All randomness comes from SHA-256 of (seed, request key, attempt, purpose), never from `hash()` or the
global `random`, so two processes with the same seed make the same decisions, and a retried attempt
draws afresh (a job that failed can succeed on retry). The answer depends only on (seed, prompt).

Bursts are the one piece of state: a per-engine call counter, so bursts are per process (each server
or worker process counts its own calls).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import orjson

from llm_provider_service.mock.answers import comparison_answer, invalid_instance, is_comparison_schema, plain_text
from llm_provider_service.mock.control import NO_CONTROL, MockControl
from llm_provider_service.mock.profile import OK_SCENARIO, FaultKind, MockProfile
from llm_provider_service.mock.rate_limit import MockRateLimiter, RateLimitDecision
from llm_provider_service.mock.schema_instance import schema_instance

_UNIT = float(1 << 53)
_Z_P99 = NormalDist().inv_cdf(0.99)
_CHUNK = re.compile(r"\S+\s*|\s+")
RATE_LIMIT_RETRY_AFTER_SECONDS = 1.0
DEFAULT_FAIL_SCENARIO = FaultKind.SERVER_ERROR.value
IMAGE_TOKENS = 85  # what OpenAI bills a low-detail image


def token_count(text: str) -> int:
    """Token usage from text length: about four characters per token."""
    return math.ceil(len(text) / 4)


def apply_stop(text: str, stop: tuple[str, ...]) -> tuple[str, str | None]:
    """`text` up to (not including) the earliest stop sequence, and that sequence (None if none occurs)."""
    found = [(position, sequence) for sequence in stop if sequence and (position := text.find(sequence)) >= 0]
    if not found:
        return text, None
    position, sequence = min(found)
    return text[:position], sequence


def split_chunks(text: str) -> tuple[str, ...]:
    """Stream deltas: word-sized pieces whose concatenation is exactly `text`."""
    return tuple(_CHUNK.findall(text))


@dataclass(frozen=True, slots=True)
class MockCall:
    """One call to the mock. Without `key`, the prompt's digest keys the call."""

    prompt: str
    key: str = ""
    attempt: int = 1
    schema: Mapping[str, Any] | None = None
    control: MockControl = NO_CONTROL
    stop: tuple[str, ...] = ()  # the answer ends before the first of these, as at a vendor
    images: int = 0  # images in the prompt, each counted as IMAGE_TOKENS prompt tokens
    choices: int = 1  # n: the extra answers are in `MockResult.more_texts`


@dataclass(frozen=True, slots=True)
class MockResult:
    """What the engine decided for one call: the outcome, how long it takes and the answer.

    `outcome` is "ok" or a `FaultKind` value. `latency_ms` is the wait before the answer or the error
    (for `timeout`, the hang). An answer (ok, malformed, invalid_output) then streams its `chunks`:
    `ttft_ms` before the first, `inter_token_ms` between the others.
    """

    outcome: str
    latency_ms: float
    text: str
    structured: Mapping[str, Any] | None
    chunks: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float = 0.0
    inter_token_ms: float = 0.0
    retry_after_seconds: float | None = None
    stop_sequence: str | None = None  # the stop sequence that cut the answer
    more_texts: tuple[str, ...] = ()
    rate_limit: RateLimitDecision | None = None

    @property
    def fault(self) -> FaultKind | None:
        return None if self.outcome == OK_SCENARIO else FaultKind(self.outcome)

    @property
    def has_answer(self) -> bool:
        """Whether the call returns content (ok, malformed, invalid_output) rather than an error."""
        return self.outcome in _ANSWERING

    @property
    def intrinsic_ms(self) -> float:
        """The whole time the mock intends to take: latency, then the stream's pace for an answer."""
        if not self.has_answer:
            return self.latency_ms
        pace = self.ttft_ms + self.inter_token_ms * max(len(self.chunks) - 1, 0)
        return self.latency_ms + pace


_ANSWERING = frozenset({OK_SCENARIO, FaultKind.MALFORMED.value, FaultKind.INVALID_OUTPUT.value})


class MockEngine:
    """Decides outcome, latency and answer for each call; see the module docstring for determinism."""

    def __init__(self, profile: MockProfile, *, rate_limiter: MockRateLimiter | None = None) -> None:
        self._profile = profile
        self.rate_limiter = rate_limiter or MockRateLimiter(
            requests_per_window=profile.rate_limit_requests,
            tokens_per_window=profile.rate_limit_tokens,
            window_seconds=profile.rate_limit_window_seconds,
        )
        self._calls = itertools.count()  # next() on a count is atomic in CPython
        self._lognormal_sigma = (
            math.log(profile.latency_p99_ms / profile.latency_ms) / _Z_P99
            if profile.latency_model == "lognormal" and profile.latency_p99_ms > profile.latency_ms > 0
            else 0.0
        )

    @property
    def profile(self) -> MockProfile:
        return self._profile

    def draw(self, key: str, attempt: int, purpose: str) -> float:
        """A uniform number in [0, 1) from SHA-256 of (seed, key, attempt, purpose)."""
        material = f"{self._profile.seed}\x00{key}\x00{attempt}\x00{purpose}".encode()
        number = int.from_bytes(hashlib.sha256(material).digest()[:8], "big") >> 11
        return number / _UNIT

    def respond(self, call: MockCall, *, rate_limited: bool = True) -> MockResult:
        """Decide everything about one call. Counts the call towards bursts and (unless `rate_limited` is
        False, as for batch items, which vendors count apart) towards the rate limit."""
        prompt_digest = hashlib.sha256(call.prompt.encode()).hexdigest()
        key = call.key or prompt_digest
        outcome = self.outcome(key, call.attempt, call.control)
        latency_ms = self._latency_ms(key, call.attempt, call.control, outcome)
        text, structured = self._content(call.schema, prompt_digest, outcome)
        text, stop_sequence = apply_stop(text, call.stop)
        more = tuple(
            apply_stop(self._content(call.schema, f"{prompt_digest}/{index}", outcome)[0], call.stop)[0]
            for index in range(1, call.choices)
        )
        prompt_tokens = max(token_count(call.prompt), 1) + IMAGE_TOKENS * call.images
        completion_tokens = token_count(text) + sum(token_count(other) for other in more)
        retry_after = RATE_LIMIT_RETRY_AFTER_SECONDS if outcome == FaultKind.RATE_LIMITED else None
        decision = None
        if rate_limited and self.rate_limiter.enabled:
            decision = self.rate_limiter.admit(prompt_tokens + completion_tokens)
            if not decision.admitted:
                outcome, latency_ms, retry_after = FaultKind.RATE_LIMITED.value, 0.0, decision.retry_after_seconds
        return MockResult(
            outcome=outcome,
            latency_ms=latency_ms,
            text=text,
            structured=structured,
            chunks=split_chunks(text),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            ttft_ms=self._profile.ttft_ms,
            inter_token_ms=self._profile.inter_token_ms,
            retry_after_seconds=retry_after,
            stop_sequence=stop_sequence,
            more_texts=more,
            rate_limit=decision,
        )

    def outcome(self, key: str, attempt: int, control: MockControl = NO_CONTROL) -> str:
        """ "ok" or a fault kind: per-request control first, then bursts, then the profile's rates."""
        call_index = next(self._calls)
        profile = self._profile
        if profile.performance_mode:
            return OK_SCENARIO
        if control.scenario is not None or control.fail_attempts is not None:
            scenario = control.scenario or DEFAULT_FAIL_SCENARIO
            if control.fail_attempts is None or attempt <= control.fail_attempts:
                return scenario
            return OK_SCENARIO
        if profile.bursts_enabled and self._in_burst(call_index):
            return profile.burst_kind
        point = self.draw(key, attempt, "fault")
        cumulative = 0.0
        for kind in FaultKind:
            cumulative += profile.fault_rates.get(kind.value, 0.0)
            if point < cumulative:
                return kind.value
        return OK_SCENARIO

    def _in_burst(self, call_index: int) -> bool:
        # Calls 1..N pass, then the next L fail, then the cycle repeats every N calls.
        every, length = self._profile.burst_every, self._profile.burst_length
        return call_index >= every and (call_index % every) < length

    def sample_latency_ms(self, key: str, attempt: int) -> float:
        """One sample of the profile's latency model for this call."""
        profile = self._profile
        model = profile.latency_model
        if model == "fixed":
            return profile.latency_ms
        if model == "uniform":
            span = profile.latency_max_ms - profile.latency_min_ms
            return profile.latency_min_ms + span * self.draw(key, attempt, "latency")
        if model == "lognormal":
            # Shift into the open interval (0, 1): inv_cdf is undefined at 0.
            point = (self.draw(key, attempt, "latency") * _UNIT + 0.5) / _UNIT
            return profile.latency_ms * math.exp(self._lognormal_sigma * NormalDist().inv_cdf(point))
        return 0.0

    def _latency_ms(self, key: str, attempt: int, control: MockControl, outcome: str) -> float:
        if outcome == FaultKind.TIMEOUT:
            hang_ms = self._profile.timeout_seconds * 1000.0
            return min(control.latency_ms, hang_ms) if control.latency_ms is not None else hang_ms
        if control.latency_ms is not None:
            return control.latency_ms
        return self.sample_latency_ms(key, attempt)

    def _content(
        self, schema: Mapping[str, Any] | None, prompt_digest: str, outcome: str
    ) -> tuple[str, Mapping[str, Any] | None]:
        def draw(purpose: str) -> float:
            return self.draw(prompt_digest, 0, purpose)

        if outcome == FaultKind.INVALID_OUTPUT:
            invalid = invalid_instance(schema, draw)
            return orjson.dumps(invalid).decode(), invalid if isinstance(invalid, Mapping) else None
        if schema is None or is_comparison_schema(schema):
            answer: Any = comparison_answer(draw) if schema is not None else None
            text = orjson.dumps(answer).decode() if answer is not None else plain_text(draw)
        else:
            answer = schema_instance(schema, draw)
            text = orjson.dumps(answer).decode()
        if outcome == FaultKind.MALFORMED:
            # Cut a JSON document (or a JSON-looking start for plain text) halfway: never parseable.
            whole = text if answer is not None else orjson.dumps({"answer": text}).decode()
            return whole[: max(len(whole) // 2, 1)], None
        return text, answer if isinstance(answer, Mapping) else None
