"""`serve --processes N`: N `serve` children sharing one port with SO_REUSEPORT, stopped together on SIGTERM."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

logger = logging.getLogger(__name__)

# How long the supervisor waits for its children's own graceful drain before it kills them.
KILL_AFTER_GRACE_SECONDS = 15.0
_POLL_SECONDS = 0.2


class ProcessesError(ValueError):
    """`--processes` asked for something that cannot be correct (e.g. several in-process queues)."""


def check_shareable(processes: int, *, redis_url: str | None) -> None:
    """The in-process queue lives in one process's memory: a job accepted by one child would only ever be
    claimed by that child's worker, and every child's reconciler would re-enqueue the others' queued jobs from
    the shared SQLite store. So several processes need the shared Redis queue."""
    if processes < 1:
        raise ProcessesError("--processes must be at least 1")
    if processes > 1 and not redis_url:
        raise ProcessesError(
            "--processes > 1 needs a shared queue: set LLM_PROVIDER_REDIS_URL (and a shared database, "
            "LLM_PROVIDER_DATABASE_URL); the embedded in-process queue belongs to a single process"
        )


def reuse_port_socket(host: str, port: int, *, listen: bool) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT: the kernel spreads new connections over every listener of the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
        sock.setblocking(False)
    return sock


def _child_command(host: str, port: int, no_worker: bool) -> list[str]:
    command = [sys.executable, "-m", "llm_provider_service", "serve", "--host", host, "--port", str(port)]
    return [*command, "--reuse-port", *(["--no-worker"] if no_worker else [])]


def _stop_all(children: Sequence[subprocess.Popen[bytes]], grace_seconds: float) -> None:
    """SIGTERM every live child by PID (each drains: stop accepting, finish jobs, flush the outbox), then wait."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("child %d did not stop within %.0f s; killing it", child.pid, grace_seconds)
            child.kill()
            child.wait()


def supervise(processes: int, *, host: str, port: int, no_worker: bool, grace_seconds: float) -> int:
    """Run `processes` children on one port until SIGTERM/SIGINT or until one exits; returns the exit code.

    The supervisor keeps a bound, non-listening reservation of the port (so `--port 0` resolves once, and no other
    program can take the port between children); it never accepts connections itself. A child that dies takes the
    group down (exit 1): restarts are the job of whatever supervises this process (systemd, Kubernetes).
    """
    reservation = reuse_port_socket(host, port, listen=False)
    port = int(reservation.getsockname()[1])
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    children: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(processes):
            # One at a time, so that a failure part-way leaves the started ones in `children` for the cleanup below.
            children.append(subprocess.Popen(_child_command(host, port, no_worker)))  # noqa: S603, PERF401
        logger.info("serving on %s:%d with %d processes (pids %s)", host, port, processes, [c.pid for c in children])
        while not stopping:
            exited = [child for child in children if child.poll() is not None]
            if exited:
                logger.error("child %d exited with %s; stopping the others", exited[0].pid, exited[0].returncode)
                _stop_all(children, grace_seconds + KILL_AFTER_GRACE_SECONDS)
                return 1
            time.sleep(_POLL_SECONDS)
        _stop_all(children, grace_seconds + KILL_AFTER_GRACE_SECONDS)
        return max((abs(child.returncode or 0) for child in children), default=0)
    finally:
        if any(child.poll() is None for child in children):  # an exception above: leave no orphan
            _stop_all(children, 0.0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reservation.close()
