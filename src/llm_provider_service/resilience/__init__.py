"""Resilience in the core: retry backoff with full jitter and per-provider circuit breakers (no I/O)."""

from llm_provider_service.resilience.circuit_breaker import CircuitBreaker, CircuitBreakerRegistry, CircuitState
from llm_provider_service.resilience.retry import RetryPolicy, call_with_retries

__all__ = ["CircuitBreaker", "CircuitBreakerRegistry", "CircuitState", "RetryPolicy", "call_with_retries"]
