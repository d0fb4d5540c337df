"""schemathesis against a live `llm-provider serve`: the OpenAPI document is the oracle, every route is fuzzed.

Bounded by examples per operation and by wall time. Checks: no 5xx, answers (status, content type, headers, body)
conform to the document, invalid requests are rejected, auth is enforced. Then, from the HAR record of every
exchange, the jobs the store holds must be exactly the ones some answer accepted: a rejected request stores nothing.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.service_process import ServiceProcess

# The suite's 120 s per-test default is too tight for a 60 s fuzzing budget plus start-up on a busy machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

KEY = "schemathesis-admin-key"
MAX_EXAMPLES = 25
MAX_SECONDS = 60
# positive_data_acceptance: the document cannot say which models exist or which prompts a mock scenario accepts,
# so some schema-valid requests are rightly refused (404 model_not_found, 400 on semantic checks).
EXCLUDED_CHECKS = "positive_data_acceptance"


def _accepted_queue_ids(har: Path) -> set[str]:
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]
    ids: set[str] = set()
    for entry in entries:
        request, response = entry["request"], entry["response"]
        if request["method"] != "POST" or not request["url"].split("?")[0].endswith("/api/v1/comparison"):
            continue
        if response["status"] in (200, 202):
            ids.add(json.loads(response["content"]["text"])["queue_id"])
    return ids


def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_document(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"LLM_PROVIDER_ADMIN_KEY": KEY, "LLM_PROVIDER_API_KEYS": "schemathesis-client-key"}
    har = tmp_path / "exchanges.har"
    with ServiceProcess(data_dir, env=env) as service:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run", f"{service.base_url}/openapi.json",
             "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS,
             "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_SECONDS), "--workers", "1",
             "--header", f"Authorization: Bearer {KEY}", "--seed", "12",
             # Hypothesis' health checks (too_slow, ...) judge this shared machine's speed, not the service.
             "--suppress-health-check", "all",
             "--report", "har", "--report-har-path", str(har), "--no-color"],
            capture_output=True, text=True, timeout=MAX_SECONDS + 120, check=False,
        )  # fmt: skip
        server_log = service.log_path.read_text(errors="replace")
    summary = done.stdout[-6000:]
    assert done.returncode == 0, f"schemathesis found problems:\n{summary}\n{done.stderr[-2000:]}"
    assert "Traceback" not in server_log, server_log[-4000:]

    assert har.is_file(), summary
    accepted = _accepted_queue_ids(har)
    assert accepted, "no submission was accepted: the run did not reach the job routes"
    with sqlite3.connect(data_dir / "llm_provider.db") as database:
        stored = {row[0] for row in database.execute("SELECT id FROM jobs")}
    assert stored == accepted  # nothing stored for a rejected request, nothing accepted and not stored
