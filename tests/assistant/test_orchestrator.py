"""The orchestrator drives one turn on the real embedded model, whatever the UI."""

from __future__ import annotations

import pytest

from assistant.orchestrator import INTERRUPTED_MARK, Orchestrator, TurnDone, TurnError, TurnText
from llm import ConversationContext, LLMConnectionError, MessageRole, ProviderFactory
from llm.providers.local import LocalProvider
from tests.conftest import free_port

SYSTEM = "You are Rosey, a helpful voice assistant. Answer in one short sentence."


@pytest.fixture(scope="module")
def local() -> LocalProvider:
    return LocalProvider({"temperature": 0.0})


def new_orchestrator(provider) -> Orchestrator:
    return Orchestrator(provider, ConversationContext(max_turns=10, system_message=SYSTEM))


async def test_a_turn_streams_text_then_reports_its_figures(local: LocalProvider) -> None:
    orchestrator = new_orchestrator(local)
    events = [event async for event in orchestrator.run_turn("What is 12 times 7?")]

    streamed = "".join(e.text for e in events if isinstance(e, TurnText))
    done = events[-1]
    assert isinstance(done, TurnDone)
    assert streamed.strip() and done.text == streamed
    assert done.completion_tokens > 0 and done.prompt_tokens > 0
    assert done.time_to_first_token is not None and done.time_to_first_token <= done.total_seconds
    assert [m.role for m in orchestrator.context.get_messages()] == [
        MessageRole.SYSTEM, MessageRole.USER, MessageRole.ASSISTANT,
    ]


async def test_an_abandoned_turn_keeps_what_was_said_marked_interrupted(local: LocalProvider) -> None:
    orchestrator = new_orchestrator(local)
    turn = orchestrator.run_turn("Tell me a long story about a dragon.")
    said = []
    async for event in turn:
        if isinstance(event, TurnText):
            said.append(event.text)
        if len(said) == 3:
            break
    await turn.aclose()

    last = orchestrator.context.get_messages()[-1]
    assert last.role is MessageRole.ASSISTANT
    assert last.content == "".join(said) + INTERRUPTED_MARK


async def test_a_dead_backend_is_an_error_event_and_the_conversation_survives_a_switch(
    local: LocalProvider,
) -> None:
    dead = ProviderFactory.create(
        "ollama", {"llm": {"ollama": {"base_url": f"http://127.0.0.1:{free_port()}", "max_retries": 0}}}
    )
    orchestrator = new_orchestrator(local)
    [event async for event in orchestrator.run_turn("My name is Ada.")]
    orchestrator.switch_provider(dead)

    events = [event async for event in orchestrator.run_turn("What is 12 times 7?")]
    assert isinstance(events[-1], TurnError)
    assert isinstance(events[-1].error, LLMConnectionError)
    assert "is `ollama serve` running?" in events[-1].message

    orchestrator.switch_provider(local)
    events = [event async for event in orchestrator.run_turn("What is 12 times 7?")]
    assert isinstance(events[-1], TurnDone)
    contents = [m.content for m in orchestrator.context.get_messages()]
    assert "My name is Ada." in contents
    await dead.close()


async def test_a_conversation_too_long_for_the_model_drops_old_turns_and_answers() -> None:
    small = LocalProvider({"n_ctx": 160, "max_tokens": 16, "temperature": 0.0, "history_turns": None})
    orchestrator = Orchestrator(small, ConversationContext(max_turns=50, system_message="Be brief."))
    try:
        for n in range(8):
            events = [e async for e in orchestrator.run_turn(f"Fact {n}: the dragon's castle has {n} towers.")]
            assert isinstance(events[-1], TurnDone), events[-1]
        assert orchestrator.context.turn_count < 8
    finally:
        await small.close()
