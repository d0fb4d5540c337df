"""`python -m llm_provider_service` runs the `llm-provider` command line."""

from llm_provider_service.cli import main

main()
