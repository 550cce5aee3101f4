"""Extended thinking with tool use, and failed tool results, on Anthropic's documented wire format.

With thinking enabled, Anthropic refuses the request that answers a tool call
unless the assistant turn that made the call comes back with its ``thinking``
blocks (text and signature, byte for byte) and ``redacted_thinking`` blocks
before its ``tool_use`` blocks. A failed tool's result is flagged
``is_error: true``. The streams are replayed by respx as real SSE, cut into
small chunks; the last tests drive whole turns through the orchestrator,
which is where the blocks must survive from one request to the next.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx

from assistant.orchestrator import (
    Orchestrator,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnReasoning,
)
from llm import (
    ConversationContext,
    Message,
    MessageRole,
    ReasoningBlock,
    ReasoningDelta,
    ToolCall,
    ToolDefinition,
)
from llm.providers.anthropic import AnthropicProvider
from tests.llm.anthropic_wire import (
    MODEL,
    block,
    message_end,
    message_start,
    streamed,
    text_block,
    tool_use_block,
)

SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgwfA7OuQ9QqnNmg2PoiMN+bnXr5L/lT+Pp0+gB4lFj0ZyTQ="
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj"
WEATHER = ToolDefinition(
    "get_weather", "Current weather in a city", {"type": "object", "properties": {"city": {"type": "string"}}}
)


def thinking(index: int, *pieces: str, signature: str = SIGNATURE) -> bytes:
    """A thinking block as streamed: ``thinking_delta`` fragments, then the signature just before it closes."""
    deltas: list[dict[str, Any]] = [{"type": "thinking_delta", "thinking": p} for p in pieces]
    deltas.append({"type": "signature_delta", "signature": signature})
    return block(index, {"type": "thinking", "thinking": ""}, deltas)


def redacted_thinking(index: int, data: str = REDACTED) -> bytes:
    """A redacted block arrives whole in its ``content_block_start``, with no deltas."""
    return block(index, {"type": "redacted_thinking", "data": data}, [])


@pytest.fixture
async def thinker() -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider({"model": MODEL, "thinking_budget": 2048, "retry_backoff": 0.01})
    yield provider
    await provider.close()


def sent_messages(route: respx.Route, call: int = -1) -> list[dict[str, Any]]:
    return json.loads(route.calls[call].request.content)["messages"]


# --- one request after another ----------------------------------------------


async def test_the_thinking_behind_a_tool_call_goes_back_signed_before_the_call(anthropic_api, thinker) -> None:
    route = anthropic_api.post("/v1/messages").mock(
        side_effect=[
            streamed(
                message_start(),
                thinking(0, "The user wants the weather", " in Paris. I should call get_weather."),
                text_block(1, "Let me check."),
                tool_use_block(2, "toolu_01A", "get_weather", '{"ci', 'ty": "Pa', 'ris"}'),
                message_end("tool_use", 90),
                chunk_size=13,
            ),
            streamed(message_start(), text_block(0, "It is 18°C and sunny in Paris."), message_end()),
        ]
    )
    context = ConversationContext()
    context.add_user_message("Weather in Paris?")

    events = [event async for event in thinker.stream(context.get_messages(), tools=[WEATHER])]
    result = events[-1].result
    context.add_assistant_message(result.content, result.tool_calls, result.reasoning_blocks)
    context.add_tool_result("toolu_01A", "18°C, sunny", name="get_weather")
    answer = await thinker.complete(context.get_messages(), tools=[WEATHER])

    thought = "The user wants the weather in Paris. I should call get_weather."
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == [
        "The user wants the weather", " in Paris. I should call get_weather.",
    ]
    assert result.reasoning_blocks == [ReasoningBlock(text=thought, signature=SIGNATURE)]
    assert answer.content == "It is 18°C and sunny in Paris."
    assert sent_messages(route) == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": thought, "signature": SIGNATURE},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18°C, sunny"}]},
    ]


async def test_redacted_thinking_goes_back_untouched_and_in_order(anthropic_api, thinker) -> None:
    route = anthropic_api.post("/v1/messages").mock(
        side_effect=[
            streamed(
                message_start(),
                redacted_thinking(0),
                thinking(1, "Now call the tool."),
                tool_use_block(2, "toolu_02", "get_weather", '{"city": "Rome"}'),
                message_end("tool_use"),
            ),
            streamed(message_start(), text_block(0, "Warm."), message_end()),
        ]
    )
    context = ConversationContext()
    context.add_user_message("Rome?")

    events = [event async for event in thinker.stream(context.get_messages(), tools=[WEATHER])]
    result = events[-1].result
    context.add_assistant_message(result.content, result.tool_calls, result.reasoning_blocks)
    context.add_tool_result("toolu_02", "24°C", name="get_weather")
    await thinker.complete(context.get_messages(), tools=[WEATHER])

    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["Now call the tool."], "nothing to show"
    assert result.reasoning == "Now call the tool."
    assert [b.is_redacted for b in result.reasoning_blocks] == [True, False]
    assert sent_messages(route)[1]["content"] == [
        {"type": "redacted_thinking", "data": REDACTED},
        {"type": "thinking", "thinking": "Now call the tool.", "signature": SIGNATURE},
        {"type": "tool_use", "id": "toolu_02", "name": "get_weather", "input": {"city": "Rome"}},
    ]


async def test_a_failed_tool_result_is_flagged_as_an_error_and_a_good_one_is_not(anthropic_api, thinker) -> None:
    route = anthropic_api.post("/v1/messages").mock(
        return_value=streamed(message_start(), text_block(0, "Paris is sunny; Atlantis is unknown."), message_end())
    )
    calls = [ToolCall("toolu_1", "get_weather", {"city": "Paris"}), ToolCall("toolu_2", "get_weather", {"city": "X"})]
    context = ConversationContext()
    context.add_user_message("Weather in Paris and Atlantis?")
    context.add_assistant_message("", calls, [ReasoningBlock("Two cities.", SIGNATURE)])
    context.add_tool_result("toolu_1", "18°C, sunny", name="get_weather")
    context.add_tool_result("toolu_2", "get_weather failed: unknown city 'X'", name="get_weather", is_error=True)

    await thinker.complete(context.get_messages(), tools=[WEATHER])

    assert sent_messages(route)[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C, sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "get_weather failed: unknown city 'X'",
         "is_error": True},
    ]


async def test_without_thinking_no_thinking_block_is_sent_even_if_the_history_holds_one(anthropic_api) -> None:
    provider = AnthropicProvider({"model": MODEL, "retry_backoff": 0.01})
    route = anthropic_api.post("/v1/messages").mock(
        return_value=streamed(message_start(), text_block(0, "Sunny."), message_end())
    )
    messages = [
        Message(MessageRole.USER, "Paris?"),
        Message(MessageRole.ASSISTANT, "", tool_calls=[ToolCall("toolu_1", "get_weather", {"city": "Paris"})],
                reasoning_blocks=[ReasoningBlock("Call it.", SIGNATURE)]),
        Message(MessageRole.TOOL, "18°C", tool_call_id="toolu_1", name="get_weather"),
    ]

    await provider.complete(messages, tools=[WEATHER])

    body = json.loads(route.calls.last.request.content)
    assert "thinking" not in body
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    await provider.close()


async def test_an_answer_without_thinking_carries_no_reasoning_blocks(anthropic_api, thinker) -> None:
    anthropic_api.post("/v1/messages").mock(return_value=streamed(message_start(), text_block(0, "Hi."), message_end()))

    result = await thinker.complete([Message(MessageRole.USER, "Hi")])

    assert result.reasoning_blocks is None and result.reasoning == ""


# --- whole turns through the orchestrator -----------------------------------


@dataclass(frozen=True)
class Outcome:
    content: str
    is_error: bool = False


class WeatherTools:
    """The weather tool: Atlantis has no weather station; "Forever" never answers."""

    def definitions(self) -> list[ToolDefinition]:
        return [WEATHER]

    def source(self, name: str) -> str:
        return "tests"

    async def run(self, call: ToolCall) -> Outcome:
        city = call.arguments["city"]
        if city == "Atlantis":
            return Outcome("get_weather failed: no weather station in Atlantis", is_error=True)
        if city == "Forever":
            await asyncio.Event().wait()
        return Outcome(f"18°C, sunny in {city}")


def first_round(*tool_uses: bytes) -> httpx.Response:
    """Thinking, a word, then the tool calls: the order in which Claude answers with extended thinking."""
    return streamed(
        message_start(),
        thinking(0, "Two cities: ", "call get_weather for each."),
        text_block(1, "Checking."),
        *tool_uses,
        message_end("tool_use", 120),
        chunk_size=17,
    )


async def test_a_two_round_tool_turn_sends_the_thinking_and_the_error_flag_back(anthropic_api, thinker) -> None:
    route = anthropic_api.post("/v1/messages").mock(
        side_effect=[
            first_round(
                tool_use_block(2, "toolu_P", "get_weather", '{"city": ', '"Paris"}'),
                tool_use_block(3, "toolu_A", "get_weather", '{"city": "Atl', 'antis"}'),
            ),
            streamed(message_start(), text_block(0, "Paris is sunny; Atlantis has no station."), message_end()),
        ]
    )
    heard: list[Message] = []
    orchestrator = Orchestrator(
        thinker, ConversationContext(system_message="Be brief."), WeatherTools(),
        on_message=lambda message, info: heard.append(message),
    )

    events = [event async for event in orchestrator.run_turn("Weather in Paris and Atlantis?")]

    assert "".join(e.text for e in events if isinstance(e, TurnReasoning)) == "Two cities: call get_weather for each."
    failed = {e.call.id: e.result.is_error for e in events if isinstance(e, ToolFinished)}
    assert failed == {"toolu_P": False, "toolu_A": True}
    assert isinstance(events[-1], TurnDone) and events[-1].text == "Checking.Paris is sunny; Atlantis has no station."
    assert route.call_count == 2
    assert sent_messages(route, 1)[1:] == [
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Two cities: call get_weather for each.", "signature": SIGNATURE},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_P", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_A", "name": "get_weather", "input": {"city": "Atlantis"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_P", "content": "18°C, sunny in Paris"},
            {"type": "tool_result", "tool_use_id": "toolu_A",
             "content": "get_weather failed: no weather station in Atlantis", "is_error": True},
        ]},
    ]
    saved_call, saved_results = heard[1], heard[2:4]
    assert saved_call.reasoning_blocks == [ReasoningBlock("Two cities: call get_weather for each.", SIGNATURE)]
    assert [m.is_error for m in saved_results] == [False, True], "what a conversation store is given to save"


async def test_an_interrupted_tool_call_goes_back_as_an_error_after_its_thinking(anthropic_api, thinker) -> None:
    route = anthropic_api.post("/v1/messages").mock(
        side_effect=[
            first_round(tool_use_block(2, "toolu_F", "get_weather", '{"city": "Forever"}')),
            streamed(message_start(), text_block(0, "Hi!"), message_end()),
        ]
    )
    orchestrator = Orchestrator(thinker, ConversationContext(), WeatherTools())

    turn = orchestrator.run_turn("Weather for ever?")
    async for event in turn:
        if isinstance(event, ToolStarted):
            break
    await turn.aclose()
    events = [event async for event in orchestrator.run_turn("Never mind. Say hi.")]

    assert isinstance(events[-1], TurnDone) and events[-1].text == "Hi!"
    assistant, user = sent_messages(route, 1)[1:]
    assert assistant["content"][0] == {
        "type": "thinking", "thinking": "Two cities: call get_weather for each.", "signature": SIGNATURE,
    }
    result, question = user["content"]
    assert result["tool_use_id"] == "toolu_F" and result["is_error"] is True and "interrupted" in result["content"]
    assert question == {"type": "text", "text": "Never mind. Say hi."}
