"""The engine reproduces its decisions across processes from the seed alone."""

from __future__ import annotations

import os
import subprocess
import sys

from llm_provider_service.domain.comparison import COMPARISON_SCHEMA
from llm_provider_service.mock import MockCall, MockEngine, MockProfile

_SCRIPT = """
import sys
import orjson
from llm_provider_service.domain.comparison import COMPARISON_SCHEMA
from llm_provider_service.mock import MockCall, MockEngine, MockProfile

profile = MockProfile(
    seed=int(sys.argv[1]),
    latency_model="lognormal",
    latency_ms=100.0,
    latency_p99_ms=400.0,
    fault_rates={"rate_limited": 0.1, "server_error": 0.1, "malformed": 0.05},
)
engine = MockEngine(profile)
for index in range(200):
    call = MockCall(
        prompt=f"Compare essay {index} with essay {index + 1}.",
        key=f"job-{index}",
        attempt=1 + index % 3,
        schema=COMPARISON_SCHEMA.json_schema,
    )
    result = engine.respond(call)
    line = [result.outcome, result.latency_ms, result.text, result.prompt_tokens, result.completion_tokens]
    sys.stdout.buffer.write(orjson.dumps(line) + b"\\n")
"""


def _run(seed: int, hash_seed: str) -> bytes:
    # Different PYTHONHASHSEEDs prove nothing depends on the per-process salt of hash().
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(seed)], capture_output=True, check=True, env=env, timeout=60
    )
    return completed.stdout


def test_two_processes_with_the_same_seed_agree_byte_for_byte() -> None:
    first = _run(7, "1")
    second = _run(7, "2")

    assert first == second
    assert len(first.splitlines()) == 200


def test_a_different_seed_gives_different_outputs() -> None:
    assert _run(7, "0") != _run(8, "0")


def test_the_in_process_engine_matches_a_fresh_engine() -> None:
    calls = [MockCall(prompt=f"p{i}", key=f"k{i}", schema=COMPARISON_SCHEMA.json_schema) for i in range(50)]
    profile = MockProfile(seed=3, latency_model="uniform", latency_min_ms=1, latency_max_ms=9)

    first = [MockEngine(profile).respond(call) for call in calls]
    second = [MockEngine(profile).respond(call) for call in calls]

    assert first == second


def test_the_answer_depends_on_the_prompt_not_on_the_attempt() -> None:
    engine = MockEngine(MockProfile(seed=1))
    schema = COMPARISON_SCHEMA.json_schema

    first = engine.respond(MockCall(prompt="same prompt", key="a", attempt=1, schema=schema))
    retried = engine.respond(MockCall(prompt="same prompt", key="a", attempt=2, schema=schema))

    assert first.structured == retried.structured
