"""The Redis client the adapters own: a bounded pool where a burst waits for a connection instead of failing."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

# More than a worker's job slots plus an API's in-flight accepts ever hold at once (their writes are coalesced, so
# far fewer are used); redis-py's default pool instead *fails* the 101st concurrent command ("Too many
# connections"), which the adapters would report as a Redis outage.
MAX_CONNECTIONS = 256
# How long a command waits for a pooled connection before it fails like an outage would.
POOL_WAIT_SECONDS = 5.0


def pooled_client(url: str, *, socket_timeout_seconds: float) -> Redis:
    """A client that fails fast when Redis is down (1 s connect, one quick retry) but queues through a busy pool."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_SECONDS,
        socket_connect_timeout=1.0,
        socket_timeout=socket_timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
    )
    return Redis.from_pool(pool)
