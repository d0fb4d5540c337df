"""The compatibility tier reuses the pipeline fixtures (real Redis, PostgreSQL and Kafka per test)."""

from __future__ import annotations

from tests.integration.pipeline.conftest import callbacks, pipeline

__all__ = ["callbacks", "pipeline"]
