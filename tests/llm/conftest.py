"""Fixtures for the wire tests: the OpenAI format (openai, mlx, openrouter), Ollama's and Anthropic's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import respx

from llm import LLMProvider, ProviderFactory
from llm.providers.anthropic import AnthropicProvider
from tests.llm.anthropic_wire import API_KEY, BASE_URL, MODEL
from tests.llm.ollama_wire import BASE
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


@pytest.fixture
def ollama_api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def ollama(make) -> Callable[..., LLMProvider]:
    """``ollama(**settings)``: an Ollama provider at the replayed server, closed after the test."""
    return lambda **settings: make("ollama", **{"base_url": BASE, **settings})


@pytest.fixture
def anthropic_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    """The Messages API replayed by respx, with ``ANTHROPIC_API_KEY`` set as a user would."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def anthropic() -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider({"model": MODEL, "retry_backoff": 0.01, "max_retries": 2})
    yield provider
    await provider.close()
