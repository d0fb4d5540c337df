"""The shared budget contract, run against `InMemoryRateBudget`."""

from __future__ import annotations

import pytest

from llm_provider_service.adapters.memory_budget import InMemoryRateBudget
from llm_provider_service.ports import RateBudget
from llm_provider_service.service.budgets import BudgetPolicy
from tests.unit.budget.contract import BudgetContract, BudgetFactory


class TestInMemoryRateBudget(BudgetContract):
    @pytest.fixture
    def budget_factory(self) -> BudgetFactory:
        def build(policy: BudgetPolicy) -> RateBudget:
            return InMemoryRateBudget(policy)

        return build
