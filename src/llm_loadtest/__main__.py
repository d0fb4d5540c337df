"""`python -m llm_loadtest` runs the same typer app the service mounts as `llm-provider perf`."""

from llm_loadtest.cli import main

main()
