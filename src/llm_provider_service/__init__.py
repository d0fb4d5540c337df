"""LLM Provider Service: one durable, observable gateway between applications and LLM vendors."""

__version__ = "0.1.0"
