"""The Anthropic provider against the Messages API's documented wire format, replayed by respx.

The streams are real SSE framing (``event: ...`` / ``data: {...}`` / blank
line), cut into small byte chunks so events and JSON cross chunk boundaries,
as they do on a real connection.
"""

from __future__ import annotations

import json

from llm import (
    CompletionResult,
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
    MODEL,
    PNG,
    answer,
    block,
    collect,
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


async def test_text_streams_in_order_then_one_stream_end_with_usage(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
        return_value=answer("Hello", ", wor", "ld!", input_tokens=21, output_tokens=7))

    events = await collect(anthropic, user("Say hello"))

    assert events[:-1] == [TextDelta("Hello"), TextDelta(", wor"), TextDelta("ld!")]
    assert [type(e) for e in events].count(StreamEnd) == 1
    result = events[-1].result
    assert result.content == "Hello, world!"
    assert result.model == MODEL
    assert (result.prompt_tokens, result.completion_tokens, result.tokens_used) == (21, 7, 28)
    assert result.finish_reason == "stop"
    assert not result.has_tool_calls


async def test_each_event_split_byte_by_byte_still_streams_the_same_answer(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
        return_value=streamed(message_start(), text_block(0, "Grüße ", "aus Köln"), message_end(), chunk_size=1)
    )

    result = await anthropic.complete(user("Greet me in German"))

    assert result.content == "Grüße aus Köln"


async def test_prompt_tokens_include_cached_prompt_tokens(anthropic_api, anthropic) -> None:
    start = message_start(21, cache_creation_input_tokens=100, cache_read_input_tokens=1000)
    anthropic_api.post("/v1/messages").mock(return_value=streamed(start, text_block(0, "ok"), message_end()))

    result = await anthropic.complete(user("hi"))

    assert result.prompt_tokens == 21 + 100 + 1000


async def test_max_tokens_stop_reason_is_reported_as_length(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
        return_value=streamed(message_start(), text_block(0, "Once upon a"), message_end("max_tokens", 3))
    )

    result = await anthropic.complete(user("Tell me a long story"))

    assert result.finish_reason == "length"
    assert result.metadata["stop_reason"] == "max_tokens"


async def test_unknown_events_and_deltas_are_ignored(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
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

    events = await collect(anthropic, user("Capital of France?"))

    assert text_of(events) == "Paris"


async def test_complete_returns_the_stream_end_result(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(side_effect=lambda request: answer("4"))

    result = await anthropic.complete(user("2+2?"))
    streamed_result = [e async for e in anthropic.stream(user("2+2?"))][-1].result

    assert isinstance(result, CompletionResult)
    assert result == streamed_result
    assert result.content == "4"


# --- the request -----------------------------------------------------------


async def test_request_follows_the_messages_api(anthropic_api, anthropic) -> None:
    route = anthropic_api.post("/v1/messages").mock(return_value=answer("It is sunny."))
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

    await anthropic.complete(messages, tools=[weather], temperature=0.3)

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


async def test_consecutive_user_messages_are_merged_so_roles_alternate(anthropic_api, anthropic) -> None:
    route = anthropic_api.post("/v1/messages").mock(return_value=answer("ok"))

    await anthropic.complete([Message(MessageRole.USER, "first"), Message(MessageRole.USER, "second")])

    assert sent_body(route)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]}
    ]


async def test_images_are_sent_as_base64_image_blocks(anthropic_api, anthropic) -> None:
    route = anthropic_api.post("/v1/messages").mock(return_value=answer("A black square."))

    await anthropic.complete([Message(MessageRole.USER, "What is this?", images=[Image.from_bytes(PNG)])])

    image, text = sent_body(route)["messages"][0]["content"]
    assert image["source"]["type"] == "base64"
    assert image["source"]["media_type"] == "image/png"
    assert image["source"]["data"] == Image.from_bytes(PNG).base64
    assert text == {"type": "text", "text": "What is this?"}


# --- tool calls ------------------------------------------------------------


async def test_tool_input_fragments_across_chunks_become_one_tool_call(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            text_block(0, "Checking."),
            tool_use_block(1, "toolu_01A", "get_weather", "", '{"ci', 'ty": "Par', 'is", "unit"', ': "celsius"}'),
            message_end("tool_use", 40),
            chunk_size=11,
        )
    )

    events = await collect(anthropic, user("Weather in Paris?"))

    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [ToolCall("toolu_01A", "get_weather", {"city": "Paris", "unit": "celsius"})]
    result = events[-1].result
    assert result.tool_calls == calls
    assert result.finish_reason == "tool_calls"
    assert result.content == "Checking."


async def test_parallel_tool_calls_arrive_in_order(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            tool_use_block(0, "toolu_1", "get_weather", '{"city": ', '"Paris"}'),
            tool_use_block(1, "toolu_2", "get_time", ""),
            message_end("tool_use"),
        )
    )

    events = await collect(anthropic, user("Weather in Paris, and the time?"))

    assert [e.call for e in events if isinstance(e, ToolCallEvent)] == [
        ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
        ToolCall("toolu_2", "get_time", {}),
    ]


async def test_each_tool_call_is_emitted_as_soon_as_its_block_closes(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            tool_use_block(0, "toolu_1", "get_time", "{}"),
            text_block(1, "and then"),
            message_end("tool_use"),
        )
    )

    events = await collect(anthropic, user("time?"))

    assert isinstance(events[0], ToolCallEvent)
    assert events[1] == TextDelta("and then")


# --- extended thinking -----------------------------------------------------


async def test_thinking_streams_as_reasoning_and_stays_out_of_the_answer(anthropic_api) -> None:
    anthropic = AnthropicProvider({"model": MODEL, "thinking_budget": 2048, "retry_backoff": 0.01})
    route = anthropic_api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            thinking_block(0, "The user wants 17*3. ", "17*3 = 51."),
            text_block(1, "51"),
            message_end(),
        )
    )

    events = await collect(anthropic, user("17 times 3?"), temperature=0.5)

    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["The user wants 17*3. ", "17*3 = 51."]
    assert text_of(events) == "51"
    result = events[-1].result
    assert result.content == "51"
    assert result.reasoning == "The user wants 17*3. 17*3 = 51."
    body = sent_body(route)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "temperature" not in body
    assert body["max_tokens"] > 2048
    await anthropic.close()
