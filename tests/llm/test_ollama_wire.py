"""The Ollama provider against Ollama's own wire format, replayed with respx.

The streams below are the NDJSON that ``POST /api/chat`` sends (shapes from
Ollama's API documentation), cut into network chunks that split lines in the
middle, as a real socket does.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

from llm import (
    Image,
    LLMConnectionError,
    LLMInvalidRequestError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
    Message,
    MessageRole,
    ProviderFactory,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolDefinition,
)
from llm.providers.ollama import OllamaProvider
from llm.settings import OllamaSettings

BASE = "http://ollama.test:11434"
HELLO = [Message(MessageRole.USER, "Why is the sky blue?")]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
WEATHER = ToolDefinition(
    name="get_current_weather",
    description="Get the current weather for a location",
    parameters={"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)


# --- Ollama's stream, built line by line -------------------------------------------------------


def chunk(content: str = "", *, thinking: str | None = None, tool_calls: list[dict] | None = None) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {"model": "llama3.2", "created_at": "2025-05-27T22:54:57.641643Z", "message": message, "done": False}


def final(done_reason: str = "stop", prompt_eval_count: int = 26, eval_count: int = 282) -> dict:
    return {
        "model": "llama3.2",
        "created_at": "2025-05-27T22:54:58.100000Z",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": done_reason,
        "total_duration": 4883583458,
        "load_duration": 1334875,
        "prompt_eval_count": prompt_eval_count,
        "prompt_eval_duration": 342546000,
        "eval_count": eval_count,
        "eval_duration": 4535599000,
    }


def call(name: str, arguments: Any, **extra: Any) -> dict:
    return {"function": {"name": name, "arguments": arguments}, **extra}


def ndjson(*objects: dict) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


class _Pieces(httpx.AsyncByteStream):
    """The bytes as a socket delivers them: fixed-size pieces that ignore line ends."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.size):
            yield self.data[start : start + self.size]


def stream_response(*objects: dict, piece: int = 7, raw: bytes = b"") -> httpx.Response:
    """A 200 carrying ``objects`` as NDJSON (then ``raw``), delivered in ``piece``-byte pieces."""
    data = ndjson(*objects) + raw
    return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, stream=_Pieces(data, piece))


def error_response(status: int, error: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": error}, headers=headers)


def closed_port() -> int:
    """A port on which nothing listens: bound once to get a free one, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def ollama() -> AsyncIterator[Callable[..., OllamaProvider]]:
    providers: list[OllamaProvider] = []

    def make(**settings: Any) -> OllamaProvider:
        provider = OllamaProvider({"base_url": BASE, "retry_backoff": 0.01, **settings})
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        await provider.close()


async def events_of(provider: OllamaProvider, messages: list[Message] = HELLO, **kwargs: Any) -> list:
    return [event async for event in provider.stream(messages, **kwargs)]


def sent_body(route: respx.Route, index: int = -1) -> dict:
    return json.loads(route.calls[index].request.content)


# --- streaming an answer -----------------------------------------------------------------------


async def test_text_streams_in_order_then_one_stream_end_with_the_whole_result(api, ollama):
    api.post("/api/chat").mock(
        return_value=stream_response(chunk("The sky"), chunk(" is"), chunk(" blue."), final(), piece=5)
    )

    events = await events_of(ollama())

    assert events[:3] == [TextDelta("The sky"), TextDelta(" is"), TextDelta(" blue.")]
    assert len(events) == 4 and isinstance(events[-1], StreamEnd)
    result = events[-1].result
    assert result.content == "The sky is blue."
    assert result.model == "llama3.2"
    assert (result.prompt_tokens, result.completion_tokens, result.tokens_used) == (26, 282, 308)
    assert result.finish_reason == "stop"
    assert result.metadata["total_duration"] == 4883583458
    assert result.metadata["eval_duration"] == 4535599000


async def test_one_byte_pieces_and_blank_lines_change_nothing(api, ollama):
    data = ndjson(chunk("Hel"), chunk("lo")) + b"\n\n" + ndjson(final())
    api.post("/api/chat").mock(return_value=httpx.Response(200, stream=_Pieces(data, 1)))

    events = await events_of(ollama())

    assert events[:2] == [TextDelta("Hel"), TextDelta("lo")]
    assert events[2].result.content == "Hello" and len(events) == 3


async def test_an_answer_cut_by_the_token_limit_says_length(api, ollama):
    api.post("/api/chat").mock(return_value=stream_response(chunk("Once upon a"), final("length", eval_count=3)))

    result = await ollama().complete(HELLO, max_tokens=3)

    assert result.finish_reason == "length"
    assert result.completion_tokens == 3


async def test_thinking_arrives_as_reasoning_and_never_in_the_answer(api, ollama):
    api.post("/api/chat").mock(
        return_value=stream_response(
            chunk(thinking="The user asks about"), chunk(thinking=" Rayleigh scattering."),
            chunk("Rayleigh scattering."), final(),
        )
    )

    events = await events_of(ollama(think=True))

    assert events[:3] == [
        ReasoningDelta("The user asks about"),
        ReasoningDelta(" Rayleigh scattering."),
        TextDelta("Rayleigh scattering."),
    ]
    result = events[-1].result
    assert result.content == "Rayleigh scattering."
    assert result.reasoning == "The user asks about Rayleigh scattering."


async def test_a_stream_that_stops_before_its_final_line_is_an_error_not_a_short_answer(api, ollama):
    api.post("/api/chat").mock(return_value=stream_response(chunk("The sky")))
    seen: list = []

    with pytest.raises(LLMConnectionError, match="before finishing"):
        async for event in ollama(max_retries=0).stream(HELLO):
            seen.append(event)

    assert seen == [TextDelta("The sky")]


# --- what is sent ------------------------------------------------------------------------------


async def test_call_values_and_config_options_reach_ollama_as_options(api, ollama):
    route = api.post("/api/chat").mock(return_value=stream_response(final()))
    provider = ollama(
        options={"num_ctx": 8192, "top_p": 0.9},
        keep_alive="10m",
        think=True,
    )

    await provider.complete(HELLO, temperature=0.2, max_tokens=64, model="qwen3")

    body = sent_body(route)
    assert body["model"] == "qwen3"
    assert body["stream"] is True
    assert body["options"] == {"num_ctx": 8192, "top_p": 0.9, "temperature": 0.2, "num_predict": 64}
    assert body["keep_alive"] == "10m"
    assert body["think"] is True
    assert body["messages"] == [{"role": "user", "content": "Why is the sky blue?"}]


def test_temperature_inside_options_points_at_its_own_key():
    with pytest.raises(ValidationError, match="set temperature as llm.ollama.temperature"):
        OllamaSettings(options={"temperature": 0.9})


def test_an_openai_compatible_base_url_is_turned_into_the_native_one():
    assert OllamaSettings(base_url="http://localhost:11434/v1/").base_url == "http://localhost:11434"


async def test_unset_keep_alive_and_think_are_left_to_ollama(api, ollama):
    route = api.post("/api/chat").mock(return_value=stream_response(final()))

    await ollama(temperature=0.5, max_tokens=100).complete(HELLO)

    body = sent_body(route)
    assert "keep_alive" not in body and "think" not in body and "tools" not in body
    assert body["options"] == {"temperature": 0.5, "num_predict": 100}


async def test_images_go_as_base64_on_the_user_message(api, ollama):
    route = api.post("/api/chat").mock(return_value=stream_response(chunk("A cat."), final()))
    picture = Message(MessageRole.USER, "What is in this picture?", images=[Image.from_bytes(PNG)])

    await ollama().complete([picture])

    (sent,) = sent_body(route)["messages"]
    assert sent["content"] == "What is in this picture?"
    assert sent["images"] == [base64.b64encode(PNG).decode()]


async def test_tools_go_in_function_format_and_results_as_tool_messages(api, ollama):
    route = api.post("/api/chat").mock(return_value=stream_response(chunk("It is 21 °C."), final()))
    conversation = [
        Message(MessageRole.USER, "Weather in Paris?"),
        Message(MessageRole.ASSISTANT, "", tool_calls=[ToolCall("call_1", WEATHER.name, {"location": "Paris"})]),
        Message(MessageRole.TOOL, '{"celsius": 21}', tool_call_id="call_1"),
    ]

    await ollama().complete(conversation, tools=[WEATHER])

    body = sent_body(route)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather for a location",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assistant, result = body["messages"][1:]
    assert assistant["tool_calls"] == [
        {"id": "call_1", "function": {"name": "get_current_weather", "arguments": {"location": "Paris"}}}
    ]
    assert result == {
        "role": "tool",
        "content": '{"celsius": 21}',
        "tool_name": "get_current_weather",  # found from the call, though the result was stored without it
        "tool_call_id": "call_1",
    }


async def test_a_hosted_ollama_gets_the_bearer_key_and_a_local_one_none(api, ollama, monkeypatch):
    route = api.get("/api/tags").mock(return_value=httpx.Response(200, json={"models": []}))
    monkeypatch.setenv("OLLAMA_TEST_KEY", "secret-token")

    await ollama(api_key_env="OLLAMA_TEST_KEY").list_models()
    await ollama().list_models()

    assert route.calls[0].request.headers["authorization"] == "Bearer secret-token"
    assert "authorization" not in route.calls[1].request.headers


# --- tool calls --------------------------------------------------------------------------------


async def test_a_tool_call_arrives_whole_with_object_arguments_and_a_fresh_id(api, ollama):
    api.post("/api/chat").mock(
        return_value=stream_response(
            chunk(tool_calls=[call("get_current_weather", {"location": "Toronto", "format": "celsius"})]),
            final(),
        )
    )

    events = await events_of(ollama(), tools=[WEATHER])

    assert [type(e) for e in events] == [ToolCallEvent, StreamEnd]
    made = events[0].call
    assert made.name == "get_current_weather"
    assert made.arguments == {"location": "Toronto", "format": "celsius"}
    assert made.id.startswith("call_") and len(made.id) > len("call_")
    result = events[-1].result
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == [made]


async def test_two_tool_calls_get_two_distinct_ids(api, ollama):
    api.post("/api/chat").mock(
        return_value=stream_response(
            chunk(tool_calls=[call("get_current_weather", {"location": "Paris"}),
                              call("get_current_weather", {"location": "Rome"})]),
            final(),
        )
    )

    result = await ollama().complete(HELLO, tools=[WEATHER])

    assert [c.arguments["location"] for c in result.tool_calls] == ["Paris", "Rome"]
    assert len({c.id for c in result.tool_calls}) == 2


async def test_ids_sent_by_newer_ollama_are_kept_and_string_arguments_parsed(api, ollama):
    api.post("/api/chat").mock(
        return_value=stream_response(
            chunk(tool_calls=[call("get_current_weather", '{"location": "Oslo"}', id="call_x1")]), final()
        )
    )

    (made,) = (await ollama().complete(HELLO, tools=[WEATHER])).tool_calls

    assert made == ToolCall("call_x1", "get_current_weather", {"location": "Oslo"})


# --- failures ----------------------------------------------------------------------------------


async def test_an_error_line_mid_stream_raises_after_the_text_already_shown(api, ollama):
    route = api.post("/api/chat").mock(
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


async def test_a_model_not_pulled_says_ollama_pull_and_is_not_retried(api, ollama):
    route = api.post("/api/chat").mock(
        return_value=error_response(404, 'model "llama3.2" not found, try pulling it first')
    )

    with pytest.raises(LLMInvalidRequestError, match="run `ollama pull llama3.2`"):
        await ollama().complete(HELLO)

    assert route.call_count == 1


async def test_a_404_not_about_a_model_points_at_the_base_url(api, ollama):
    api.post("/proxy/api/chat").mock(return_value=httpx.Response(404, text="404 page not found"))

    with pytest.raises(LLMInvalidRequestError, match="check llm.ollama.base_url"):
        await ollama(base_url=BASE + "/proxy").complete(HELLO)


async def test_a_server_error_before_the_answer_is_retried(api, ollama):
    route = api.post("/api/chat").mock(
        side_effect=[
            error_response(500, "llama runner process has terminated"),
            stream_response(chunk("Hi."), final()),
        ]
    )

    assert (await ollama(max_retries=2).complete(HELLO)).content == "Hi."
    assert route.call_count == 2


async def test_a_rate_limit_with_retry_after_is_retried(api, ollama):
    route = api.post("/api/chat").mock(
        side_effect=[
            error_response(429, "too many requests", headers={"Retry-After": "0"}),
            stream_response(chunk("Hi."), final()),
        ]
    )

    assert (await ollama(max_retries=1).complete(HELLO)).content == "Hi."
    assert route.call_count == 2


async def test_a_line_that_is_not_json_is_a_response_error(api, ollama):
    api.post("/api/chat").mock(return_value=stream_response(raw=b'{"model": "llama3.2", "message": {\n'))

    with pytest.raises(LLMResponseError, match="Ollama sent data that is not valid JSON"):
        await ollama().complete(HELLO)


async def test_no_answer_in_time_is_a_timeout_retried_then_reported(api, ollama):
    route = api.post("/api/chat").mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(LLMTimeoutError, match="did not answer within 5 s"):
        await ollama(timeout=5, max_retries=1).complete(HELLO)

    assert route.call_count == 2


# --- models, embeddings, availability ----------------------------------------------------------


async def test_list_models_reads_api_tags(api, ollama):
    details = {"format": "gguf", "family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}
    api.get("/api/tags").mock(
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


async def test_embed_posts_to_api_embed_with_the_embedding_model(api, ollama):
    route = api.post("/api/embed").mock(
        return_value=httpx.Response(
            200, json={"model": "nomic-embed-text", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 8}
        )
    )

    vectors = await ollama(embed_model="nomic-embed-text").embed(["sky", "sea"])

    assert vectors == [[0.1, 0.2], [0.3, 0.4]]
    assert sent_body(route) == {"model": "nomic-embed-text", "input": ["sky", "sea"]}


async def test_a_missing_embedding_model_is_named_in_the_error(api, ollama):
    api.post("/api/embed").mock(return_value=error_response(404, 'model "nomic-embed-text" not found'))

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
