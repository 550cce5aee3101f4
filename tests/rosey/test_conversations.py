"""Per-channel conversations: attributed, ordered within a channel, concurrent across channels, summarized, kept."""

from __future__ import annotations

import asyncio
import json

import pytest

from assistant.rosey.llmservice import CONDENSE_PROMPT
from assistant.rosey.store import StoreUnavailable
from tests.rosey.conftest import Recorder, ask, bot_config
from tests.rosey.scripted_backend import Reply


def sent_turns(backend, index: int = -1) -> list[str]:
    """What the model was shown (without the system prompt) in the ``index``-th chat request."""
    return [m["content"] for m in backend.chat_requests()[index]["body"]["messages"] if m["role"] != "system"]


def system_prompt(backend, index: int = -1) -> str:
    return backend.chat_requests()[index]["body"]["messages"][0]["content"]


async def chat(nc, channel: str, user: str, text: str) -> dict:
    return await ask(nc, "rosey.command.chat", {"channel": channel, "user": user, "args": text})


async def test_each_channel_has_its_own_conversation_with_speakers_named(nc, plugin, backend) -> None:
    await chat(nc, "lobby", "alice", "I like cats")
    await chat(nc, "cinema", "bob", "I like films")
    await chat(nc, "lobby", "carol", "me too")

    assert sent_turns(backend) == [
        "alice: I like cats", "You said: alice: I like cats", "carol: me too",
    ]


async def test_turns_in_one_channel_are_answered_in_the_order_they_arrived(nc, plugin, backend) -> None:
    room = await Recorder().listen(nc, "llm.response")
    gate = backend.gate("first", "the first answer")
    for text in ("first question", "second question", "third question"):
        await nc.publish("rosey.command.chat", json.dumps({"channel": "lobby", "user": "alice", "args": text}).encode())
    await gate.wait_held(1)
    gate.open()

    answers = await room.wait_for("llm.response", count=3)
    assert [a["prompt"] for a in answers] == ["first question", "second question", "third question"]
    assert sent_turns(backend) == [
        "alice: first question", "the first answer",
        "alice: second question", "You said: alice: second question",
        "alice: third question",
    ]


async def test_other_channels_are_answered_while_one_waits_for_the_model(nc, plugin, backend) -> None:
    gate = backend.gate("slow")
    slow = asyncio.create_task(chat(nc, "lobby", "alice", "slow question"))
    await gate.wait_held(1)

    quick = await chat(nc, "cinema", "bob", "quick question")
    assert quick["result"] == "You said: bob: quick question"
    assert not slow.done()

    gate.open()
    assert (await slow)["result"] == "done"


async def test_calls_to_the_backend_are_bounded_by_max_concurrent(nc, plugin_factory, backend) -> None:
    plugin = await plugin_factory(max_concurrent=2)
    gate = backend.gate("hold")
    asks = [asyncio.create_task(chat(nc, f"room-{i}", "alice", "hold on")) for i in range(6)]
    await gate.wait_held(2)
    async with asyncio.timeout(15):
        while plugin.in_flight < 6:
            await asyncio.sleep(0.01)
    gate.open()

    assert all(reply["success"] for reply in await asyncio.gather(*asks))
    assert gate.most_held == 2


async def test_a_long_conversation_is_summarized_rather_than_dropped(nc, plugin_factory, backend) -> None:
    await plugin_factory(max_turns=4)
    events = await Recorder().listen(nc, "rosey.event.llm.summarized")
    backend.answer("alice: my cat is Tom", Reply("SUMMARY: alice has a cat called Tom."))

    for text in ("my cat is Tom", "it is grey", "it is old", "it sleeps a lot"):
        await chat(nc, "lobby", "alice", text)
    [summarized] = await events.wait_for("rosey.event.llm.summarized")
    assert summarized == {"channel": "lobby", "message_count": 4,
                          "summary_length": len("SUMMARY: alice has a cat called Tom.")}
    summary_request = backend.chat_requests()[-1]["body"]["messages"]
    assert summary_request[0]["content"] == CONDENSE_PROMPT
    assert summary_request[1]["content"].splitlines() == [
        "alice: my cat is Tom", "Rosey: SUMMARY: alice has a cat called Tom.",
        "alice: it is grey", "Rosey: You said: alice: it is grey",
    ]

    await chat(nc, "lobby", "alice", "what do you know?")
    assert "Earlier in this conversation (summary): SUMMARY: alice has a cat called Tom." in system_prompt(backend)
    assert sent_turns(backend) == [
        "alice: it is old", "You said: alice: it is old",
        "alice: it sleeps a lot", "You said: alice: it sleeps a lot",
        "alice: what do you know?",
    ]


async def test_memories_that_matter_are_shown_to_the_model(nc, plugin, backend) -> None:
    await chat(nc, "lobby", "alice", "remember my kitten is called Tom")
    await chat(nc, "lobby", "bob", "remember the pizza place closes at ten")

    await chat(nc, "lobby", "alice", "what is my feline called?")

    prompt = system_prompt(backend)
    assert "- alice: my kitten is called Tom" in prompt
    assert "pizza" not in prompt


@pytest.mark.parametrize("memory_backend", ["sqlite", "jetstream"])
async def test_persona_conversation_memory_and_usage_survive_a_restart(
    nc, plugin_factory, backend, tmp_path, nats_server, memory_backend, request
) -> None:
    bucket = f"restart-{request.node.name[-10:-1]}".replace("[", "-")
    config = bot_config(tmp_path, backend.base_url, nats_server.url,
                        memory={"backend": memory_backend, "bucket": bucket})
    first = await plugin_factory(config)
    await chat(nc, "lobby", "alice", "persona concise")
    await chat(nc, "lobby", "alice", "my name is Alice")
    await chat(nc, "lobby", "alice", "remember Alice plays the guitar")
    await first.stop()

    await plugin_factory(config)
    await chat(nc, "lobby", "bob", "who am I talking to?")

    assert "Be brief" in system_prompt(backend)
    assert sent_turns(backend) == ["alice: my name is Alice", "You said: alice: my name is Alice",
                                   "bob: who am I talking to?"]
    assert (await chat(nc, "lobby", "bob", "recall guitar"))["result"] == "I remember: Alice plays the guitar (alice)"
    usage = await ask(nc, "rosey.llm.usage", {"user": "alice"})
    assert (usage["user"], usage["requests_today"]) == ("alice", 1)


async def test_only_the_tools_in_the_allowlist_are_offered_to_the_model(nc, plugin_factory, backend) -> None:
    without_tools = await plugin_factory()
    await chat(nc, "lobby", "alice", "no tools here")
    assert "tools" not in backend.chat_requests()[-1]["body"]
    await without_tools.stop()

    await plugin_factory(tools=["calculator"])
    await chat(nc, "lobby", "alice", "what is 6 times 7")
    offered = [tool["function"]["name"] for tool in backend.chat_requests()[-1]["body"]["tools"]]
    assert offered == ["calculator"]


@pytest.mark.parametrize("memory_backend", ["sqlite", "jetstream"])
async def test_a_question_the_model_failed_to_answer_leaves_no_trace_in_the_conversation(
    nc, plugin_factory, backend, tmp_path, nats_server, memory_backend, request
) -> None:
    bucket = f"failed-{request.node.name[-10:-1]}".replace("[", "-")
    await plugin_factory(bot_config(tmp_path, backend.base_url, nats_server.url,
                                    memory={"backend": memory_backend, "bucket": bucket}))
    backend.answer("broken", Reply(status=400, error="the model cannot read this"))
    await chat(nc, "lobby", "alice", "I like cats")
    await chat(nc, "lobby", "alice", "I like dogs")

    failed = await chat(nc, "lobby", "bob", "a broken question")
    await chat(nc, "lobby", "carol", "me too")

    assert failed["success"] is False
    assert sent_turns(backend) == [
        "alice: I like cats", "You said: alice: I like cats",
        "alice: I like dogs", "You said: alice: I like dogs",
        "carol: me too",
    ]


async def test_a_reset_the_store_could_not_save_still_empties_the_conversation(
    nc, plugin, backend, monkeypatch
) -> None:
    await chat(nc, "lobby", "alice", "I like cats")
    async with asyncio.timeout(5):  # the turn is saved just after its answer
        while not (await plugin.service.store.load_channel("lobby")).turns:
            await asyncio.sleep(0.01)

    async def disk_full(channel: str, record: object) -> int:
        raise StoreUnavailable("disk full")

    monkeypatch.setattr(plugin.service.store, "save_channel", disk_full)
    reset = await chat(nc, "lobby", "alice", "reset")
    await chat(nc, "lobby", "alice", "fresh start")

    assert reset["success"] is True
    assert sent_turns(backend) == ["alice: fresh start"]
