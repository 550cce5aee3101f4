"""The `mlx` backend (OpenAI Chat Completions) against a real `python -m llama_cpp.server`."""

from __future__ import annotations

import pytest

from llm import (
    LLMConnectionError,
    Message,
    MessageRole,
    ProviderFactory,
    StreamEnd,
    TextDelta,
)
from tests.conftest import LlamaServer

QUESTION = [
    Message(MessageRole.SYSTEM, "You are Rosey, a helpful voice assistant. Answer in one short sentence."),
    Message(MessageRole.USER, "What is 12 times 7?"),
]


def provider_for(server: LlamaServer, **settings: object):
    return ProviderFactory.create(
        "mlx", {"llm": {"mlx": {"base_url": server.base_url, "model": "gemma-3-270m", **settings}}}
    )


async def test_streams_text_and_reports_usage(llama_server: LlamaServer) -> None:
    provider = provider_for(llama_server, max_tokens=40, temperature=0.0)
    try:
        events = [event async for event in provider.stream(QUESTION)]
    finally:
        await provider.close()

    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1
    assert isinstance(events[-1], StreamEnd)
    result = events[-1].result
    assert result.content == "".join(deltas)
    assert result.completion_tokens > 0 and result.prompt_tokens > 0
    assert result.finish_reason in ("stop", "length")


async def test_lists_the_served_model(llama_server: LlamaServer) -> None:
    provider = provider_for(llama_server)
    try:
        assert await provider.list_models() == ["gemma-3-270m"]
        assert await provider.is_available() is True
    finally:
        await provider.close()


async def test_a_stopped_server_is_a_clear_connection_error(model_path) -> None:
    server = LlamaServer(model_path)
    server.wait_ready()
    provider = provider_for(server, max_retries=1, retry_backoff=0.01)
    try:
        assert await provider.is_available()
        server.stop()
        with pytest.raises(LLMConnectionError, match=rf"cannot reach .* at {server.base_url}: is the server running"):
            await provider.complete(QUESTION)
        assert await provider.is_available() is False
    finally:
        server.stop()
        await provider.close()
