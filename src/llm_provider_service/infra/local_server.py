"""The shared life cycle of a private server process: free loopback port, start, readiness poll, signal stop.

A launcher runs its server as a foreground child it can `wait()` on (never a self-daemonising server: orphans
linger as zombies on these machines). `detached=True` puts the child in its own session so that it outlives the
`llm-provider infra up` command; `infra.launcher` then stops it by recorded PID.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_READY_POLL_SECONDS = 0.005
_LOG_TAIL_BYTES = 2000


class ServerStartError(RuntimeError):
    """A server exited or did not become ready in time; the message carries the end of its log."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def make_base_dir(prefix: str) -> Path:
    """A fresh directory under the system temp dir that other OS users may enter (PostgreSQL runs as `postgres`)."""
    base_dir = Path(tempfile.mkdtemp(prefix=prefix))
    base_dir.chmod(0o711)  # mkdtemp makes it 0700; the server user only needs to traverse it
    return base_dir


def port_accepts(port: int, *, timeout_seconds: float = 0.2) -> bool:
    """Whether something accepts TCP connections on the loopback port."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout_seconds):
            return True
    except OSError:
        return False


class LocalServer(ABC):
    """One private server on a loopback port with its files under `base_dir`.

    `start()` returns once the server answers; `stop()` signals it and waits. Both may be repeated: the port is
    chosen on the first start and kept, so tests can stop a server and start it again at the same URL.
    """

    name: ClassVar[str]
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(
        self,
        base_dir: Path,
        *,
        port: int | None = None,
        detached: bool = False,
        start_timeout_seconds: float = 30.0,
    ) -> None:
        self.base_dir = Path(base_dir)
        self._port = port
        self._detached = detached
        self._start_timeout_seconds = start_timeout_seconds
        self._process: subprocess.Popen[bytes] | None = None

    # --- what each server defines ---------------------------------------------------------------------

    @property
    @abstractmethod
    def url(self) -> str:
        """How clients reach the server."""

    @abstractmethod
    def _command(self) -> list[str]:
        """The foreground command line."""

    @abstractmethod
    def _is_ready(self) -> bool:
        """Whether the server answers clients (called until true while starting)."""

    def _prepare(self) -> None:  # noqa: B027 - an optional hook, deliberately empty here
        """One-off setup before each start (directories, initdb)."""

    def _popen_options(self) -> dict[str, Any]:
        """Extra `subprocess.Popen` arguments (e.g. the OS user to run as)."""
        return {}

    # --- life cycle -----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = free_port()
        return self._port

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    @property
    def log_path(self) -> Path:
        return self.base_dir / f"{self.name}.log"

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it answers; a no-op when it is already running."""
        if self.is_running():
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._prepare()
        command = self._command()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argument list built by the launcher
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self._detached,
                **self._popen_options(),
            )
        try:
            self._wait_ready()
        except BaseException:
            self.kill()  # never leave a half-started server behind
            raise
        logger.info("%s started on port %d (pid %d)", self.name, self.port, self._process.pid)

    def stop(self, *, timeout_seconds: float = 15.0) -> int:
        """Ask the server to shut down with its graceful signal; kill it if it does not exit in time.

        Returns its exit code (0 when it was not running)."""
        process = self._process
        if process is None or process.poll() is not None:
            self._process = None
            return process.returncode if process is not None else 0
        process.send_signal(self.stop_signal)
        try:
            process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.1f s; killing it", self.name, timeout_seconds)
            process.kill()
            process.wait()
        self._process = None
        return process.returncode

    def kill(self) -> None:
        """SIGKILL, for crash tests: no graceful shutdown."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self._process is not None  # noqa: S101 - set by start() just before
        deadline = time.monotonic() + self._start_timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise ServerStartError(f"{self.name} exited with code {code} while starting:\n{self.log_tail()}")
            if self._is_ready():
                return
            time.sleep(_READY_POLL_SECONDS)
        self.kill()
        raise ServerStartError(
            f"{self.name} not ready within {self._start_timeout_seconds:.0f} s on port {self.port}:\n{self.log_tail()}"
        )

    def log_tail(self) -> str:
        """The end of the server's log, for error messages."""
        with contextlib.suppress(OSError), self.log_path.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - _LOG_TAIL_BYTES))
            return log.read().decode(errors="replace")
        return "(no log)"
