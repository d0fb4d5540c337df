"""CPU seconds per job of an embedded `llm-provider serve` (SQLite, in-process queue and worker, JSONL events).

Usage: python scripts/bench_cpu_per_job.py [--jobs 1500] [--concurrency 8] [--repeats 1] [--before SRC_DIR]

With `--before SRC_DIR` (the `src` of an older export: `git archive COMMIT | tar -x -C DIR`), each repeat runs that
build's service and then this one's, interleaved, so both see the same host; only the service gets the old code.

Starts the service on a fresh data directory with the mock in performance mode, submits `--jobs` comparisons
with `--concurrency` clients, waits (bounded) until every job's completed event is in the events file, and reports
the service process's CPU time (user + system, Linux /proc) per job: a figure that stays honest on a machine shared
with other work, where wall-clock rates do not. Loopback only; every loop is bounded; the service is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import orjson

from llm_loadtest.load.payloads import PayloadFactory

READY_TIMEOUT_SECONDS = 60.0
DONE_TIMEOUT_SECONDS = 180.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _completed(events: Path) -> int:
    if not events.is_file():
        return 0
    with events.open("rb") as lines:
        return sum(1 for line in lines if b"request_completed" in line)


def _once(jobs: int, concurrency: int, source: Path | None = None) -> None:
    data = Path(tempfile.mkdtemp(prefix="cpu-per-job-"))
    port = _free_port()
    env = {**os.environ, "LLM_PROVIDER_DATA_DIR": str(data), "LLM_PROVIDER_MOCK_PERFORMANCE_MODE": "true",
           "LLM_PROVIDER_LOG_LEVEL": "WARNING"}  # fmt: skip
    if source is not None:
        env["PYTHONPATH"] = str(source)
    command = [sys.executable, "-m", "llm_provider_service", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter and module
    try:
        line = asyncio.run(_measure(process.pid, f"http://127.0.0.1:{port}", data, jobs, concurrency))
    finally:
        process.terminate()
        process.wait(timeout=30)
    sys.stdout.write(f"{'before' if source is not None else 'this  '}: {line}")


async def _measure(pid: int, base: str, data: Path, jobs: int, concurrency: int) -> str:
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        for _ in range(int(READY_TIMEOUT_SECONDS / 0.05)):
            try:
                async with session.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        ready = time.monotonic() - started
        payloads = PayloadFactory(seed=1, run_id=uuid.uuid4().hex[:8])
        bodies = iter([orjson.dumps(payloads.comparison("comparison", callback_topic=None)) for _ in range(jobs)])
        accepted = 0
        cpu_before, wall_before = _cpu_seconds(pid), time.monotonic()

        async def client() -> None:
            nonlocal accepted
            for body in bodies:
                headers = {"content-type": "application/json"}
                async with session.post(f"{base}/api/v1/comparison", data=body, headers=headers) as response:
                    await response.read()
                    accepted += response.status == 202

        await asyncio.gather(*(client() for _ in range(concurrency)))
        for _ in range(int(DONE_TIMEOUT_SECONDS / 0.1)):
            if _completed(data / "events.jsonl") >= accepted:
                break
            await asyncio.sleep(0.1)
        wall = time.monotonic() - wall_before
        cpu = _cpu_seconds(pid) - cpu_before
        done = _completed(data / "events.jsonl")
    return (
        f"ready {ready:.2f} s; {accepted} accepted, {done} completed in {wall:.2f} s ({done / wall:.0f} jobs/s); "
        f"service CPU {cpu:.2f} s = {1000 * cpu / max(done, 1):.2f} ms per job\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--before", type=Path, help="src directory of an older build, run interleaved with this one")
    args = parser.parse_args()
    jobs, concurrency = max(1, min(args.jobs, 100_000)), max(1, min(args.concurrency, 256))
    for _ in range(max(1, min(args.repeats, 20))):
        if args.before is not None:
            _once(jobs, concurrency, args.before.resolve())
        _once(jobs, concurrency)


if __name__ == "__main__":
    main()
