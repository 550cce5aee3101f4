"""The Ollama provider against Ollama's own wire format, replayed with respx.

The streams below are the NDJSON that ``POST /api/chat`` sends (shapes from
Ollama's API documentation), cut into network chunks that split lines in the
middle, as a real socket does.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from pydantic import ValidationError

from llm import (
    Image,
    LLMConnectionError,
    Message,
    MessageRole,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallEvent,
)
from llm.settings import OllamaSettings
from tests.llm.ollama_wire import (
    HELLO,
    PNG,
    WEATHER,
    Pieces,
    call,
    chunk,
    events_of,
    final,
    ndjson,
    sent_body,
    stream_response,
)

# --- streaming an answer -----------------------------------------------------------------------


async def test_text_streams_in_order_then_one_stream_end_with_the_whole_result(ollama_api, ollama):
    ollama_api.post("/api/chat").mock(
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


async def test_one_byte_pieces_and_blank_lines_change_nothing(ollama_api, ollama):
    data = ndjson(chunk("Hel"), chunk("lo")) + b"\n\n" + ndjson(final())
    ollama_api.post("/api/chat").mock(return_value=httpx.Response(200, stream=Pieces(data, 1)))

    events = await events_of(ollama())

    assert events[:2] == [TextDelta("Hel"), TextDelta("lo")]
    assert events[2].result.content == "Hello" and len(events) == 3


async def test_an_answer_cut_by_the_token_limit_says_length(ollama_api, ollama):
    ollama_api.post("/api/chat").mock(return_value=stream_response(chunk("Once upon a"), final("length", eval_count=3)))

    result = await ollama().complete(HELLO, max_tokens=3)

    assert result.finish_reason == "length"
    assert result.completion_tokens == 3


async def test_thinking_arrives_as_reasoning_and_never_in_the_answer(ollama_api, ollama):
    ollama_api.post("/api/chat").mock(
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


async def test_a_stream_that_stops_before_its_final_line_is_an_error_not_a_short_answer(ollama_api, ollama):
    ollama_api.post("/api/chat").mock(return_value=stream_response(chunk("The sky")))
    seen: list = []

    with pytest.raises(LLMConnectionError, match="before finishing"):
        async for event in ollama(max_retries=0).stream(HELLO):
            seen.append(event)

    assert seen == [TextDelta("The sky")]


# --- what is sent ------------------------------------------------------------------------------


async def test_call_values_and_config_options_reach_ollama_as_options(ollama_api, ollama):
    route = ollama_api.post("/api/chat").mock(return_value=stream_response(final()))
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


async def test_unset_keep_alive_and_think_are_left_to_ollama(ollama_api, ollama):
    route = ollama_api.post("/api/chat").mock(return_value=stream_response(final()))

    await ollama(temperature=0.5, max_tokens=100).complete(HELLO)

    body = sent_body(route)
    assert "keep_alive" not in body and "think" not in body and "tools" not in body
    assert body["options"] == {"temperature": 0.5, "num_predict": 100}


async def test_images_go_as_base64_on_the_user_message(ollama_api, ollama):
    route = ollama_api.post("/api/chat").mock(return_value=stream_response(chunk("A cat."), final()))
    picture = Message(MessageRole.USER, "What is in this picture?", images=[Image.from_bytes(PNG)])

    await ollama().complete([picture])

    (sent,) = sent_body(route)["messages"]
    assert sent["content"] == "What is in this picture?"
    assert sent["images"] == [base64.b64encode(PNG).decode()]


async def test_tools_go_in_function_format_and_results_as_tool_messages(ollama_api, ollama):
    route = ollama_api.post("/api/chat").mock(return_value=stream_response(chunk("It is 21 °C."), final()))
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


async def test_a_hosted_ollama_gets_the_bearer_key_and_a_local_one_none(ollama_api, ollama, monkeypatch):
    route = ollama_api.get("/api/tags").mock(return_value=httpx.Response(200, json={"models": []}))
    monkeypatch.setenv("OLLAMA_TEST_KEY", "secret-token")

    await ollama(api_key_env="OLLAMA_TEST_KEY").list_models()
    await ollama().list_models()

    assert route.calls[0].request.headers["authorization"] == "Bearer secret-token"
    assert "authorization" not in route.calls[1].request.headers


# --- tool calls --------------------------------------------------------------------------------


async def test_a_tool_call_arrives_whole_with_object_arguments_and_a_fresh_id(ollama_api, ollama):
    ollama_api.post("/api/chat").mock(
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


async def test_two_tool_calls_get_two_distinct_ids(ollama_api, ollama):
    ollama_api.post("/api/chat").mock(
        return_value=stream_response(
            chunk(tool_calls=[call("get_current_weather", {"location": "Paris"}),
                              call("get_current_weather", {"location": "Rome"})]),
            final(),
        )
    )

    result = await ollama().complete(HELLO, tools=[WEATHER])

    assert [c.arguments["location"] for c in result.tool_calls] == ["Paris", "Rome"]
    assert len({c.id for c in result.tool_calls}) == 2


async def test_ids_sent_by_newer_ollama_are_kept_and_string_arguments_parsed(ollama_api, ollama):
    ollama_api.post("/api/chat").mock(
        return_value=stream_response(
            chunk(tool_calls=[call("get_current_weather", '{"location": "Oslo"}', id="call_x1")]), final()
        )
    )

    (made,) = (await ollama().complete(HELLO, tools=[WEATHER])).tool_calls

    assert made == ToolCall("call_x1", "get_current_weather", {"location": "Oslo"})
