"""The orchestrator's tool loop, against a real OpenAI-compatible server that answers from a script."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assistant.orchestrator import (
    INTERRUPTED_MARK,
    MessageInfo,
    Orchestrator,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnOptions,
    TurnText,
)
from llm import (
    ConversationContext,
    Image,
    Message,
    MessageRole,
    ProviderFactory,
    ToolCall,
    ToolDefinition,
)
from llm.providers.local import LocalProvider


@dataclass(frozen=True)
class Result:
    content: str
    is_error: bool = False


class Tools:
    """Tools as async functions of their arguments; each call is logged."""

    def __init__(self, **functions: Any) -> None:
        self.functions = functions
        self.calls: list[ToolCall] = []

    def definitions(self) -> list[ToolDefinition]:
        return [ToolDefinition(name, f"the {name} tool") for name in self.functions]

    def source(self, name: str) -> str:
        return "tests"

    async def run(self, call: ToolCall) -> Result:
        self.calls.append(call)
        return Result(str(await self.functions[call.name](**call.arguments)))


async def add(a: int, b: int) -> int:
    return a + b


def scripted_provider(server, **settings: Any):
    return ProviderFactory.create(
        "mlx", {"llm": {"mlx": {"base_url": server.base_url, "model": "scripted-model", **settings}}}
    )


@pytest.fixture
async def orchestrator_for(scripted_openai):
    providers = []

    def make(tools: Tools | None, **kwargs: Any) -> Orchestrator:
        provider = scripted_provider(scripted_openai)
        providers.append(provider)
        return Orchestrator(provider, ConversationContext(system_message="Be brief."), tools, **kwargs)

    yield make
    for provider in providers:
        await provider.close()


async def test_a_tool_call_is_run_and_its_result_goes_back_to_the_model(scripted_openai, orchestrator_for) -> None:
    scripted_openai.reply(tool_calls=[("add", {"a": 2, "b": 3})])
    scripted_openai.reply("Two plus three is 5.")
    orchestrator = orchestrator_for(Tools(add=add))

    events = [event async for event in orchestrator.run_turn("What is 2 plus 3?")]

    started, finished = events[0], events[1]
    assert isinstance(started, ToolStarted) and started.call.name == "add" and started.source == "tests"
    assert started.call.arguments == {"a": 2, "b": 3}
    assert isinstance(finished, ToolFinished) and finished.result.content == "5"
    assert "".join(e.text for e in events if isinstance(e, TurnText)) == "Two plus three is 5."
    assert isinstance(events[-1], TurnDone) and events[-1].text == "Two plus three is 5."

    offered = [tool["function"]["name"] for tool in scripted_openai.requests[0]["tools"]]
    assert offered == ["add"]
    second = scripted_openai.requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == "add"
    assert (second[-1]["role"], second[-1]["tool_call_id"], second[-1]["content"]) == ("tool", "call_0_add", "5")


async def test_several_calls_in_one_answer_run_at_the_same_time(scripted_openai, orchestrator_for) -> None:
    both_running = asyncio.Barrier(2)

    async def wait_for_the_other(name: str) -> str:
        await both_running.wait()
        return f"{name} done"

    scripted_openai.reply(tool_calls=[("first", {"name": "one"}), ("second", {"name": "two"})])
    scripted_openai.reply("Both finished.")
    orchestrator = orchestrator_for(Tools(first=wait_for_the_other, second=wait_for_the_other))

    events = await asyncio.wait_for(_collect(orchestrator.run_turn("Run both.")), timeout=60)

    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert sorted(e.result.content for e in finished) == ["one done", "two done"]
    tool_messages = [m for m in scripted_openai.requests[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_0_first", "call_1_second"], "results in call order"


async def test_a_tool_that_raises_becomes_a_result_the_model_reads(scripted_openai, orchestrator_for) -> None:
    async def broken() -> str:
        raise RuntimeError("disk on fire")

    scripted_openai.reply(tool_calls=[("broken", {})])
    scripted_openai.reply("Sorry, that tool failed.")
    orchestrator = orchestrator_for(Tools(broken=broken))

    events = [event async for event in orchestrator.run_turn("Use the broken tool.")]

    finished = next(e for e in events if isinstance(e, ToolFinished))
    assert finished.result.is_error and "RuntimeError: disk on fire" in finished.result.content
    assert isinstance(events[-1], TurnDone)
    sent = scripted_openai.requests[1]["messages"][-1]
    assert sent["role"] == "tool" and "disk on fire" in sent["content"]


async def test_tool_rounds_are_bounded_and_the_last_call_asks_for_words(scripted_openai, orchestrator_for) -> None:
    for _ in range(2):
        scripted_openai.reply(tool_calls=[("add", {"a": 1, "b": 1})])
    scripted_openai.reply("I kept adding; the answer is 2.")
    orchestrator = orchestrator_for(Tools(add=add), max_tool_rounds=2)

    events = [event async for event in orchestrator.run_turn("Add forever.")]

    assert len(scripted_openai.requests) == 3
    assert "tools" in scripted_openai.requests[1] and "tools" not in scripted_openai.requests[2]
    assert isinstance(events[-1], TurnDone) and events[-1].text == "I kept adding; the answer is 2."


async def test_an_interrupted_tool_call_still_gets_a_result_so_the_conversation_stays_valid(
    scripted_openai, orchestrator_for
) -> None:
    async def forever() -> str:
        await asyncio.Event().wait()
        return "never"

    scripted_openai.reply("Let me check. ", tool_calls=[("forever", {})])
    orchestrator = orchestrator_for(Tools(forever=forever))

    turn = orchestrator.run_turn("Wait for ever.")
    async for event in turn:
        if isinstance(event, ToolStarted):
            break
    await turn.aclose()

    roles = [m.role for m in orchestrator.context.get_messages()]
    assert roles == [MessageRole.SYSTEM, MessageRole.USER, MessageRole.ASSISTANT, MessageRole.TOOL]
    assert orchestrator.context.get_messages()[2].content == "Let me check. "
    assert "interrupted" in orchestrator.context.get_messages()[3].content

    events = [event async for event in orchestrator.run_turn("Never mind. Say hi.")]
    assert isinstance(events[-1], TurnDone) and events[-1].text == "You said: Never mind. Say hi."


async def test_text_cut_off_mid_answer_is_kept_marked_interrupted(scripted_openai, orchestrator_for) -> None:
    scripted_openai.reply("One two three four five six seven eight", pieces=8, piece_delay=0.05)
    orchestrator = orchestrator_for(None)

    turn = orchestrator.run_turn("Count.")
    said = []
    async for event in turn:
        if isinstance(event, TurnText):
            said.append(event.text)
            if len(said) == 2:
                break
    await turn.aclose()

    assert orchestrator.context.get_messages()[-1].content == "".join(said) + INTERRUPTED_MARK


async def test_every_message_is_reported_with_the_backend_and_model_that_wrote_it(
    scripted_openai, orchestrator_for
) -> None:
    scripted_openai.reply(tool_calls=[("add", {"a": 20, "b": 22})])
    scripted_openai.reply("It is 42.")
    orchestrator = orchestrator_for(Tools(add=add))
    heard: list[tuple[Message, MessageInfo]] = []
    orchestrator.on_message = lambda message, info: heard.append((message, info))

    [event async for event in orchestrator.run_turn("What is 20 plus 22?")]

    assert [m.role for m, _ in heard] == [
        MessageRole.USER, MessageRole.ASSISTANT, MessageRole.TOOL, MessageRole.ASSISTANT,
    ]
    assert heard[1][0].tool_calls[0].name == "add" and heard[2][0].content == "42"
    final = heard[-1][1]
    assert (final.backend, final.model) == ("mlx", "scripted-model")
    assert final.done is not None and final.done.completion_tokens > 0


def test_a_backend_that_cannot_call_tools_is_not_offered_them() -> None:
    orchestrator = Orchestrator(LocalProvider(), ConversationContext(), Tools(add=add))
    assert orchestrator.offered_tools() == []


async def test_an_unreadable_file_is_an_error_and_the_conversation_is_untouched(
    scripted_openai, orchestrator_for, tmp_path: Path
) -> None:
    orchestrator = orchestrator_for(None)
    events = [e async for e in orchestrator.run_turn("Summarize it.", TurnOptions(files=[tmp_path / "missing.txt"]))]

    assert isinstance(events[-1], TurnError) and "missing.txt: no such file" in events[-1].message
    assert orchestrator.context.turn_count == 0 and scripted_openai.requests == []


async def test_a_file_is_put_before_the_question(scripted_openai, orchestrator_for, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("The meeting is on Tuesday.")
    orchestrator = orchestrator_for(None)

    [e async for e in orchestrator.run_turn("When is the meeting?", TurnOptions(files=[notes]))]

    sent = scripted_openai.requests[0]["messages"][-1]["content"]
    assert "The meeting is on Tuesday." in sent and sent.endswith("When is the meeting?")


async def test_an_image_for_a_backend_without_vision_is_refused_with_the_fix(scripted_openai, orchestrator_for) -> None:
    orchestrator = orchestrator_for(None)
    png = Image(data=b"\x89PNG\r\n\x1a\n" + b"\0" * 16, media_type="image/png")

    events = [e async for e in orchestrator.run_turn("What is this?", TurnOptions(images=[png]))]

    assert isinstance(events[-1], TurnError) and "switch to a vision backend" in events[-1].message


async def _collect(turn) -> list:
    return [event async for event in turn]
