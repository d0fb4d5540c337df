"""A private PostgreSQL server (initdb + postgres in the foreground), run as the `postgres` OS user when root.

PostgreSQL refuses to run as root, so as root the launcher runs `initdb` and `postgres` as the `postgres` user and
hands `base_dir` to it; every directory above `base_dir` must be enterable by that user (not under /root, which is
0700; use a directory under /tmp).
"""

from __future__ import annotations

import os
import pwd
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any

from llm_provider_service.infra.binaries import postgres_bin_dir
from llm_provider_service.infra.local_server import LOOPBACK, LocalServer, ServerStartError

SUPERUSER = "postgres"
# Settings that make small commits 6-8x faster and must never be used for durability tests or reported benchmarks.
FAST_UNSAFE_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresServer(LocalServer):
    """PostgreSQL with trust authentication for `postgres` on a loopback port; data in `base_dir/data`.

    `fast=True` adds `FAST_UNSAFE_SETTINGS` (tests only). Stop is SIGINT (fast shutdown); a restart keeps the data.
    """

    name = "postgres"
    stop_signal = signal.SIGINT

    def __init__(
        self,
        base_dir: Path,
        *,
        port: int | None = None,
        fast: bool = False,
        max_connections: int = 200,
        detached: bool = False,
    ) -> None:
        super().__init__(base_dir, port=port, detached=detached)
        self.fast = fast
        self.max_connections = max_connections
        self._bin_dir: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` maintenance database."""
        return self.database_url(SUPERUSER)

    def database_url(self, database: str) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@{LOOPBACK}:{self.port}/{database}"

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = postgres_bin_dir()
        return self._bin_dir

    def _prepare(self) -> None:
        account = _server_account()
        if account is not None:
            _hand_over(self.base_dir, account)
        if (self.data_dir / "PG_VERSION").exists():
            return
        initdb = [
            str(self.bin_dir / "initdb"),
            "-D", str(self.data_dir),
            "-U", SUPERUSER,
            "-A", "trust",
            "-E", "UTF8",
            "--no-locale",
            "--no-sync",
        ]  # fmt: skip
        result = subprocess.run(  # noqa: S603 - fixed argument list
            initdb, capture_output=True, check=False, **_run_as(account)
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise ServerStartError(f"initdb failed in {self.data_dir}:\n{output}")

    def _command(self) -> list[str]:
        settings = {
            "listen_addresses": LOOPBACK,
            "max_connections": str(self.max_connections),
            **(FAST_UNSAFE_SETTINGS if self.fast else {}),
        }
        command = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        command += ["-k", str(self.base_dir)]
        for key, value in settings.items():
            command += ["-c", f"{key}={value}"]
        return command

    def _popen_options(self) -> dict[str, Any]:
        return _run_as(_server_account())

    def _is_ready(self) -> bool:
        probe = [str(self.bin_dir / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(self.port), "-U", SUPERUSER]
        try:
            return subprocess.run(probe, check=False, timeout=5).returncode == 0  # noqa: S603 - fixed arguments
        except subprocess.TimeoutExpired:
            return False


def _server_account() -> pwd.struct_passwd | None:
    """The OS account to run as: `postgres` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError as exc:
        raise ServerStartError("running as root needs the `postgres` OS user (apt-get install -y postgresql)") from exc


def _run_as(account: pwd.struct_passwd | None) -> dict[str, Any]:
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "env": _server_env(account)}


def _server_env(account: pwd.struct_passwd) -> dict[str, str]:
    # A clean environment: root's HOME and PG* variables must not leak into the server.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": account.pw_dir, "LC_ALL": "C", "LANG": "C"}


def _hand_over(base_dir: Path, account: pwd.struct_passwd) -> None:
    """Give `base_dir` to the server account and check that account can reach it."""
    _check_enterable(base_dir.resolve().parent, account)
    for directory, _dirs, files in os.walk(base_dir):
        os.chown(directory, account.pw_uid, account.pw_gid)
        for file in files:
            os.chown(Path(directory) / file, account.pw_uid, account.pw_gid)
    base_dir.chmod(0o700)


def server_can_enter(directory: Path) -> bool:
    """Whether the OS user PostgreSQL runs as can reach `directory` (always true when we are not root)."""
    account = _server_account()
    return account is None or _first_closed(directory.resolve(), account) is None


def _first_closed(directory: Path, account: pwd.struct_passwd) -> Path | None:
    for ancestor in (directory, *directory.parents):
        if not ancestor.exists():
            continue
        mode = ancestor.stat()
        if mode.st_uid == account.pw_uid:
            allowed = bool(mode.st_mode & stat.S_IXUSR)
        elif mode.st_gid == account.pw_gid:
            allowed = bool(mode.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(mode.st_mode & stat.S_IXOTH)
        if not allowed:
            return ancestor
    return None


def _check_enterable(directory: Path, account: pwd.struct_passwd) -> None:
    ancestor = _first_closed(directory, account)
    if ancestor is not None:
        raise ServerStartError(
            f"the {account.pw_name!r} OS user cannot enter {ancestor}: make it enterable (chmod o+x) or put "
            "the PostgreSQL directory elsewhere (e.g. under /tmp)"
        )
