"""A private `redis-server` on a loopback port, optionally durable (append-only file) for restart tests."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import redis

from llm_provider_service.infra.binaries import redis_server_binary
from llm_provider_service.infra.local_server import LOOPBACK, LocalServer


class RedisServer(LocalServer):
    """`redis-server` in the foreground, data in `base_dir`.

    Not durable by default (`--save '' --appendonly no`): a restart starts empty, as after a failover to an empty
    replica. `durable=True` turns on the append-only file (`appendfsync everysec`, or `always` with
    `fsync_always=True`) so a restart keeps the data.
    """

    name = "redis"
    stop_signal = signal.SIGTERM

    def __init__(
        self,
        base_dir: Path,
        *,
        port: int | None = None,
        durable: bool = False,
        fsync_always: bool = False,
        detached: bool = False,
    ) -> None:
        super().__init__(base_dir, port=port, detached=detached)
        self.durable = durable
        self.fsync_always = fsync_always

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def _command(self) -> list[str]:
        command = [
            str(redis_server_binary()),
            "--port", str(self.port),
            "--bind", LOOPBACK,
            "--save", "",
            "--daemonize", "no",
            "--dir", str(self.base_dir),
            "--logfile", "",
        ]  # fmt: skip
        if self.durable:
            fsync = "always" if self.fsync_always else "everysec"
            command += ["--appendonly", "yes", "--appendfsync", fsync]
        else:
            command += ["--appendonly", "no"]
        return command

    def _is_ready(self) -> bool:
        # A raw PING: Redis also accepts connections while it loads the append-only file and answers -LOADING.
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(64).startswith(b"+PONG")
        except OSError:
            return False


def flush_database(url: str) -> None:
    """Empty the database the URL names (FLUSHDB), so that a test starts from nothing."""
    client = redis.Redis.from_url(url, socket_timeout=10)
    try:
        client.flushdb()
    finally:
        client.close()
