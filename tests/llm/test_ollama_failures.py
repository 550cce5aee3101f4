"""The Ollama provider when things go wrong, and its other endpoints, against Ollama's wire format (respx).

Errors before and in the middle of an answer, retries, timeouts, ``/api/tags``,
``/api/embed`` and the factory.
"""

from __future__ import annotations

import httpx
import pytest
import respx

from llm import (
    LLMConnectionError,
    LLMInvalidRequestError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
    ProviderFactory,
)
from llm.providers.ollama import OllamaProvider
from tests.llm.ollama_wire import (
    BASE,
    HELLO,
    chunk,
    closed_port,
    error_response,
    final,
    sent_body,
    stream_response,
)

# --- failures ----------------------------------------------------------------------------------


async def test_an_error_line_mid_stream_raises_after_the_text_already_shown(ollama_api, ollama):
    route = ollama_api.post("/api/chat").mock(
        return_value=stream_response(
            chunk("Once upon"), chunk(" a"),
            {"error": "an error was encountered while running the model: unexpected EOF"},
        )
    )
    shown: list[str] = []

    with pytest.raises(LLMServerError, match="unexpected EOF"):
        async for text in ollama().stream_complete(HELLO):
            shown.append(text)

    assert "".join(shown) == "Once upon a"
    assert route.call_count == 1  # never retried once the user has seen words


async def test_nothing_listening_says_to_start_ollama_serve():
    port = closed_port()
    settings = {"base_url": f"http://127.0.0.1:{port}", "max_retries": 1, "retry_backoff": 0.01}
    async with OllamaProvider(settings) as p:
        with pytest.raises(LLMConnectionError) as caught:
            await p.complete(HELLO)

    assert f"cannot reach Ollama at http://127.0.0.1:{port}: is `ollama serve` running?" in str(caught.value)


async def test_a_model_not_pulled_says_ollama_pull_and_is_not_retried(ollama_api, ollama):
    route = ollama_api.post("/api/chat").mock(
        return_value=error_response(404, 'model "llama3.2" not found, try pulling it first')
    )

    with pytest.raises(LLMInvalidRequestError, match="run `ollama pull llama3.2`"):
        await ollama().complete(HELLO)

    assert route.call_count == 1


async def test_a_404_not_about_a_model_points_at_the_base_url(ollama_api, ollama):
    ollama_api.post("/proxy/api/chat").mock(return_value=httpx.Response(404, text="404 page not found"))

    with pytest.raises(LLMInvalidRequestError, match="check llm.ollama.base_url"):
        await ollama(base_url=BASE + "/proxy").complete(HELLO)


async def test_a_server_error_before_the_answer_is_retried(ollama_api, ollama):
    route = ollama_api.post("/api/chat").mock(
        side_effect=[
            error_response(500, "llama runner process has terminated"),
            stream_response(chunk("Hi."), final()),
        ]
    )

    assert (await ollama(max_retries=2).complete(HELLO)).content == "Hi."
    assert route.call_count == 2


async def test_a_rate_limit_with_retry_after_is_retried(ollama_api, ollama):
    route = ollama_api.post("/api/chat").mock(
        side_effect=[
            error_response(429, "too many requests", headers={"Retry-After": "0"}),
            stream_response(chunk("Hi."), final()),
        ]
    )

    assert (await ollama(max_retries=1).complete(HELLO)).content == "Hi."
    assert route.call_count == 2


async def test_a_line_that_is_not_json_is_a_response_error(ollama_api, ollama):
    ollama_api.post("/api/chat").mock(return_value=stream_response(raw=b'{"model": "llama3.2", "message": {\n'))

    with pytest.raises(LLMResponseError, match="Ollama sent data that is not valid JSON"):
        await ollama().complete(HELLO)


async def test_no_answer_in_time_is_a_timeout_retried_then_reported(ollama_api, ollama):
    route = ollama_api.post("/api/chat").mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(LLMTimeoutError, match="did not answer within 5 s"):
        await ollama(timeout=5, max_retries=1).complete(HELLO)

    assert route.call_count == 2


# --- models, embeddings, availability ----------------------------------------------------------


async def test_list_models_reads_api_tags(ollama_api, ollama):
    details = {"format": "gguf", "family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}
    ollama_api.get("/api/tags").mock(
        return_value=httpx.Response(
            200,
            json={
                "models": [
                    {"name": "qwen3:8b", "model": "qwen3:8b", "modified_at": "2025-05-01T10:00:00Z",
                     "size": 5225387923, "digest": "500a1f067a9f", "details": details},
                    {"name": "llama3.2:latest", "model": "llama3.2:latest", "modified_at": "2025-04-01T10:00:00Z",
                     "size": 2019393189, "digest": "a80c4f17acd5", "details": details},
                ]
            },
        )
    )

    assert await ollama().list_models() == ["llama3.2:latest", "qwen3:8b"]


async def test_embed_posts_to_api_embed_with_the_embedding_model(ollama_api, ollama):
    route = ollama_api.post("/api/embed").mock(
        return_value=httpx.Response(
            200, json={"model": "nomic-embed-text", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 8}
        )
    )

    vectors = await ollama(embed_model="nomic-embed-text").embed(["sky", "sea"])

    assert vectors == [[0.1, 0.2], [0.3, 0.4]]
    assert sent_body(route) == {"model": "nomic-embed-text", "input": ["sky", "sea"]}


async def test_a_missing_embedding_model_is_named_in_the_error(ollama_api, ollama):
    ollama_api.post("/api/embed").mock(return_value=error_response(404, 'model "nomic-embed-text" not found'))

    with pytest.raises(LLMInvalidRequestError, match="ollama pull nomic-embed-text"):
        await ollama(embed_model="nomic-embed-text").embed(["sky"])


async def test_is_available_tells_a_running_ollama_from_none():
    port = closed_port()
    async with OllamaProvider({"base_url": f"http://127.0.0.1:{port}", "max_retries": 0}) as absent:
        assert await absent.is_available() is False
    with respx.mock(base_url=BASE) as router:
        router.get("/api/tags").mock(return_value=httpx.Response(200, json={"models": []}))
        async with OllamaProvider({"base_url": BASE}) as present:
            assert await present.is_available() is True


def test_the_factory_builds_it_from_config_yaml():
    provider = ProviderFactory.create_from_config({"llm": {"backend": "ollama", "ollama": {"model": "qwen3"}}})

    assert isinstance(provider, OllamaProvider)
    assert provider.model == "qwen3"
    assert provider.capabilities.tools and provider.capabilities.vision and provider.capabilities.embeddings
