"""OpenRouter, local servers (mlx), models, embeddings and the provider factory.

Replayed over respx in OpenAI's documented wire format (see openai_wire.py).
"""

from __future__ import annotations

import httpx
import pytest
import respx

from llm import (
    CompletionResult,
    LLMAuthError,
    LLMInvalidRequestError,
    LLMProvider,
    LLMResponseError,
    LLMServerError,
    Message,
    MessageRole,
    ProviderFactory,
    StreamEnd,
    TextDelta,
)
from llm.providers.mlx import MLXProvider
from llm.providers.openai import OpenAIProvider
from llm.providers.openrouter import OpenRouterProvider
from tests.llm.openai_wire import (
    HELLO,
    KEY,
    OPENAI,
    OPENROUTER,
    chunk,
    collect,
    collect_until_error,
    error_response,
    role_chunk,
    sent_json,
    sse_body,
    sse_response,
    text_chunks,
    texts,
    the_end,
)

pytestmark = pytest.mark.usefixtures("api_keys")


# ---------------------------------------------------------------- OpenRouter and local servers


async def test_openrouter_sends_its_attribution_headers_and_the_key(make):
    with respx.mock(base_url=OPENROUTER) as mock:
        route = mock.post("/chat/completions").mock(return_value=sse_response(text_chunks("ok")))
        await make(
            "openrouter", model="meta-llama/llama-3.1-8b-instruct", site_url="https://rosey.example",
            site_name="Rosey Test",
        ).complete(HELLO)

    request = route.calls.last.request
    assert request.headers["http-referer"] == "https://rosey.example"
    assert request.headers["x-title"] == "Rosey Test"
    assert request.headers["authorization"] == "Bearer sk-or-v1-test0123456789"
    assert sent_json(route)["model"] == "meta-llama/llama-3.1-8b-instruct"


async def test_openrouter_without_its_key_names_its_variable(make, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY")

    with pytest.raises(LLMAuthError, match="OPENROUTER_API_KEY"):
        await make("openrouter").complete(HELLO)


async def test_openrouter_error_event_with_a_numeric_code_is_reported(make):
    """OpenRouter reports an upstream failure mid-stream as ``error`` with ``finish_reason: "error"``."""
    failed = chunk({"content": ""}, finish_reason="error")
    failed["error"] = {"code": 502, "message": "Provider returned error"}
    with respx.mock(base_url=OPENROUTER) as mock:
        mock.post("/chat/completions").mock(
            return_value=sse_response([role_chunk(), chunk({"content": "Par"}), failed])
        )
        seen, error = await collect_until_error(make("openrouter"))

    assert texts(seen) == ["Par"]
    assert isinstance(error, LLMServerError)
    assert "Provider returned error" in str(error)


@pytest.mark.parametrize("backend", ["mlx", "local_gpt_oss"])
async def test_a_local_server_gets_v1_appended_and_no_authorization(backend, monkeypatch):
    """A config may give the bare server address ``http://localhost:8080``; the server answers under /v1."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # an OpenAI key in the environment must not leak to it
    config = {"llm": {"backend": backend, backend: {"base_url": "http://localhost:8080", "retry_backoff": 0.01}}}
    provider = ProviderFactory.create(backend, config)
    try:
        assert isinstance(provider, MLXProvider)
        with respx.mock(base_url="http://localhost:8080") as mock:
            route = mock.post("/v1/chat/completions").mock(return_value=sse_response(text_chunks("Local!")))
            result = await provider.complete(HELLO)
    finally:
        await provider.close()

    assert result.content == "Local!"
    request = route.calls.last.request
    assert str(request.url) == "http://localhost:8080/v1/chat/completions"
    assert "authorization" not in request.headers


async def test_the_alias_local_gpt_oss_is_chosen_by_create_from_config():
    config = {"llm": {"backend": "local_gpt_oss", "local_gpt_oss": {"base_url": "http://127.0.0.1:1234/"}}}
    provider = ProviderFactory.create_from_config(config)

    assert isinstance(provider, MLXProvider)
    assert provider.base_url == "http://127.0.0.1:1234/v1"
    await provider.close()


async def test_a_local_server_with_a_key_configured_sends_it(make, monkeypatch):
    """vLLM started with ``--api-key`` wants a bearer token too."""
    monkeypatch.setenv("VLLM_KEY", "token-abc123")
    with respx.mock(base_url="http://localhost:8000/v1") as mock:
        route = mock.post("/chat/completions").mock(return_value=sse_response(text_chunks("ok")))
        await make("mlx", base_url="http://localhost:8000/v1", api_key_env="VLLM_KEY").complete(HELLO)

    assert route.calls.last.request.headers["authorization"] == "Bearer token-abc123"


# ---------------------------------------------------------------- models and embeddings


async def test_list_models_reads_the_ids_of_slash_models(make, openai_api):
    route = openai_api.get("/models").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "data": [
                    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
                    {"id": "gpt-4.1", "object": "model", "created": 1744316542, "owned_by": "system"},
                    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"},
                ],
            },
        )
    )
    provider = make("openai")

    models = await provider.list_models()

    assert set(models) == {"gpt-4o-mini", "gpt-4.1", "text-embedding-3-small"}
    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"
    assert await provider.is_available()


async def test_is_available_is_false_but_quiet_when_the_key_is_rejected(make, openai_api):
    openai_api.get("/models").mock(
        return_value=error_response(401, "Incorrect API key provided", type="invalid_request_error", code=None)
    )

    assert await make("openai").is_available() is False


async def test_embed_returns_vectors_in_the_order_of_the_texts(make, openai_api):
    route = openai_api.post("/embeddings").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 1, "embedding": [0.5, -0.5]},
                    {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
                ],
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": 4, "total_tokens": 4},
            },
        )
    )

    vectors = await make("openai").embed(["first", "second"])

    assert vectors == [[0.1, 0.2], [0.5, -0.5]]
    assert sent_json(route) == {"model": "text-embedding-3-small", "input": ["first", "second"]}


async def test_embed_with_a_malformed_answer_is_a_response_error(make, openai_api):
    openai_api.post("/embeddings").mock(
        return_value=httpx.Response(200, json={"data": [{"index": 0, "vector": [1.0]}]})
    )

    with pytest.raises(LLMResponseError):
        await make("openai").embed(["only"])


# ---------------------------------------------------------------- the factory


async def test_create_from_config_picks_the_backend_named_by_llm_backend():
    config = {
        "llm": {
            "backend": "openai",
            "openai": {"model": "gpt-4.1-mini", "max_tokens": 300},
            "openrouter": {"model": "not/this-one"},
        }
    }

    provider = ProviderFactory.create_from_config(config)

    assert type(provider) is OpenAIProvider
    assert provider.model == "gpt-4.1-mini"
    assert provider.settings.max_tokens == 300
    assert type(ProviderFactory.create("openrouter", config)) is OpenRouterProvider


async def test_an_unknown_backend_lists_the_choices():
    with pytest.raises(LLMInvalidRequestError) as caught:
        ProviderFactory.create_from_config({"llm": {"backend": "gpt5-turbo"}})

    message = str(caught.value)
    assert "gpt5-turbo" in message
    for choice in ("openai", "mlx", "openrouter", "ollama", "anthropic", "local"):
        assert choice in message


async def test_an_injected_client_carries_the_requests():
    """Tests and benchmarks inject a transport and run the real provider code."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse_body(text_chunks("Injected."))
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        provider = ProviderFactory.create("openai", {}, client=client)
        result = await provider.complete(HELLO)
        await provider.close()
        assert not client.is_closed, "a provider does not close a client it was given"

    assert result.content == "Injected."
    assert str(seen[0].url) == f"{OPENAI}/chat/completions"


class SaysNothing(LLMProvider):
    """A provider whose stream ends before any event."""

    async def _stream_once(self, request):
        return
        yield


async def test_a_stream_that_ends_before_any_event_is_a_response_error():
    with pytest.raises(LLMResponseError, match="without a result"):
        await SaysNothing({"retry_backoff": 0.01}).complete(HELLO)


class Echo(LLMProvider):
    """A backend of one's own: it answers with the question, word by word."""

    async def _stream_once(self, request):
        words = [word + " " for word in request.messages[-1].content.split()]
        for word in words:
            yield TextDelta(word)
        yield StreamEnd(CompletionResult(content="".join(words), model=request.model))


async def test_a_registered_backend_is_created_from_its_config_section_and_streams(restore_registry):
    ProviderFactory.register_provider("echo", Echo)

    provider = ProviderFactory.create_from_config({"llm": {"backend": "echo", "echo": {"model": "echo-1"}}})
    events = await collect(provider, [Message(MessageRole.USER, "one two three")])

    assert isinstance(provider, Echo)
    assert texts(events) == ["one ", "two ", "three "]
    assert the_end(events).content == "one two three "
    assert the_end(events).model == "echo-1"
    assert (await provider.complete([Message(MessageRole.USER, "a b")])).content == "a b "


def test_register_provider_refuses_what_is_not_a_provider(restore_registry):
    with pytest.raises(TypeError):
        ProviderFactory.register_provider("bad", dict)  # type: ignore[arg-type]
