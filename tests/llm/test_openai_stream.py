"""What the user sees of an answer: text, the request sent, tool calls, reasoning, errors inside the stream.

Replayed over respx in OpenAI's documented wire format (see openai_wire.py).
"""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from llm import (
    Image,
    LLMContextLengthError,
    LLMResponseError,
    LLMServerError,
    Message,
    MessageRole,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolDefinition,
)
from tests.llm.openai_wire import (
    HELLO,
    KEY,
    OPENAI,
    OPENROUTER,
    SERVED_MODEL,
    chunk,
    collect,
    collect_until_error,
    finish_chunk,
    role_chunk,
    sent_json,
    sse_body,
    sse_response,
    text_chunks,
    texts,
    the_end,
    tool_fragment,
    usage_chunk,
)

pytestmark = pytest.mark.usefixtures("api_keys")


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
