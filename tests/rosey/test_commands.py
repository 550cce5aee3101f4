"""`!chat` in the room, as Rosey's command router sends it: every generation's shape and subject."""

from __future__ import annotations

import json

import pytest

from tests.rosey.conftest import Recorder, ask
from tests.rosey.scripted_backend import Reply


@pytest.fixture
async def room(nc, plugin) -> Recorder:
    return await Recorder().listen(nc, "llm.response", "llm.error", "rosey.event.llm.>")


@pytest.mark.parametrize(
    "payload",
    [
        {"channel": "lobby", "user": "alice", "args": "what is two plus two"},
        {"channel_id": "lobby", "username": "alice", "message": "what is two plus two"},
        {"channel": "lobby", "user_id": "alice", "args": ["what", "is", "two", "plus", "two"], "extra": 1},
    ],
    ids=["first-plugin", "llm-request-names", "args-as-tokens"],
)
async def test_chat_is_answered_by_reply_and_broadcast_in_every_shape(nc, room, backend, payload) -> None:
    backend.answer("two plus two", "Four.")

    reply = await ask(nc, "rosey.command.chat", payload)

    assert reply == {"success": True, "result": "Four.", "messages": ["Four."]}
    [broadcast] = await room.wait_for("llm.response")
    assert broadcast == {
        "event": "llm.response", "type": "llm_response", "command": "chat", "success": True, "channel": "lobby",
        "channel_id": "lobby", "user": "alice", "prompt": "what is two plus two", "response": "Four.", "content": "Four.",
        "messages": ["Four."], "model": "scripted-model",
    }
    [event] = await room.wait_for("rosey.event.llm.response")
    assert event["channel"] == "lobby" and event["user"] == "alice" and event["response_length"] == 5
    assert backend.chat_requests()[-1]["body"]["messages"][-1] == {
        "role": "user", "content": "alice: what is two plus two"
    }


async def test_fire_and_forget_commands_are_still_answered_in_the_room(nc, room, backend) -> None:
    await nc.publish("rosey.command.chat", json.dumps({"channel": "lobby", "user": "bob", "args": "hi"}).encode())
    await nc.publish("rosey.command.chat", json.dumps({"channel": "lobby", "user": "bob", "args": "reset"}).encode())

    answer, reset = await room.wait_for("llm.response", count=2)
    assert (answer["type"], answer["command"], answer["response"]) == ("llm_response", "chat", "You said: bob: hi")
    assert reset["command"] == "reset" and "reset" in reset["response"].lower()


async def test_an_empty_chat_is_answered_with_the_usage_line(nc, room) -> None:
    reply = await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "bob", "args": "   "})

    assert reply["success"] is False
    assert reply["error"].startswith("usage: !chat <message>")
    [error] = await room.wait_for("llm.error")
    assert error["success"] is False and error["channel_id"] == "lobby" and error["user"] == "bob"
    await room.wait_for("rosey.event.llm.error")


async def test_help_lists_the_sub_commands(nc, room) -> None:
    reply = await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "bob", "args": "help"})

    for word in ("reset", "persona", "remember", "recall", "forget"):
        assert word in reply["result"]
    assert all(len(line) <= 240 for line in reply["messages"])


async def test_reset_forgets_the_channel_conversation_on_every_subject(nc, room, backend) -> None:
    async def conversation_sent_after(reset_subject: str, payload: dict) -> list[str]:
        await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "remember-me-not"})
        assert (await ask(nc, reset_subject, payload))["success"] is True
        await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "fresh start"})
        return [m["content"] for m in backend.chat_requests()[-1]["body"]["messages"] if m["role"] != "system"]

    for subject, payload in [
        ("rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "reset"}),
        ("rosey.command.chat.reset", {"channel": "lobby", "user": "alice", "args": ""}),
        ("rosey.command.llm.reset", {"channel": "lobby", "user": "alice"}),
    ]:
        assert await conversation_sent_after(subject, payload) == ["alice: fresh start"], subject


async def test_persona_lists_sets_and_rejects_with_the_names(nc, room, backend) -> None:
    listed = await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "persona"})
    assert listed["result"] == "Persona: default. Available: default, concise, technical, creative."

    chosen = await ask(nc, "rosey.command.chat.persona", {"channel": "lobby", "user": "alice", "args": "technical"})
    assert chosen["success"] is True and chosen["result"].startswith("Persona set to technical")
    await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "how do pipes work"})
    system = backend.chat_requests()[-1]["body"]["messages"][0]["content"]
    assert "Help with programming" in system

    wrong = await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "persona pirate"})
    assert wrong == {"success": False, "error": "unknown persona 'pirate'; choose one of default, concise, "
                                                "technical, creative"}
    other_room = await ask(nc, "rosey.command.chat", {"channel": "cinema", "user": "alice", "args": "persona"})
    assert other_room["result"].startswith("Persona: default.")


async def test_remember_recall_and_forget_in_the_room(nc, room, backend) -> None:
    def say(user: str, text: str, subject: str = "rosey.command.chat"):
        return ask(nc, subject, {"channel": "lobby", "user": user, "args": text})

    assert (await say("alice", "remember my cat is called Tom"))["result"] == "Got it, I will remember that."
    assert (await say("bob", "remember the movie night is on Friday"))["success"] is True

    recalled = await say("carol", "recall movie night")
    assert recalled["result"] == "I remember: the movie night is on Friday (bob)"
    assert (await say("carol", "", "rosey.command.chat.recall"))["result"].count("(") == 2

    assert (await say("carol", "forget movie night"))["result"] == "Nothing you asked me to remember matches 'movie night'."
    assert (await say("bob", "movie night", "rosey.command.chat.forget"))["result"] == "Forgot 1 memory."
    assert (await say("carol", "recall movie"))["result"] == "I don't remember anything about that."

    memory_events = await room.wait_for("rosey.event.llm.memory", count=6)
    assert [(e["action"], e["memory_count"]) for e in memory_events] == [
        ("add", 1), ("add", 1), ("recall", 1), ("recall", 2), ("forget", 0), ("forget", 1),
    ]


async def test_a_word_in_an_older_routers_subject_is_part_of_the_message(nc, room, backend) -> None:
    reply = await ask(nc, "rosey.command.chat.tell", {"channel": "lobby", "user": "alice", "args": "me a joke"})

    assert reply["result"] == "You said: alice: tell me a joke"


async def test_a_long_markdown_answer_reaches_the_room_as_short_plain_lines(nc, room, backend) -> None:
    backend.answer("explain", Reply("**Sure!** " + " ".join(f"Step {i} is to do thing number {i}." for i in range(60))))

    reply = await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "explain"})

    assert len(reply["messages"]) == 4
    assert all(len(line) <= 240 and "*" not in line for line in reply["messages"])
    assert reply["messages"][0].startswith("Sure! Step 0")
    assert reply["messages"][-1].endswith("…")
    assert reply["result"].startswith("**Sure!**")
