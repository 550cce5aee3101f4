"""Home Assistant using Rosey as its conversation agent (``transcript`` in, ``handled`` out)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from wyoming.asr import Transcript
from wyoming.handle import Handled, NotHandled

from assistant.wyoming.handle import Conversations
from audio import Synthesizer, Transcriber
from llm import ProviderFactory
from tests.wyoming.conftest import served, wyoming_config
from tests.wyoming.wire import is_type, read_until, send


async def ask(server, text: str, conversation_id: str) -> Handled | NotHandled:
    async with server.client() as client:
        await send(client, Transcript(text=text, context={"conversation_id": conversation_id}).event())
        event = (await read_until(client, is_type("handled", "not-handled", "error")))[-1]
    assert event.type in ("handled", "not-handled"), event.data
    return (Handled if event.type == "handled" else NotHandled).from_event(event)


async def test_a_question_is_answered_with_the_backends_words(wyoming_server, scripted_openai) -> None:
    scripted_openai.reply("The **kitchen** light is on.")

    answer = await ask(wyoming_server, "Is the kitchen light on?", "conversation-1")

    assert isinstance(answer, Handled)
    assert answer.text == "The kitchen light is on."
    assert answer.context == {"conversation_id": "conversation-1"}
    assert scripted_openai.requests[0]["messages"][-1] == {"role": "user", "content": "Is the kitchen light on?"}


async def test_each_conversation_id_keeps_its_own_history(wyoming_server, scripted_openai) -> None:
    await ask(wyoming_server, "My name is Ada.", "kitchen")
    await ask(wyoming_server, "My name is Bob.", "garage")
    await ask(wyoming_server, "What is my name?", "kitchen")

    said = [m["content"] for m in scripted_openai.requests[-1]["messages"] if m["role"] == "user"]
    assert said == ["My name is Ada.", "What is my name?"]


async def test_a_backend_failure_is_not_handled_and_says_why(
    tmp_path: Path, scripted_openai, transcriber: Transcriber, synthesizer: Synthesizer
) -> None:
    config = wyoming_config(tmp_path, **{
        "llm.backend": "mlx", "llm.mlx.base_url": scripted_openai.base_url, "llm.mlx.max_retries": 0,
    })
    scripted_openai.reply("the model is overloaded", status=500)
    async with served(config, transcriber, synthesizer) as running:
        answer = await ask(running, "Turn on the light.", "conversation-1")
        scripted_openai.reply("Done.")
        recovered = await ask(running, "Turn on the light.", "conversation-1")

    assert isinstance(answer, NotHandled)
    assert "overloaded" in answer.text
    assert isinstance(recovered, Handled) and recovered.text == "Done."


async def test_ten_clients_at_once_each_get_their_own_answer(wyoming_server, scripted_openai) -> None:
    questions = [f"Question number {n}." for n in range(10)]

    answers = await asyncio.gather(*(ask(wyoming_server, q, f"satellite-{n}") for n, q in enumerate(questions)))

    assert [answer.text for answer in answers] == [f"You said: {q}" for q in questions]


async def test_the_embedded_model_answers(
    tmp_path: Path, model_path: Path, transcriber: Transcriber, synthesizer: Synthesizer
) -> None:
    config = wyoming_config(tmp_path, **{"llm.backend": "local", "llm.local.model_path": str(model_path),
                                         "llm.local.max_tokens": 32})
    async with served(config, transcriber, synthesizer) as running:
        answer = await ask(running, "What colour is the sky?", "conversation-1")

    assert isinstance(answer, Handled)
    assert answer.text.strip()


async def test_only_the_tools_in_wyoming_tools_are_offered(
    tmp_path: Path, scripted_openai, transcriber: Transcriber, synthesizer: Synthesizer
) -> None:
    config = wyoming_config(tmp_path, **{
        "llm.backend": "mlx", "llm.mlx.base_url": scripted_openai.base_url, "wyoming.tools": ["calculator"],
    })
    scripted_openai.reply(tool_calls=[("calculator", {"expression": "12 * 7"})])
    scripted_openai.reply("12 times 7 is 84.")
    async with served(config, transcriber, synthesizer) as running:
        answer = await ask(running, "What is 12 times 7?", "conversation-1")

    assert answer.text == "12 times 7 is 84."
    assert [tool["function"]["name"] for tool in scripted_openai.requests[0]["tools"]] == ["calculator"]
    tool_result = scripted_openai.requests[1]["messages"][-1]
    assert tool_result["role"] == "tool" and "84" in tool_result["content"]


async def test_no_tools_are_offered_unless_listed(wyoming_server, scripted_openai) -> None:
    await ask(wyoming_server, "What is 12 times 7?", "conversation-1")

    assert "tools" not in scripted_openai.requests[0]


async def test_a_conversation_idle_for_longer_than_configured_starts_afresh(
    scripted_wyoming_config, scripted_openai
) -> None:
    now = [0.0]
    provider = ProviderFactory.create_from_config(scripted_wyoming_config.provider_config())
    conversations = Conversations(scripted_wyoming_config, provider, None, clock=lambda: now[0])
    try:
        await conversations.answer("kitchen", "My name is Ada.")
        now[0] += scripted_wyoming_config.wyoming.conversation_minutes * 60 - 1
        await conversations.answer("kitchen", "I like tea.")
        now[0] += scripted_wyoming_config.wyoming.conversation_minutes * 60 + 1
        await conversations.answer("kitchen", "What is my name?")
    finally:
        await conversations.close()

    def said(request: dict) -> list[str]:
        return [m["content"] for m in request["messages"] if m["role"] == "user"]

    assert said(scripted_openai.requests[1]) == ["My name is Ada.", "I like tea."]
    assert said(scripted_openai.requests[2]) == ["What is my name?"]
