"""Writes every output of a run into a directory: result.json, report.html, summary.md, junit.xml."""

from __future__ import annotations

from pathlib import Path

from llm_loadtest.metrics.result import RunResult, save
from llm_loadtest.reports import html_report, junit, markdown


def write_all(result: RunResult, out_dir: Path, *, include_json: bool = True) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "html": out_dir / "report.html",
        "markdown": out_dir / "summary.md",
        "junit": out_dir / "junit.xml",
    }
    if include_json:
        paths["json"] = out_dir / "result.json"
        save(result, paths["json"])
    paths["html"].write_text(html_report.render(result), encoding="utf-8")
    paths["markdown"].write_text(markdown.render(result), encoding="utf-8")
    paths["junit"].write_text(junit.render(result), encoding="utf-8")
    return paths
