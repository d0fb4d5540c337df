"""Shared by the `run` and `demo` commands: run with a progress bar, then print, write and exit."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from llm_loadtest.load import loop
from llm_loadtest.load.engine import RunOptions, execute
from llm_loadtest.metrics.result import RunResult
from llm_loadtest.reports import console as console_report
from llm_loadtest.reports.outputs import write_all


def make_console() -> Console:
    """Rich console; when output is not a terminal (CI logs, pipes) use 140 columns instead of rich's 80."""
    return Console(width=None if sys.stdout.isatty() else 140)


def run_with_progress(options: RunOptions, console: Console) -> RunResult:
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(f"{options.scenario.name} -> {options.target}", total=None)

        def progress(done: int, total: int) -> None:
            if done % 50 == 0 or done == total:
                bar.update(task, completed=done, total=total)

        return loop.run(execute(options, progress=progress))


def finish(result: RunResult, out: Path, console: Console) -> None:
    """Print the table, write every output, exit with the verdict's code."""
    console_report.render(result, console)
    paths = write_all(result, out)
    console.print(f"Wrote {', '.join(str(p) for p in paths.values())}")
    raise typer.Exit(int(result.exit_code))
