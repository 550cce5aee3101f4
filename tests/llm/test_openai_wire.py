"""The OpenAI Chat Completions wire protocol, replayed byte for byte.

These tests run the real provider code (openai, mlx, openrouter) against
``respx``-mocked HTTP that follows OpenAI's documented streaming format:
``data: {json}\\n\\n`` events ending with ``data: [DONE]``; the first chunk
carries only the role, then content pieces, then a chunk whose choice has a
``finish_reason``, then (with ``stream_options.include_usage``) a last chunk
with ``choices: []`` and the usage. Every test states what a user would notice.
"""

from __future__ import annotations

import json
import socket
import time
import traceback
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
import respx

from llm import (
    CompletionResult,
    Image,
    LLMAuthError,
    LLMConnectionError,
    LLMContextLengthError,
    LLMError,
    LLMInvalidRequestError,
    LLMProvider,
    LLMRateLimitError,
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
from llm.providers.mlx import MLXProvider
from llm.providers.openai import OpenAIProvider
from llm.providers.openrouter import OpenRouterProvider

OPENAI = "https://api.openai.com/v1"
OPENROUTER = "https://openrouter.ai/api/v1"
KEY = "sk-test-SECRET123456"
SERVED_MODEL = "gpt-4o-mini-2024-07-18"
HELLO = [Message(MessageRole.USER, "Say hello")]


# ---------------------------------------------------------------- the wire format


def chunk(
    delta: dict[str, Any] | None = None, *, finish_reason: str | None = None, model: str = SERVED_MODEL
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` as OpenAI streams it (``usage`` is null until the last chunk)."""
    return {
        "id": "chatcmpl-9xYz",
        "object": "chat.completion.chunk",
        "created": 1727000000,
        "model": model,
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}],
        "usage": None,
    }


def role_chunk(**kwargs: Any) -> dict[str, Any]:
    return chunk({"role": "assistant", "content": "", "refusal": None}, **kwargs)


def finish_chunk(reason: str = "stop", **kwargs: Any) -> dict[str, Any]:
    return chunk({}, finish_reason=reason, **kwargs)


def usage_chunk(prompt: int, completion: int, *, model: str = SERVED_MODEL) -> dict[str, Any]:
    """The extra last chunk sent when ``stream_options.include_usage`` is true."""
    return {
        "id": "chatcmpl-9xYz",
        "object": "chat.completion.chunk",
        "created": 1727000000,
        "model": model,
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }


def text_chunks(*pieces: str, finish: str = "stop", usage: tuple[int, int] = (12, 5)) -> list[dict[str, Any]]:
    """A whole answer: role, content pieces, finish_reason, usage."""
    return [
        role_chunk(),
        *(chunk({"content": piece}) for piece in pieces),
        finish_chunk(finish),
        usage_chunk(*usage),
    ]


def tool_fragment(index: int, *, arguments: str = "", id: str | None = None, name: str | None = None) -> dict:
    """A piece of a tool call: id, type and name come in a call's first fragment only."""
    fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if id is not None:
        fragment["id"] = id
        fragment["type"] = "function"
    if name is not None:
        fragment["function"]["name"] = name
    return chunk({"tool_calls": [fragment]})


def sse(payload: dict[str, Any] | str, *, eol: str = "\n") -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}{eol}{eol}".encode()


def sse_body(chunks: Sequence[dict[str, Any] | str], *, done: bool = True, eol: str = "\n") -> bytes:
    body = b"".join(sse(c, eol=eol) for c in chunks)
    return body + (sse("[DONE]", eol=eol) if done else b"")


def split_every(data: bytes, size: int) -> list[bytes]:
    """Fixed-size pieces: they cut events, JSON and UTF-8 characters in the middle."""
    return [data[i : i + size] for i in range(0, len(data), size)]


async def byte_stream(pieces: Sequence[bytes], *, then_raise: Exception | None = None) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece
    if then_raise is not None:
        raise then_raise


def sse_response(
    chunks: Sequence[dict[str, Any] | str],
    *,
    piece_size: int | None = None,
    then_raise: Exception | None = None,
    done: bool = True,
    eol: str = "\n",
) -> httpx.Response:
    """A 200 event stream as OpenAI sends it, optionally cut into small byte pieces."""
    body = sse_body(chunks, done=done and then_raise is None, eol=eol)
    pieces = split_every(body, piece_size) if piece_size else [body]
    return httpx.Response(
        200,
        headers={"content-type": "text/event-stream; charset=utf-8"},
        content=byte_stream(pieces, then_raise=then_raise),
    )


def error_response(status: int, message: str, *, type: str, code: str | None, headers=None) -> httpx.Response:
    """OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""
    body = {"error": {"message": message, "type": type, "param": None, "code": code}}
    return httpx.Response(status, json=body, headers=headers or {})


def sent_json(route: respx.Route, call: int = -1) -> dict[str, Any]:
    return json.loads(route.calls[call].request.content)


async def collect(provider: LLMProvider, messages=HELLO, **kwargs: Any) -> list:
    return [event async for event in provider.stream(messages, **kwargs)]


async def collect_until_error(provider: LLMProvider, messages=HELLO, **kwargs: Any) -> tuple[list, LLMError]:
    """The events a user saw before the stream failed, and the error they got."""
    seen: list = []
    with pytest.raises(LLMError) as caught:
        async for event in provider.stream(messages, **kwargs):
            seen.append(event)
    return seen, caught.value


def texts(events: list) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


def the_end(events: list) -> CompletionResult:
    ends = [e for e in events if isinstance(e, StreamEnd)]
    assert len(ends) == 1, f"expected exactly one StreamEnd, got {len(ends)}"
    assert events[-1] is ends[0], "StreamEnd must be the last event"
    return ends[0].result


# ---------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
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


def closed_localhost_port() -> int:
    """A port on localhost that nothing listens on: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- streaming text


async def test_text_streams_as_deltas_in_order_then_exactly_one_stream_end(make, openai_api):
    openai_api.post("/chat/completions").mock(
        return_value=sse_response(text_chunks("Hel", "lo", ", wor", "ld!", usage=(9, 4)))
    )

    events = await collect(make("openai"))

    assert texts(events) == ["Hel", "lo", ", wor", "ld!"]
    assert all(isinstance(e, TextDelta) for e in events[:-1])
    result = the_end(events)
    assert result.content == "Hello, world!"
    assert result.model == SERVED_MODEL
    assert (result.prompt_tokens, result.completion_tokens, result.tokens_used) == (9, 4, 13)
    assert result.finish_reason == "stop"
    assert result.tool_calls is None and not result.has_tool_calls


async def test_complete_and_stream_complete_give_the_same_text(make, openai_api):
    openai_api.post("/chat/completions").mock(
        side_effect=lambda request: sse_response(text_chunks("The sky ", "is ", "blue."))
    )
    provider = make("openai")

    result = await provider.complete(HELLO)
    pieces = [text async for text in provider.stream_complete(HELLO)]

    assert result.content == "".join(pieces) == "The sky is blue."
    assert pieces == ["The sky ", "is ", "blue."]


@pytest.mark.parametrize("piece_size", [1, 7, 64])
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
async def test_events_cut_anywhere_in_the_byte_stream_still_read_whole(make, openai_api, piece_size, eol):
    """TCP delivers bytes, not events: cuts inside an event, its JSON or a UTF-8 character change nothing."""
    words = ["Grüß ", "dich, ", "ça va? ", "👋🏽 ", "日本語"]
    openai_api.post("/chat/completions").mock(
        return_value=sse_response(text_chunks(*words), piece_size=piece_size, eol=eol)
    )

    events = await collect(make("openai"))

    assert texts(events) == words
    assert the_end(events).content == "".join(words)


async def test_a_truncated_answer_reports_finish_reason_length(make, openai_api):
    openai_api.post("/chat/completions").mock(
        return_value=sse_response(text_chunks("Once upon a", finish="length", usage=(10, 3)))
    )

    result = await make("openai").complete(HELLO, max_tokens=3)

    assert result.content == "Once upon a"
    assert result.finish_reason == "length"


async def test_sse_comments_and_keep_alive_lines_are_ignored(make):
    """OpenRouter sends ``: OPENROUTER PROCESSING`` comments while a model warms up."""
    body = b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n" + sse_body(text_chunks("Hi!"))
    with respx.mock(base_url=OPENROUTER) as mock:
        mock.post("/chat/completions").mock(
            return_value=httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
        )
        result = await make("openrouter").complete(HELLO)

    assert result.content == "Hi!"


# ---------------------------------------------------------------- the request


async def test_request_body_carries_the_conversation_in_openai_format(make, openai_api):
    route = openai_api.post("/chat/completions").mock(return_value=sse_response(text_chunks("Sunny.")))
    png = Image.from_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8)
    weather = ToolCall(id="call_Abc123", name="get_weather", arguments={"city": "Paris", "days": 2})
    messages = [
        Message(MessageRole.SYSTEM, "You are Rosey."),
        Message(MessageRole.USER, "What is in this picture?", images=[png]),
        Message(MessageRole.ASSISTANT, "", tool_calls=[weather]),
        Message(MessageRole.TOOL, '{"forecast": "sun"}', tool_call_id="call_Abc123", name="get_weather"),
        Message(MessageRole.ASSISTANT, "It will be sunny."),
        Message(MessageRole.USER, "Thanks!"),
    ]
    tool = ToolDefinition(
        name="get_weather",
        description="Forecast for a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )

    await make("openai", model="gpt-4o-mini", max_tokens=256, temperature=0.3).complete(messages, tools=[tool])

    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.url == f"{OPENAI}/chat/completions"
    body = json.loads(request.content)
    assert body["model"] == "gpt-4o-mini"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 256
    assert "max_tokens" not in body
    assert body["temperature"] == 0.3
    assert body["messages"] == [
        {"role": "system", "content": "You are Rosey."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": png.data_url}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_Abc123",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris", "days": 2})},
                }
            ],
        },
        {"role": "tool", "content": '{"forecast": "sun"}', "tool_call_id": "call_Abc123"},
        {"role": "assistant", "content": "It will be sunny."},
        {"role": "user", "content": "Thanks!"},
    ]
    assert body["messages"][1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert isinstance(body["messages"][2]["tool_calls"][0]["function"]["arguments"], str)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Forecast for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]


async def test_per_call_model_and_max_tokens_override_the_config(make, openai_api):
    route = openai_api.post("/chat/completions").mock(return_value=sse_response(text_chunks("ok")))

    await make("openai", model="gpt-4o-mini", max_tokens=1024).complete(HELLO, model="gpt-4.1", max_tokens=50)

    body = sent_json(route)
    assert body["model"] == "gpt-4.1"
    assert body["max_completion_tokens"] == 50


async def test_no_tools_means_no_tools_field(make, openai_api):
    route = openai_api.post("/chat/completions").mock(return_value=sse_response(text_chunks("ok")))

    await make("openai").complete(HELLO)

    assert "tools" not in sent_json(route)


@pytest.mark.parametrize(
    ("backend", "base_url"), [("mlx", "http://localhost:8080/v1"), ("openrouter", OPENROUTER)]
)
async def test_mlx_and_openrouter_send_max_tokens_not_max_completion_tokens(make, backend, base_url):
    with respx.mock(base_url=base_url) as mock:
        route = mock.post("/chat/completions").mock(return_value=sse_response(text_chunks("ok")))
        await make(backend, max_tokens=77).complete(HELLO)

    body = sent_json(route)
    assert body["max_tokens"] == 77
    assert "max_completion_tokens" not in body
    assert body["stream_options"] == {"include_usage": True}


# ---------------------------------------------------------------- tool calls


async def test_tool_call_arguments_arriving_in_fragments_become_one_call_with_a_dict(make, openai_api):
    openai_api.post("/chat/completions").mock(
        return_value=sse_response(
            [
                chunk({"role": "assistant", "content": None}),
                tool_fragment(0, id="call_DdmvP3b", name="get_weather"),
                tool_fragment(0, arguments='{"lo'),
                tool_fragment(0, arguments='cation": "Pa'),
                tool_fragment(0, arguments='ris, France", '),
                tool_fragment(0, arguments='"unit": "cel'),
                tool_fragment(0, arguments='sius"}'),
                finish_chunk("tool_calls"),
                usage_chunk(80, 21),
            ],
            piece_size=13,
        )
    )

    events = await collect(make("openai"), tools=[ToolDefinition("get_weather", "Forecast")])

    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    expected = ToolCall(
        id="call_DdmvP3b", name="get_weather", arguments={"location": "Paris, France", "unit": "celsius"}
    )
    assert calls == [expected]
    assert texts(events) == []
    result = the_end(events)
    assert result.tool_calls == [expected]
    assert result.has_tool_calls
    assert result.finish_reason == "tool_calls"
    assert result.content == ""
    assert result.tokens_used == 101


async def test_two_parallel_tool_calls_interleaved_by_index_come_out_in_index_order(make, openai_api):
    openai_api.post("/chat/completions").mock(
        return_value=sse_response(
            [
                role_chunk(),
                tool_fragment(1, id="call_Second", name="get_time"),
                tool_fragment(0, id="call_First", name="get_weather"),
                tool_fragment(1, arguments='{"tz": '),
                tool_fragment(0, arguments='{"city": '),
                tool_fragment(0, arguments='"Oslo"}'),
                tool_fragment(1, arguments='"Europe/Oslo"}'),
                finish_chunk("tool_calls"),
                usage_chunk(90, 40),
            ]
        )
    )
    tools = [ToolDefinition("get_weather", "Forecast"), ToolDefinition("get_time", "Clock")]

    events = await collect(make("openai"), tools=tools)

    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [
        ToolCall("call_First", "get_weather", {"city": "Oslo"}),
        ToolCall("call_Second", "get_time", {"tz": "Europe/Oslo"}),
    ]
    assert the_end(events).tool_calls == calls
    assert the_end(events).finish_reason == "tool_calls"


async def test_text_before_a_tool_call_is_kept_as_the_answer(make, openai_api):
    openai_api.post("/chat/completions").mock(
        return_value=sse_response(
            [
                role_chunk(),
                chunk({"content": "Let me check."}),
                tool_fragment(0, id="call_1", name="get_weather", arguments='{"city": "Rome"}'),
                finish_chunk("tool_calls"),
                usage_chunk(5, 5),
            ]
        )
    )

    events = await collect(make("openai"), tools=[ToolDefinition("get_weather", "Forecast")])

    assert texts(events) == ["Let me check."]
    assert [type(e) for e in events] == [TextDelta, ToolCallEvent, StreamEnd]
    assert the_end(events).content == "Let me check."


async def test_tool_call_with_arguments_that_are_not_json_names_the_tool(make, openai_api):
    openai_api.post("/chat/completions").mock(
        return_value=sse_response(
            [role_chunk(), tool_fragment(0, id="call_1", name="set_timer", arguments='{"minutes": 5'),
             finish_chunk("tool_calls")]
        )
    )

    with pytest.raises(LLMResponseError, match="set_timer"):
        await make("openai").complete(HELLO, tools=[ToolDefinition("set_timer", "Timer")])


async def test_a_server_that_sends_a_whole_tool_call_without_an_index_is_understood(make):
    """Some local servers send each call whole in one fragment, without ``index``."""
    whole = {"id": "call_9", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}}
    with respx.mock(base_url="http://localhost:8080/v1") as mock:
        mock.post("/chat/completions").mock(
            return_value=sse_response([role_chunk(), chunk({"tool_calls": [whole]}), finish_chunk("tool_calls")])
        )
        result = await make("mlx").complete(HELLO, tools=[ToolDefinition("add", "Sum")])

    assert result.tool_calls == [ToolCall("call_9", "add", {"a": 1, "b": 2})]


# ---------------------------------------------------------------- reasoning


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_arrives_apart_and_is_never_part_of_the_answer(make, field):
    """DeepSeek, vLLM and llama.cpp send ``reasoning_content``; OpenRouter and gpt-oss servers ``reasoning``."""
    with respx.mock(base_url="http://localhost:8080/v1") as mock:
        mock.post("/chat/completions").mock(
            return_value=sse_response(
                [
                    role_chunk(),
                    chunk({field: "The user greets me. "}),
                    chunk({field: "Greet back."}),
                    chunk({"content": "Hello"}),
                    chunk({"content": " there!"}),
                    finish_chunk(),
                    usage_chunk(7, 30),
                ]
            )
        )
        provider = make("mlx")
        events = await collect(provider)

    thinking = [e.text for e in events if isinstance(e, ReasoningDelta)]
    assert thinking == ["The user greets me. ", "Greet back."]
    assert texts(events) == ["Hello", " there!"]
    result = the_end(events)
    assert result.content == "Hello there!"
    assert result.reasoning == "The user greets me. Greet back."
    assert "greets" not in result.content


async def test_stream_complete_speaks_only_the_answer_not_the_reasoning(make, openai_api):
    openai_api.post("/chat/completions").mock(
        return_value=sse_response(
            [role_chunk(), chunk({"reasoning_content": "hmm"}), chunk({"content": "Yes."}), finish_chunk()]
        )
    )

    spoken = [text async for text in make("openai").stream_complete(HELLO)]

    assert spoken == ["Yes."]


# ---------------------------------------------------------------- errors inside the stream


async def test_an_error_event_mid_stream_raises_after_the_text_already_shown(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=sse_response(
            [
                role_chunk(),
                chunk({"content": "Once"}),
                chunk({"content": " upon"}),
                {
                    "error": {
                        "message": "The server had an error while processing your request. Sorry about that!",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
            ]
        )
    )

    seen, error = await collect_until_error(make("openai"))

    assert texts(seen) == ["Once", " upon"]
    assert not any(isinstance(e, StreamEnd) for e in seen)
    assert isinstance(error, LLMServerError)
    assert "processing your request" in str(error)
    assert route.call_count == 1, "an error after the first token must not be retried"


async def test_a_context_length_error_event_is_a_context_length_error(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=sse_response(
            [
                {
                    "error": {
                        "message": "This model's maximum context length is 128000 tokens.",
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "context_length_exceeded",
                    }
                }
            ]
        )
    )

    with pytest.raises(LLMContextLengthError, match="maximum context length"):
        await make("openai").complete(HELLO)
    assert route.call_count == 1


async def test_a_chunk_that_is_not_json_is_a_response_error(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=sse_response([role_chunk(), '{"id": "chatcmpl-1", "choices": [{"delta": {"content": "Hi'])
    )

    with pytest.raises(LLMResponseError, match="not valid JSON"):
        await make("openai").complete(HELLO)
    assert route.call_count == 1, "a broken response is not transient"


async def test_a_chunk_of_the_wrong_shape_is_a_response_error_not_a_crash(make, openai_api):
    openai_api.post("/chat/completions").mock(
        return_value=sse_response([role_chunk(), {"choices": ["not an object"]}])
    )

    with pytest.raises(LLMResponseError):
        await make("openai").complete(HELLO)


async def test_a_null_error_field_in_a_normal_chunk_is_not_an_error(make, openai_api):
    """Some compatible servers send ``"error": null`` in every chunk."""
    openai_api.post("/chat/completions").mock(
        return_value=sse_response([{**c, "error": None} for c in text_chunks("Fine.")])
    )

    assert (await make("openai").complete(HELLO)).content == "Fine."


async def test_a_200_that_is_not_an_event_stream_says_so_and_is_not_retried(make, openai_api):
    """A wrong base_url often lands on a web page that answers 200 with HTML."""
    route = openai_api.post("/chat/completions").mock(
        return_value=httpx.Response(200, headers={"content-type": "text/html"}, text="<html>Welcome</html>")
    )

    with pytest.raises(LLMResponseError, match="text/html") as caught:
        await make("openai").complete(HELLO)
    assert "base_url" in str(caught.value)
    assert route.call_count == 1


async def test_a_server_that_ignores_stream_and_answers_json_still_answers(make):
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "local-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Whole answer."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    with respx.mock(base_url="http://localhost:8080/v1") as mock:
        mock.post("/chat/completions").mock(return_value=httpx.Response(200, json=body))
        events = await collect(make("mlx"))

    assert texts(events) == ["Whole answer."]
    assert the_end(events).tokens_used == 5


# ---------------------------------------------------------------- HTTP failures and retries


async def test_429_with_retry_after_is_retried_and_then_answers(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        side_effect=[
            error_response(
                429, "Rate limit reached for requests", type="requests", code="rate_limit_exceeded",
                headers={"retry-after": "0"},
            ),
            sse_response(text_chunks("Made it.")),
        ]
    )

    result = await make("openai").complete(HELLO)

    assert result.content == "Made it."
    assert route.call_count == 2


async def test_429_waits_as_long_as_the_server_asks(make, openai_api):
    """OpenAI sends ``retry-after-ms``; the wait it asks for overrides the (tiny) configured backoff."""
    route = openai_api.post("/chat/completions").mock(
        side_effect=[
            error_response(
                429, "Rate limit reached", type="requests", code="rate_limit_exceeded",
                headers={"retry-after-ms": "300", "retry-after": "1"},
            ),
            sse_response(text_chunks("Waited.")),
        ]
    )

    started = time.monotonic()
    result = await make("openai", retry_backoff=0.01).complete(HELLO)

    assert result.content == "Waited."
    assert time.monotonic() - started >= 0.3
    assert route.call_count == 2


async def test_429_asking_for_a_long_wait_is_reported_at_once_with_retry_after(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=error_response(
            429, "Rate limit reached", type="tokens", code="rate_limit_exceeded", headers={"retry-after": "3600"}
        )
    )

    with pytest.raises(LLMRateLimitError) as caught:
        await make("openai").complete(HELLO)
    assert caught.value.retry_after == 3600
    assert route.call_count == 1


async def test_an_exhausted_quota_is_reported_at_once_not_retried(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=error_response(
            429, "You exceeded your current quota, please check your plan and billing details.",
            type="insufficient_quota", code="insufficient_quota",
        )
    )

    with pytest.raises(LLMError, match="out of quota .*check your plan and billing"):
        await make("openai", max_retries=3).complete(HELLO)
    assert route.call_count == 1


async def test_500_and_503_are_retried_until_an_answer_comes(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        side_effect=[
            error_response(500, "The server had an error", type="server_error", code=None),
            httpx.Response(503, text="upstream connect error"),
            sse_response(text_chunks("Third time lucky.")),
        ]
    )

    result = await make("openai", max_retries=2).complete(HELLO)

    assert result.content == "Third time lucky."
    assert route.call_count == 3


async def test_when_retries_run_out_the_server_error_is_reported(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        side_effect=lambda request: error_response(503, "Service overloaded", type="server_error", code=None)
    )

    with pytest.raises(LLMServerError, match="503") as caught:
        await make("openai", max_retries=2).complete(HELLO)
    assert caught.value.status_code == 503
    assert route.call_count == 3, "max_retries=2 means the first attempt and two retries"


async def test_a_rejected_key_is_an_auth_error_that_never_shows_the_key(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=error_response(
            401,
            f"Incorrect API key provided: {KEY}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            type="invalid_request_error",
            code="invalid_api_key",
        )
    )
    provider = make("openai")

    with pytest.raises(LLMAuthError) as caught:
        await provider.complete(HELLO)

    error = caught.value
    assert route.call_count == 1, "a rejected key is not retried"
    assert "OPENAI_API_KEY" in str(error)
    assert "Incorrect API key" in str(error)
    for shown in (str(error), repr(error), error.message, repr(provider), "".join(traceback.format_exception(error))):
        assert KEY not in shown
        assert "SECRET123456" not in shown


async def test_an_unknown_model_is_an_invalid_request_naming_the_model(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=error_response(
            404,
            "The model `gpt-nope` does not exist or you do not have access to it.",
            type="invalid_request_error",
            code="model_not_found",
        )
    )

    with pytest.raises(LLMInvalidRequestError, match="gpt-nope") as caught:
        await make("openai", model="gpt-nope").complete(HELLO)
    assert not isinstance(caught.value, LLMContextLengthError)
    assert route.call_count == 1


async def test_400_maximum_context_length_is_a_context_length_error(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=error_response(
            400,
            "This model's maximum context length is 128000 tokens. However, your messages resulted in "
            "130412 tokens. Please reduce the length of the messages.",
            type="invalid_request_error",
            code="context_length_exceeded",
        )
    )

    with pytest.raises(LLMContextLengthError):
        await make("openai").complete(HELLO)
    assert route.call_count == 1


async def test_a_plain_400_is_an_invalid_request_with_the_vendors_words(make, openai_api):
    openai_api.post("/chat/completions").mock(
        return_value=error_response(
            400, "Unsupported value: 'temperature' does not support 0.3 with this model.",
            type="invalid_request_error", code="unsupported_value",
        )
    )

    with pytest.raises(LLMInvalidRequestError, match="does not support 0.3") as caught:
        await make("openai").complete(HELLO)
    assert not isinstance(caught.value, LLMContextLengthError)


async def test_a_read_timeout_is_a_timeout_error_after_the_retries(make, openai_api):
    route = openai_api.post("/chat/completions").mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(LLMTimeoutError, match="5 s"):
        await make("openai", timeout=5, max_retries=1).complete(HELLO)
    assert route.call_count == 2


async def test_a_refused_connection_names_the_url(make):
    port = closed_localhost_port()
    provider = make("mlx", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)

    with pytest.raises(LLMConnectionError) as caught:
        await provider.complete(HELLO)

    assert f"http://127.0.0.1:{port}/v1" in str(caught.value)
    assert "mlx_lm.server" in str(caught.value)


async def test_a_missing_api_key_names_the_variable_and_sends_nothing(make, openai_api, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    route = openai_api.post("/chat/completions").mock(return_value=sse_response(text_chunks("never")))

    with pytest.raises(LLMAuthError, match="OPENAI_API_KEY"):
        await make("openai").complete(HELLO)
    assert route.call_count == 0
    assert len(openai_api.calls) == 0


async def test_a_connection_lost_after_the_first_token_is_not_retried(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        side_effect=lambda request: sse_response(
            [role_chunk(), chunk({"content": "The answer is"})],
            then_raise=httpx.ReadError("connection reset by peer"),
        )
    )

    seen, error = await collect_until_error(make("openai", max_retries=3))

    assert texts(seen) == ["The answer is"]
    assert isinstance(error, LLMConnectionError)
    assert "middle of an answer" in str(error)
    assert route.call_count == 1, "retrying would repeat what the user already heard"


async def test_a_connection_lost_before_the_first_token_is_retried(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        side_effect=[
            sse_response([role_chunk()], then_raise=httpx.ReadError("connection reset by peer")),
            sse_response(text_chunks("Second try.")),
        ]
    )

    result = await make("openai").complete(HELLO)

    assert result.content == "Second try."
    assert route.call_count == 2


async def test_stopping_early_closes_the_stream(make, openai_api):
    """The user interrupts: breaking out of the loop must not hang or read the rest."""
    route = openai_api.post("/chat/completions").mock(
        return_value=sse_response(text_chunks(*[f"word{i} " for i in range(100)]))
    )
    stream = make("openai").stream(HELLO)

    first = await anext(stream)
    await stream.aclose()

    assert first == TextDelta("word0 ")
    assert route.call_count == 1


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
    """Seed 004's configs say ``base_url: http://localhost:8080``; the server answers under /v1."""
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


class Seed004Complete(LLMProvider):
    """A provider written for seed 004: it overrides only ``complete``."""

    async def complete(self, messages, tools=None, temperature=None, max_tokens=None, model=None):
        return CompletionResult(content=f"echo: {messages[-1].content}", model="echo-1", tokens_used=3)


class Seed004Streaming(LLMProvider):
    """A provider written for seed 004: it overrides only ``stream_complete``."""

    async def stream_complete(self, messages, tools=None, temperature=None, max_tokens=None, model=None):
        for word in messages[-1].content.split():
            yield word + " "


async def test_a_registered_seed_004_provider_that_only_completes_also_streams(restore_registry):
    ProviderFactory.register_provider("echo", Seed004Complete)

    provider = ProviderFactory.create_from_config({"llm": {"backend": "echo", "echo": {"model": "echo-1"}}})
    events = await collect(provider)

    assert isinstance(provider, Seed004Complete)
    assert texts(events) == ["echo: Say hello"]
    assert the_end(events).content == "echo: Say hello"
    assert (await provider.complete(HELLO)).content == "echo: Say hello"


async def test_a_registered_seed_004_provider_that_only_streams_text_also_streams_events(restore_registry):
    ProviderFactory.register_provider("words", Seed004Streaming)

    provider = ProviderFactory.create("words", {})
    events = await collect(provider, [Message(MessageRole.USER, "one two three")])

    assert texts(events) == ["one ", "two ", "three "]
    assert the_end(events).content == "one two three "
    assert (await provider.complete([Message(MessageRole.USER, "a b")])).content == "a b "


def test_register_provider_refuses_what_is_not_a_provider(restore_registry):
    with pytest.raises(TypeError):
        ProviderFactory.register_provider("bad", dict)  # type: ignore[arg-type]
