"""Load: sustained open-loop arrival rates against a real `llm-provider serve` (Redis, PostgreSQL, Kafka, mock).

Latency SLOs use the toolkit's scheduled latency (done - intended), immune to coordinated omission; warm-up is
excluded. Latency bounds are ~3-5x the p99 measured on the calibration host, scaled by the host's same-run slowdown
(`host`); throughput is gated as achieved over planned (~0.97), a same-run ratio.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llm_loadtest.load.schedule import constant, poisson, spike, with_warmup
from tests.performance.baseline import HostSpeed
from tests.performance.measure import Gate
from tests.performance.runs import open_scenario, run, value
from tests.performance.service import ServiceProcess

pytestmark = pytest.mark.performance

# Co-located on 2 cores (service + worker + Redis + PostgreSQL + Kafka + generator), one `serve` process sustains
# about 100 processed jobs/s end to end on the calibration host (accept p99 76 ms at 100/s, 320 ms at 150/s), and
# accepts about 300/s when its worker runs elsewhere (`--no-worker`). Hosts of this kind can be 2.2x slower, where a
# rate near capacity queues without bound and no scaling of a bound helps: the rates stay below half of the slowest
# host's capacity (about a quarter of the calibration host's).
JOB_RATE_PER_SECOND = 30.0
ACCEPT_ONLY_RATE_PER_SECOND = 80.0
CHAT_RATE_PER_SECOND = 200.0
SECONDS = 4.0
WARMUP_SECONDS = 1.0


async def test_comparison_accept_sustained_rate(service: ServiceProcess, gate: Gate, host: HostSpeed) -> None:
    scenario = open_scenario("load", with_warmup(constant(JOB_RATE_PER_SECOND, SECONDS), WARMUP_SECONDS),
                             {"comparison": 1.0})  # fmt: skip
    result = await run(service.base_url, scenario, host=host)
    gate.below("accept_scheduled_p99_ms", value(result, "scheduled_latency", "p99", phase="steady"), 40.0,
               host=host)  # fmt: skip
    gate.below("accept_scheduled_p50_ms", value(result, "scheduled_latency", "p50", phase="steady"), 15.0,
               host=host)  # fmt: skip
    gate.above("accept_success_rate", value(result, "success", "rate", phase="steady"), 0.999)
    gate.above("accept_achieved_over_planned", value(result, "throughput", "achieved", phase="steady")
               / JOB_RATE_PER_SECOND, 0.97)  # fmt: skip


async def test_accept_only_api_sustained_rate(
    start_service: Callable[..., ServiceProcess], gate: Gate, host: HostSpeed
) -> None:
    """`serve --no-worker`: the accept path alone (validate, INSERT, enqueue, 202) at a higher rate."""
    service = start_service("serve", "--no-worker")
    scenario = open_scenario("load-accept", with_warmup(constant(ACCEPT_ONLY_RATE_PER_SECOND, SECONDS),
                                                        WARMUP_SECONDS), {"comparison": 1.0})  # fmt: skip
    result = await run(service.base_url, scenario, host=host)
    gate.below("accept_only_scheduled_p99_ms", value(result, "scheduled_latency", "p99", phase="steady"), 100.0,
               host=host)  # fmt: skip
    gate.above("accept_only_success_rate", value(result, "success", "rate", phase="steady"), 0.999)
    gate.above("accept_only_achieved_over_planned", value(result, "throughput", "achieved", phase="steady")
               / ACCEPT_ONLY_RATE_PER_SECOND, 0.97)  # fmt: skip


async def test_chat_completions_sustained_rate(service: ServiceProcess, gate: Gate, host: HostSpeed) -> None:
    scenario = open_scenario("load-chat", with_warmup(constant(CHAT_RATE_PER_SECOND, SECONDS), WARMUP_SECONDS),
                             {"chat": 1.0})  # fmt: skip
    result = await run(service.base_url, scenario, host=host)
    gate.below("chat_scheduled_p99_ms", value(result, "scheduled_latency", "p99", phase="steady"), 15.0, host=host)
    gate.above("chat_success_rate", value(result, "success", "rate", phase="steady"), 0.999)
    gate.above("chat_achieved_over_planned", value(result, "throughput", "achieved", phase="steady")
               / CHAT_RATE_PER_SECOND, 0.97)  # fmt: skip


async def test_poisson_arrivals_mixed_endpoints(service: ServiceProcess, gate: Gate, host: HostSpeed) -> None:
    """Bursty (Poisson) arrivals on both APIs at once: the async accept path and the sync gateway share a process."""
    scenario = open_scenario("load-poisson", with_warmup(poisson(2 * JOB_RATE_PER_SECOND, SECONDS), WARMUP_SECONDS),
                             {"comparison": 1.0, "chat": 1.0})  # fmt: skip
    result = await run(service.base_url, scenario, host=host)
    gate.below("mixed_scheduled_p99_ms", value(result, "scheduled_latency", "p99", phase="steady"), 150.0, host=host)
    gate.above("mixed_success_rate", value(result, "success", "rate", phase="steady"), 0.999)


async def test_spike_then_recovery(
    service: ServiceProcess, gate: Gate, record_property: Callable[[str, object], None], host: HostSpeed
) -> None:
    """20 jobs/s, a 1 s burst at 60/s (3x, near the slowest host's capacity), 20/s again: nothing fails, p99 recovers.

    At 100/s the slowest host of this kind is far over capacity for the whole burst (spike p99 1.1 s measured there).
    """
    segments = spike(20.0, 60.0, before_seconds=2.0, spike_seconds=1.0, after_seconds=4.0)
    scenario = open_scenario("spike", with_warmup(segments, WARMUP_SECONDS), {"comparison": 1.0})
    result = await run(service.base_url, scenario, host=host)
    gate.above("spike_success_rate", value(result, "success", "rate"), 0.999)
    gate.below("spike_phase_p99_ms", value(result, "scheduled_latency", "p99", phase="spike"), 150.0, host=host)
    # The toolkit's recovery time (rolling p99 back within 10 % of baseline) is too jittery at 30 samples per window
    # to gate in a short run; the recovery phase's p99 as a whole is the gate, the recovery time is recorded.
    gate.below("recovery_phase_p99_ms", value(result, "scheduled_latency", "p99", phase="recovery"), 40.0,
               host=host)  # fmt: skip
    recovery = result.e2e.get("recovery", {}).get("recovery_seconds")
    record_property("spike_recovery_seconds", "never within 10 % in the run" if recovery is None else recovery)


async def test_accept_latency_does_not_depend_on_backlog(
    start_service: Callable[..., ServiceProcess], gate: Gate, host: HostSpeed
) -> None:
    """With a slow provider the queue grows during the run; accepting stays as fast (record + enqueue only)."""
    service = start_service("serve", mock_latency_model="fixed", mock_latency_ms="2000",
                                            worker_concurrency="4")  # fmt: skip
    scenario = open_scenario("load-backlog", with_warmup(constant(JOB_RATE_PER_SECOND, SECONDS), WARMUP_SECONDS),
                             {"comparison": 1.0})  # fmt: skip
    result = await run(service.base_url, scenario, host=host)
    early = value(result, "scheduled_latency", "p99", phase="warmup")
    late = value(result, "scheduled_latency", "p99", phase="steady")
    gate.below("backlog_accept_scheduled_p99_ms", late, 40.0, host=host)
    gate.below("backlog_late_over_warmup_p99_ratio", late / max(early, 1.0), 3.0)
