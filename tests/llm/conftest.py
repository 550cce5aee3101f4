"""Fixtures for the OpenAI-format wire tests (openai, mlx, openrouter)."""

from __future__ import annotations

from typing import Any

import pytest
import respx

from llm import LLMProvider, ProviderFactory
from tests.llm.openai_wire import KEY, OPENAI


@pytest.fixture
def api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-test0123456789")


@pytest.fixture
async def make():
    """``make(backend, **settings)``: a provider from a config dict, closed after the test."""
    created: list[LLMProvider] = []

    def _make(backend: str = "openai", **settings: Any) -> LLMProvider:
        settings.setdefault("retry_backoff", 0.01)
        provider = ProviderFactory.create(backend, {"llm": {"backend": backend, backend: settings}})
        created.append(provider)
        return provider

    yield _make
    for provider in created:
        await provider.close()


@pytest.fixture
def openai_api():
    with respx.mock(base_url=OPENAI, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def restore_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ProviderFactory, "_registry", dict(ProviderFactory._registry))
