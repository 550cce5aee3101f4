"""The Anthropic provider against the Messages API's documented wire format, replayed by respx.

The streams are real SSE framing (``event: ...`` / ``data: {...}`` / blank
line), cut into small byte chunks so events and JSON cross chunk boundaries,
as they do on a real connection.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from llm import (
    CompletionResult,
    LLMAuthError,
    LLMConnectionError,
    LLMContextLengthError,
    LLMError,
    LLMInvalidRequestError,
    LLMRateLimitError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
    Message,
    MessageRole,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolDefinition,
)
from llm.providers.anthropic import AnthropicProvider
from llm.types import Image
from tests.llm.anthropic_wire import (
    API_KEY,
    BASE_URL,
    MODEL,
    PNG,
    answer,
    block,
    collect,
    collect_until_error,
    error_body,
    error_event,
    message_end,
    message_start,
    sent_body,
    sse,
    streamed,
    text_block,
    text_of,
    thinking_block,
    tool_use_block,
    user,
)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def provider() -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider({"model": MODEL, "retry_backoff": 0.01, "max_retries": 2})
    yield provider
    await provider.close()





async def test_text_streams_in_order_then_one_stream_end_with_usage(api, provider) -> None:
    api.post("/v1/messages").mock(return_value=answer("Hello", ", wor", "ld!", input_tokens=21, output_tokens=7))

    events = await collect(provider, user("Say hello"))

    assert events[:-1] == [TextDelta("Hello"), TextDelta(", wor"), TextDelta("ld!")]
    assert [type(e) for e in events].count(StreamEnd) == 1
    result = events[-1].result
    assert result.content == "Hello, world!"
    assert result.model == MODEL
    assert (result.prompt_tokens, result.completion_tokens, result.tokens_used) == (21, 7, 28)
    assert result.finish_reason == "stop"
    assert not result.has_tool_calls


async def test_each_event_split_byte_by_byte_still_streams_the_same_answer(api, provider) -> None:
    api.post("/v1/messages").mock(
        return_value=streamed(message_start(), text_block(0, "Grüße ", "aus Köln"), message_end(), chunk_size=1)
    )

    result = await provider.complete(user("Greet me in German"))

    assert result.content == "Grüße aus Köln"


async def test_prompt_tokens_include_cached_prompt_tokens(api, provider) -> None:
    start = message_start(21, cache_creation_input_tokens=100, cache_read_input_tokens=1000)
    api.post("/v1/messages").mock(return_value=streamed(start, text_block(0, "ok"), message_end()))

    result = await provider.complete(user("hi"))

    assert result.prompt_tokens == 21 + 100 + 1000


async def test_max_tokens_stop_reason_is_reported_as_length(api, provider) -> None:
    api.post("/v1/messages").mock(
        return_value=streamed(message_start(), text_block(0, "Once upon a"), message_end("max_tokens", 3))
    )

    result = await provider.complete(user("Tell me a long story"))

    assert result.finish_reason == "length"
    assert result.metadata["stop_reason"] == "max_tokens"


async def test_unknown_events_and_deltas_are_ignored(api, provider) -> None:
    api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            sse("future_event", {"type": "future_event", "payload": [1, 2]}),
            block(0, {"type": "text", "text": ""}, [
                {"type": "text_delta", "text": "Paris"},
                {"type": "citations_delta", "citation": {"cited_text": "..."}},
            ]),
            message_end(),
        )
    )

    events = await collect(provider, user("Capital of France?"))

    assert text_of(events) == "Paris"


async def test_complete_returns_the_stream_end_result(api, provider) -> None:
    api.post("/v1/messages").mock(side_effect=lambda request: answer("4"))

    result = await provider.complete(user("2+2?"))
    streamed_result = [e async for e in provider.stream(user("2+2?"))][-1].result

    assert isinstance(result, CompletionResult)
    assert result == streamed_result
    assert result.content == "4"


# --- the request -----------------------------------------------------------


async def test_request_follows_the_messages_api(api, provider) -> None:
    route = api.post("/v1/messages").mock(return_value=answer("It is sunny."))
    weather = ToolDefinition(
        "get_weather", "Current weather in a city", {"type": "object", "properties": {"city": {"type": "string"}}}
    )
    messages = [
        Message(MessageRole.SYSTEM, "You are Rosey."),
        Message(MessageRole.SYSTEM, "Answer briefly."),
        Message(MessageRole.USER, "Weather in Paris and Rome?"),
        Message(
            MessageRole.ASSISTANT,
            "Let me check.",
            tool_calls=[
                ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
                ToolCall("toolu_2", "get_weather", {"city": "Rome"}),
            ],
        ),
        Message(MessageRole.TOOL, "18°C, sunny", tool_call_id="toolu_1", name="get_weather"),
        Message(MessageRole.TOOL, "24°C, sunny", tool_call_id="toolu_2", name="get_weather"),
    ]

    await provider.complete(messages, tools=[weather], temperature=0.3)

    request = route.calls.last.request
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    body = json.loads(request.content)
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["max_tokens"] == 1024
    assert body["temperature"] == 0.3
    assert body["system"] == "You are Rosey.\n\nAnswer briefly."
    assert body["tools"] == [{"name": "get_weather", "description": "Current weather in a city",
                              "input_schema": weather.parameters}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C, sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "24°C, sunny"},
        ]},
    ]


async def test_consecutive_user_messages_are_merged_so_roles_alternate(api, provider) -> None:
    route = api.post("/v1/messages").mock(return_value=answer("ok"))

    await provider.complete([Message(MessageRole.USER, "first"), Message(MessageRole.USER, "second")])

    assert sent_body(route)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]}
    ]


async def test_images_are_sent_as_base64_image_blocks(api, provider) -> None:
    route = api.post("/v1/messages").mock(return_value=answer("A black square."))

    await provider.complete([Message(MessageRole.USER, "What is this?", images=[Image.from_bytes(PNG)])])

    image, text = sent_body(route)["messages"][0]["content"]
    assert image["source"]["type"] == "base64"
    assert image["source"]["media_type"] == "image/png"
    assert image["source"]["data"] == Image.from_bytes(PNG).base64
    assert text == {"type": "text", "text": "What is this?"}


# --- tool calls ------------------------------------------------------------


async def test_tool_input_fragments_across_chunks_become_one_tool_call(api, provider) -> None:
    api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            text_block(0, "Checking."),
            tool_use_block(1, "toolu_01A", "get_weather", "", '{"ci', 'ty": "Par', 'is", "unit"', ': "celsius"}'),
            message_end("tool_use", 40),
            chunk_size=11,
        )
    )

    events = await collect(provider, user("Weather in Paris?"))

    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [ToolCall("toolu_01A", "get_weather", {"city": "Paris", "unit": "celsius"})]
    result = events[-1].result
    assert result.tool_calls == calls
    assert result.finish_reason == "tool_calls"
    assert result.content == "Checking."


async def test_parallel_tool_calls_arrive_in_order(api, provider) -> None:
    api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            tool_use_block(0, "toolu_1", "get_weather", '{"city": ', '"Paris"}'),
            tool_use_block(1, "toolu_2", "get_time", ""),
            message_end("tool_use"),
        )
    )

    events = await collect(provider, user("Weather in Paris, and the time?"))

    assert [e.call for e in events if isinstance(e, ToolCallEvent)] == [
        ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
        ToolCall("toolu_2", "get_time", {}),
    ]


async def test_each_tool_call_is_emitted_as_soon_as_its_block_closes(api, provider) -> None:
    api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            tool_use_block(0, "toolu_1", "get_time", "{}"),
            text_block(1, "and then"),
            message_end("tool_use"),
        )
    )

    events = await collect(provider, user("time?"))

    assert isinstance(events[0], ToolCallEvent)
    assert events[1] == TextDelta("and then")


# --- extended thinking -----------------------------------------------------


async def test_thinking_streams_as_reasoning_and_stays_out_of_the_answer(api) -> None:
    provider = AnthropicProvider({"model": MODEL, "thinking_budget": 2048, "retry_backoff": 0.01})
    route = api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            thinking_block(0, "The user wants 17*3. ", "17*3 = 51."),
            text_block(1, "51"),
            message_end(),
        )
    )

    events = await collect(provider, user("17 times 3?"), temperature=0.5)

    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["The user wants 17*3. ", "17*3 = 51."]
    assert text_of(events) == "51"
    result = events[-1].result
    assert result.content == "51"
    assert result.reasoning == "The user wants 17*3. 17*3 = 51."
    body = sent_body(route)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "temperature" not in body
    assert body["max_tokens"] > 2048
    await provider.close()


# --- errors ----------------------------------------------------------------


async def test_error_event_mid_answer_raises_after_the_text_already_shown(api, provider) -> None:
    route = api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            sse("content_block_start", {"type": "content_block_start", "index": 0,
                                        "content_block": {"type": "text", "text": ""}}),
            sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": "The answer is"}}),
            error_event("overloaded_error", "Overloaded"),
        )
    )

    events, error = await collect_until_error(provider, user("question"))

    assert text_of(events) == "The answer is"
    assert isinstance(error, LLMServerError)
    assert "Overloaded" in str(error)
    assert route.call_count == 1  # never retried once text has been shown


async def test_error_event_before_any_output_is_retried(api, provider) -> None:
    route = api.post("/v1/messages").mock(
        side_effect=[streamed(message_start(), error_event("overloaded_error", "Overloaded")), answer("Hi")]
    )

    result = await provider.complete(user("hi"))

    assert result.content == "Hi"
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("kind", "message", "expected"),
    [
        ("overloaded_error", "Overloaded", LLMServerError),
        ("api_error", "Internal server error", LLMServerError),
        ("rate_limit_error", "Number of requests has exceeded your rate limit", LLMRateLimitError),
        ("invalid_request_error", "messages: text content blocks must be non-empty", LLMInvalidRequestError),
        ("invalid_request_error", "prompt is too long: 210345 tokens > 200000 maximum", LLMContextLengthError),
        ("authentication_error", "invalid x-api-key", LLMAuthError),
    ],
)
async def test_error_event_type_decides_the_error_class(api, kind: str, message: str, expected: type) -> None:
    provider = AnthropicProvider({"model": MODEL, "max_retries": 0})
    api.post("/v1/messages").mock(return_value=streamed(message_start(), error_event(kind, message)))

    with pytest.raises(LLMError) as raised:
        await provider.complete(user("hi"))

    assert type(raised.value) is expected
    assert message in str(raised.value)
    await provider.close()


async def test_stream_cut_off_before_message_stop_is_an_error_not_a_short_answer(api, provider) -> None:
    api.post("/v1/messages").mock(
        return_value=streamed(message_start(), text_block(0, "The first half"))
    )

    events, error = await collect_until_error(provider, user("question"))

    assert text_of(events) == "The first half"
    assert isinstance(error, LLMConnectionError)
    assert not any(isinstance(e, StreamEnd) for e in events)


async def test_rate_limit_with_retry_after_is_retried(api, provider) -> None:
    route = api.post("/v1/messages").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "0"}, json=error_body("rate_limit_error", "slow down")),
            answer("Here you go."),
        ]
    )

    result = await provider.complete(user("hi"))

    assert result.content == "Here you go."
    assert route.call_count == 2


@pytest.mark.parametrize("status", [529, 500])
async def test_overloaded_and_server_errors_are_retried(api, provider, status: int) -> None:
    route = api.post("/v1/messages").mock(
        side_effect=[httpx.Response(status, json=error_body("overloaded_error", "Overloaded")), answer("Back.")]
    )

    result = await provider.complete(user("hi"))

    assert result.content == "Back."
    assert route.call_count == 2


async def test_rejected_key_is_an_auth_error_not_retried_and_never_shown(api, provider) -> None:
    route = api.post("/v1/messages").mock(
        return_value=httpx.Response(401, json=error_body("authentication_error", f"invalid x-api-key {API_KEY}"))
    )

    with pytest.raises(LLMAuthError) as raised:
        await provider.complete(user("hi"))

    assert route.call_count == 1
    assert "ANTHROPIC_API_KEY" in str(raised.value)
    assert API_KEY not in str(raised.value)
    assert API_KEY not in repr(provider)


async def test_unknown_model_is_an_invalid_request_naming_the_model(api, provider) -> None:
    api.post("/v1/messages").mock(
        return_value=httpx.Response(404, json=error_body("not_found_error", "model: claude-nope"))
    )

    with pytest.raises(LLMInvalidRequestError) as raised:
        await provider.complete(user("hi"), model="claude-nope")

    assert "claude-nope" in str(raised.value)
    assert "llm.anthropic.model" in str(raised.value)


async def test_prompt_too_long_is_a_context_length_error(api, provider) -> None:
    api.post("/v1/messages").mock(
        return_value=httpx.Response(
            400, json=error_body("invalid_request_error", "prompt is too long: 210345 tokens > 200000 maximum")
        )
    )

    with pytest.raises(LLMContextLengthError):
        await provider.complete(user("a very long conversation"))


async def test_malformed_json_in_a_data_line_is_a_response_error(api, provider) -> None:
    api.post("/v1/messages").mock(
        return_value=streamed(message_start(), b'event: content_block_delta\ndata: {"type": "content_bl\n\n')
    )

    with pytest.raises(LLMResponseError) as raised:
        await provider.complete(user("hi"))

    assert "Anthropic" in str(raised.value)


async def test_timeout_is_retried_then_reported_as_a_timeout(api, provider) -> None:
    route = api.post("/v1/messages").mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(LLMTimeoutError) as raised:
        await provider.complete(user("hi"))

    assert route.call_count == 3  # max_retries=2 after the first attempt
    assert "llm.anthropic.timeout" in str(raised.value)


async def test_missing_api_key_names_the_variable_and_sends_nothing(api, provider, monkeypatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    route = api.post("/v1/messages").mock(return_value=answer("unreachable"))

    with pytest.raises(LLMAuthError) as raised:
        await provider.complete(user("hi"))

    assert "ANTHROPIC_API_KEY" in str(raised.value)
    assert route.call_count == 0


# --- models ----------------------------------------------------------------


async def test_list_models_reads_the_ids(api, provider) -> None:
    route = api.get("/v1/models").mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5"},
                    {"type": "model", "id": "claude-haiku-4-5-20251001", "display_name": "Claude Haiku 4.5"},
                ],
                "has_more": False,
                "first_id": "claude-sonnet-4-5-20250929",
                "last_id": "claude-haiku-4-5-20251001",
            },
        )
    )

    assert await provider.list_models() == ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"]
    assert route.calls.last.request.headers["x-api-key"] == API_KEY
    assert await provider.is_available()
