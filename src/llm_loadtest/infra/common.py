"""Shared shapes of the infrastructure micro-benchmarks: a measured rate and a native-tool subprocess."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One measured rate; `native_per_second` is the native tool's rate for the closest equivalent."""

    name: str
    operations: int
    seconds: float
    unit: str
    native_tool: str | None = None
    native_per_second: float | None = None
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0

    @property
    def ratio_to_native(self) -> float | None:
        if not self.native_per_second:
            return None
        return self.per_second / self.native_per_second

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_second": self.per_second, "ratio_to_native": self.ratio_to_native}


class NativeToolError(RuntimeError):
    """A native benchmark tool is missing, failed or produced output we cannot read."""


async def run_tool(*argv: str, timeout_seconds: float) -> str:
    """Run a native tool as a child process with a hard time bound; returns stdout."""
    binary = shutil.which(argv[0])
    if binary is None:
        raise NativeToolError(f"{argv[0]} is not installed")
    process = await asyncio.create_subprocess_exec(
        binary, *argv[1:], stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(timeout_seconds):
            stdout, stderr = await process.communicate()
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise NativeToolError(f"{argv[0]} did not finish within {timeout_seconds:.0f} s") from exc
    if process.returncode != 0:
        raise NativeToolError(f"{argv[0]} exited {process.returncode}: {stderr.decode(errors='replace')[-300:]}")
    return stdout.decode(errors="replace")
