"""The system clock behind the `Clock` port (timezone-aware UTC wall time and a monotonic clock)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class SystemClock:
    """Real time. Tests inject a fake with the same two methods."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()
