"""Group commit of accepted jobs on PostgreSQL: concurrent `add`s share one multi-row INSERT in autocommit mode.

Each caller learns whether its own row went in only after the statement returned, i.e. after the COMMIT (with
`synchronous_commit` on, after the WAL flush): a 202 still follows a durable row. A row whose id or idempotency key
is taken is skipped (`ON CONFLICT DO NOTHING`) and missing from RETURNING, so its caller reads the first job, as
with a single INSERT. A failure that is not the database's (a row breaking a constraint other than uniqueness, a
bug) re-runs each row alone so that only its own caller sees the error.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from llm_provider_service.adapters.sql_engine import is_transient_error
from llm_provider_service.adapters.sql_tables import jobs
from llm_provider_service.service.coalescing import Coalescer

# Executed with a list of rows, SQLAlchemy renders one INSERT ... VALUES (...), (...) ("insertmanyvalues").
_INSERT_SKIPPING_TAKEN = postgresql.insert(jobs).on_conflict_do_nothing().returning(jobs.c.id)
MAX_BATCH = 500

Row = dict[str, Any]


class JobInserts:
    """`insert(row)`: True if the row was inserted, False if its id or idempotency key was taken."""

    def __init__(self, autocommit: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        self._engine = autocommit
        self._batches: Coalescer[Row, bool] = Coalescer(self._insert_all, max_batch=max_batch, name="sql-job-inserts")

    @property
    def batches(self) -> int:
        return self._batches.batches

    async def insert(self, row: Row) -> bool:
        return await self._batches.submit(row)

    async def _insert_all(self, rows: list[Row]) -> list[bool | BaseException]:
        def insert(conn: sa.Connection) -> set[str]:
            return {str(inserted) for inserted in conn.execute(_INSERT_SKIPPING_TAKEN, rows).scalars()}

        try:
            async with self._engine.connect() as conn:
                inserted = await conn.run_sync(insert)
        except exc.DBAPIError as error:
            if len(rows) == 1 or is_transient_error(error):
                return [error] * len(rows)
            # Nothing of the statement was applied: each row alone finds its own outcome.
            return [outcome for row in rows for outcome in await self._insert_all([row])]
        except (exc.TimeoutError, OSError) as error:  # pool exhausted, connection refused
            return [error] * len(rows)
        return [row["id"] in inserted for row in rows]
