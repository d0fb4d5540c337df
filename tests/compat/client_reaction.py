"""How the original client reacts to each HTTP answer of `POST /comparison` (its `make_request` branches as facts).

202: a JSON body with `queue_id` (else it raises invalid_response); 200: an error (it accepts only async answers);
429/500/502/503/504, or a JSON body with `is_retryable: true`: retried by its retry manager; otherwise it raises by
status: 400 invalid_request, 401/403 authentication, 404 not_found, 408/504 timeout, 429 rate_limit, 502/503
service_unavailable, any other external_service_error, with the body's `error` member as the message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
RAISED_BY_STATUS = {400: "invalid_request", 401: "authentication", 403: "authentication", 404: "not_found",
                    408: "timeout", 504: "timeout", 429: "rate_limit", 502: "service_unavailable",
                    503: "service_unavailable"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reaction:
    action: str  # "queued", "retry" or "raise"
    detail: str  # the queue id, or the error message / raised error kind


def client_reaction(status: int, text: str) -> Reaction:
    if status == 202:
        queue_id = json.loads(text).get("queue_id")
        return Reaction("queued", str(queue_id)) if queue_id else Reaction("raise", "invalid_response")
    if status == 200:
        return Reaction("raise", "invalid_response")
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return Reaction("retry" if status in RETRYABLE_STATUSES else "raise", f"HTTP {status}")
    if status in RETRYABLE_STATUSES or body.get("is_retryable", False):
        return Reaction("retry", str(body.get("error", status)))
    return Reaction("raise", f"{RAISED_BY_STATUS.get(status, 'external_service_error')}: {body.get('error')}")
