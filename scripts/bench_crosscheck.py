"""Cross-check the toolkit against vegeta: the same target, the same open-loop rates, both reports side by side.

Starts one `llm-provider serve` (embedded defaults, mock in performance mode) on loopback, then per workload and rate
runs `llm-provider perf run load` and `vegeta attack` (each after its own warm-up) and prints p50 / p99 latency
and the achieved rate of both, with the relative differences. Workloads: `get` (GET /healthz: no body, no state)
and `chat` (POST /v1/chat/completions, one toolkit chat body for vegeta). Bounded: each run lasts warm-up +
duration. vegeta comes from `scripts/install-load-tools.sh`. Usage:

    .venv/bin/python scripts/bench_crosscheck.py --rates 100,400 --duration 10 --out perf-results/crosscheck

The toolkit's `service_latency` (from the actual send) is the figure comparable to vegeta's latency; its
`scheduled_latency` (from the intended send, coordinated omission corrected) is shown too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from llm_loadtest.load.payloads import PayloadFactory
from llm_loadtest.metrics.histograms import percentile_ms
from llm_loadtest.metrics.result import load
from llm_provider_service.infra.local_server import free_port

CLI = str(Path(sys.executable).with_name("llm-provider"))
ROOT = Path(__file__).resolve().parents[1]
MOCK_MODEL = "mock/mock-comparison-v1"
PATHS = {"get": ("GET", "/healthz"), "chat": ("POST", "/v1/chat/completions")}


def _vegeta() -> str:
    done = subprocess.run(["bash", str(ROOT / "scripts" / "install-load-tools.sh"), "vegeta"],  # noqa: S603, S607
                          capture_output=True, text=True, check=True)  # fmt: skip
    return str(Path(done.stdout.strip().splitlines()[-1]) / "vegeta")


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("serve did not become ready")


def _toolkit(url: str, workload: str, rate: float, duration: float, warmup: float, out: Path) -> dict[str, Any]:
    command = [CLI, "perf", "run", "load", "--target", url, "--rate", f"{rate:g}", "--duration", f"{duration:g}",
               "--warmup", f"{warmup:g}", "--mix", f"{workload}=1", "--no-poll", "--out", str(out)]  # fmt: skip
    subprocess.run(command, check=False, timeout=duration + warmup + 120, capture_output=True)  # noqa: S603
    result = load(out / "result.json")
    steady = {"phase": "steady", "outcome": "ok"}
    service = result.measurements.select("service_latency", steady)
    scheduled = result.measurements.select("scheduled_latency", steady)
    ok = result.measurements.count(phase="steady", outcome="ok")
    return {
        "p50_ms": percentile_ms(service, 50.0),
        "p99_ms": percentile_ms(service, 99.0),
        "scheduled_p99_ms": percentile_ms(scheduled, 99.0),
        "achieved_per_second": ok / duration,
        "ok": ok,
        # The toolkit judges its own health (loop lag, dispatch delay): INCONCLUSIVE means the generator was starved.
        "verdict": json.loads((out / "result.json").read_text(encoding="utf-8"))["verdict"],
    }


def _vegeta_run(vegeta: str, url: str, workload: str, rate: float, duration: float, work: Path) -> dict[str, float]:
    method, path = PATHS[workload]
    target = work / f"{workload}.target"
    lines = [f"{method} {url}{path}"]
    if workload == "chat":
        body = work / "chat.json"
        factory = PayloadFactory(seed=1, run_id="crosscheck")
        body.write_text(json.dumps(factory.chat(model=MOCK_MODEL)), encoding="utf-8")
        lines += ["Content-Type: application/json", f"@{body}"]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    attack = [vegeta, "attack", "-targets", str(target), "-rate", f"{rate:g}/s", "-duration", f"{duration:g}s",
              "-timeout", "10s", "-max-workers", "10000"]  # fmt: skip
    results = subprocess.run(attack, check=True, capture_output=True, timeout=duration + 60).stdout  # noqa: S603
    report = subprocess.run([vegeta, "report", "-type", "json"], input=results, check=True,  # noqa: S603
                            capture_output=True, timeout=60).stdout  # fmt: skip
    parsed: dict[str, Any] = json.loads(report)
    latencies = parsed["latencies"]
    ok = sum(count for code, count in parsed["status_codes"].items() if code.startswith("2"))
    return {
        "p50_ms": latencies["50th"] / 1e6,
        "p99_ms": latencies["99th"] / 1e6,
        "achieved_per_second": parsed["throughput"],
        "ok": ok,
    }


def _difference(ours: float, theirs: float) -> str:
    return f"{(ours - theirs) / theirs * 100:+.0f} %" if theirs else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,400")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--workloads", default="get,chat")
    parser.add_argument("--out", type=Path, default=Path("perf-results/crosscheck"))
    args = parser.parse_args()
    vegeta = _vegeta()
    work = Path(tempfile.mkdtemp(prefix="llm-provider-crosscheck-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("LLM_PROVIDER_")}
    env |= {"LLM_PROVIDER_DATA_DIR": str(work / "data"), "LLM_PROVIDER_MOCK_PERFORMANCE_MODE": "true",
            "LLM_PROVIDER_LOG_LEVEL": "WARNING"}  # fmt: skip
    with (work / "serve.log").open("ab") as log:
        serve = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)  # noqa: S603
    rows: list[dict[str, Any]] = []
    try:
        _wait_ready(url)
        for workload in args.workloads.split(","):
            for rate in [float(value) for value in args.rates.split(",")]:
                ours = _toolkit(url, workload, rate, args.duration, args.warmup, args.out / f"{workload}-{rate:g}")
                _vegeta_run(vegeta, url, workload, rate, args.warmup, work)  # vegeta's own warm-up, discarded
                theirs = _vegeta_run(vegeta, url, workload, rate, args.duration, work)
                rows.append({"workload": workload, "rate": rate, "toolkit": ours, "vegeta": theirs})
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "crosscheck.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    lines = ["| workload | rate/s | toolkit p50 / p99 ms | vegeta p50 / p99 ms | p50 diff | p99 diff "
             "| achieved/s toolkit / vegeta | toolkit scheduled p99 ms | toolkit verdict |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        ours, theirs = row["toolkit"], row["vegeta"]
        lines.append(f"| {row['workload']} | {row['rate']:g} | {ours['p50_ms']:.2f} / {ours['p99_ms']:.2f} "
              f"| {theirs['p50_ms']:.2f} / {theirs['p99_ms']:.2f} | {_difference(ours['p50_ms'], theirs['p50_ms'])} "
              f"| {_difference(ours['p99_ms'], theirs['p99_ms'])} "
              f"| {ours['achieved_per_second']:.1f} / {theirs['achieved_per_second']:.1f} "
              f"| {ours['scheduled_p99_ms']:.2f} | {ours['verdict']} |")  # fmt: skip
    table = "\n".join(lines) + "\n"
    (args.out / "crosscheck.md").write_text(table, encoding="utf-8")
    sys.stdout.write(table)


if __name__ == "__main__":
    main()
