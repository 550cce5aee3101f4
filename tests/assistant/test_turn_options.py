"""What one turn may change (backend, settings, listener), and a turn tried out before it is wanted.

Against a real OpenAI-compatible server answering from a script, so the
request each turn sends can be read back.
"""

from __future__ import annotations

from typing import Any

import pytest

from assistant.orchestrator import MessageInfo, Orchestrator, TurnDone, TurnOptions, TurnText
from llm import ConversationContext, Message, MessageRole, ProviderFactory


def scripted_provider(server, model: str = "scripted-model"):
    return ProviderFactory.create("mlx", {"llm": {"mlx": {"base_url": server.base_url, "model": model}}})


@pytest.fixture
def heard() -> list[tuple[Message, MessageInfo]]:
    """What the orchestrator's own listener (the one that saves conversations) was told."""
    return []


@pytest.fixture
async def orchestrator(scripted_openai, heard):
    provider = scripted_provider(scripted_openai)
    yield Orchestrator(
        provider, ConversationContext(system_message="Be brief."),
        on_message=lambda message, info: heard.append((message, info)),
    )
    await provider.close()


async def answer(turn) -> list[Any]:
    return [event async for event in turn]


def conversation(orchestrator: Orchestrator) -> list[tuple[MessageRole, str]]:
    return [(m.role, m.content) for m in orchestrator.context.get_messages() if m.role is not MessageRole.SYSTEM]


async def test_model_temperature_and_max_tokens_apply_to_one_turn_only(scripted_openai, orchestrator) -> None:
    scripted_openai.reply("One.")
    scripted_openai.reply("Two.")

    await answer(orchestrator.run_turn("First?", TurnOptions(model="other-model", temperature=0.2, max_tokens=50)))
    await answer(orchestrator.run_turn("Second?"))

    first, second = scripted_openai.requests
    assert (first["model"], first["temperature"], first["max_tokens"]) == ("other-model", 0.2, 50)
    assert second["model"] == "scripted-model" and second.get("max_tokens") != 50


async def test_a_listener_given_for_one_turn_hears_it_instead_of_the_orchestrators(
    scripted_openai, orchestrator, heard
) -> None:
    scripted_openai.reply("Hello, Ada.")
    mine: list[Message] = []

    await answer(orchestrator.run_turn("I am Ada.", TurnOptions(on_message=lambda message, _info: mine.append(message))))

    assert [(m.role, m.content) for m in mine] == [(MessageRole.USER, "I am Ada."), (MessageRole.ASSISTANT, "Hello, Ada.")]
    assert heard == []
    assert conversation(orchestrator) == [(MessageRole.USER, "I am Ada."), (MessageRole.ASSISTANT, "Hello, Ada.")]


async def test_a_provider_given_for_one_turn_answers_it_and_the_next_goes_back(scripted_openai, orchestrator, heard) -> None:
    scripted_openai.reply("From the other.")
    scripted_openai.reply("From the usual.")
    other = scripted_provider(scripted_openai, model="other-backend-model")
    try:
        await answer(orchestrator.run_turn("Who answers?", TurnOptions(provider=other)))
        await answer(orchestrator.run_turn("And now?"))
    finally:
        await other.close()

    assert [request["model"] for request in scripted_openai.requests] == ["other-backend-model", "scripted-model"]
    assert orchestrator.provider.model == "scripted-model"


async def test_a_tentative_turn_leaves_no_trace_until_committed(scripted_openai, orchestrator, heard) -> None:
    scripted_openai.reply("It is noon.")
    tentative = orchestrator.tentative_turn("What time is it?")

    events = await answer(tentative.events)

    assert isinstance(events[-1], TurnDone) and events[-1].text == "It is noon."
    assert conversation(orchestrator) == [] and heard == []
    tentative.commit()
    assert conversation(orchestrator) == [(MessageRole.USER, "What time is it?"), (MessageRole.ASSISTANT, "It is noon.")]
    assert [message.role for message, _ in heard] == [MessageRole.USER, MessageRole.ASSISTANT]


async def test_a_tentative_turn_committed_while_answering_goes_straight_through_afterwards(
    scripted_openai, orchestrator, heard
) -> None:
    scripted_openai.reply("Paris is the capital.")
    tentative = orchestrator.tentative_turn("Capital of France?")

    async for event in tentative.events:
        if isinstance(event, TurnText) and not tentative.committed:
            assert conversation(orchestrator) == []
            tentative.commit()
            assert conversation(orchestrator) == [(MessageRole.USER, "Capital of France?")]

    assert conversation(orchestrator)[-1] == (MessageRole.ASSISTANT, "Paris is the capital.")
    assert len(heard) == 2


async def test_a_tentative_turn_is_answered_on_the_conversation_so_far_and_joins_it_at_its_end(
    scripted_openai, orchestrator, heard
) -> None:
    scripted_openai.reply("Hi Ada.")
    scripted_openai.reply("You are Ada.")
    await answer(orchestrator.run_turn("I am Ada."))

    tentative = orchestrator.tentative_turn("Who am I?")
    await answer(tentative.events)
    tentative.commit()

    sent = [(m["role"], m["content"]) for m in scripted_openai.requests[1]["messages"] if m["role"] != "system"]
    assert sent == [("user", "I am Ada."), ("assistant", "Hi Ada."), ("user", "Who am I?")]
    assert [content for _, content in conversation(orchestrator)] == ["I am Ada.", "Hi Ada.", "Who am I?", "You are Ada."]
