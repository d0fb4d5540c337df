"""Provider adapters: each vendor's wire format behind the `LLMProvider` port, the mock, and the manifest."""
