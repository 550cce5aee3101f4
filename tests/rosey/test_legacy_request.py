"""`llm.request`: the fire-and-forget service (and its oldest shape, with no action), answered on `llm.response`."""

from __future__ import annotations

import json

import pytest

from tests.rosey.conftest import Recorder, ask


@pytest.fixture
async def bus(nc, plugin) -> Recorder:
    return await Recorder().listen(nc, "llm.response", "llm.error", "rosey.event.llm.>", "my.inbox")


async def publish(nc, payload: dict) -> None:
    await nc.publish("llm.request", json.dumps(payload).encode())


async def test_chat_keeps_the_channel_conversation_and_echoes_the_request_id(nc, bus, backend) -> None:
    await publish(nc, {"action": "chat", "channel_id": "trivia", "message": "first", "username": "quizbot",
                       "request_id": "r-1"})
    [first] = await bus.wait_for("llm.response", lambda p: p.get("request_id") == "r-1")
    await publish(nc, {"action": "chat", "channel_id": "trivia", "message": "second", "username": "quizbot",
                       "request_id": 2})
    [second] = await bus.wait_for("llm.response", lambda p: p.get("request_id") == 2)

    assert first["action"] == "chat" and first["content"] == "You said: quizbot: first"
    assert second["channel_id"] == "trivia" and second["success"] is True
    sent = [m["content"] for m in backend.chat_requests()[-1]["body"]["messages"] if m["role"] != "system"]
    assert sent == ["quizbot: first", "You said: quizbot: first", "quizbot: second"]


async def test_complete_is_one_off_and_honours_temperature_and_max_tokens(nc, bus, backend) -> None:
    await publish(nc, {"action": "complete", "channel_id": "trivia", "message": "Complete: Python is",
                       "temperature": 0.1, "max_tokens": 12, "request_id": "c-1"})
    [done] = await bus.wait_for("llm.response", lambda p: p.get("request_id") == "c-1")

    assert done["action"] == "complete" and done["response"] == "You said: Complete: Python is"
    body = backend.chat_requests()[-1]["body"]
    assert body["messages"] == [{"role": "user", "content": "Complete: Python is"}]
    assert (body["temperature"], body["max_tokens"]) == (0.1, 12)


async def test_reset_clears_the_channel(nc, bus, backend) -> None:
    await ask(nc, "rosey.llm.chat", {"channel": "trivia", "user": "quizbot", "message": "old news"})
    await publish(nc, {"action": "reset", "channel_id": "trivia", "request_id": "x"})
    [reset] = await bus.wait_for("llm.response", lambda p: p.get("request_id") == "x")
    assert reset["action"] == "reset" and reset["success"] is True

    await ask(nc, "rosey.llm.chat", {"channel": "trivia", "user": "quizbot", "message": "new"})
    sent = [m["content"] for m in backend.chat_requests()[-1]["body"]["messages"] if m["role"] != "system"]
    assert sent == ["quizbot: new"]


async def test_the_oldest_shape_without_an_action_is_answered_on_its_reply_to_subject(nc, bus, backend) -> None:
    backend.answer("hint", "It is a fruit.")
    await publish(nc, {"prompt": "Give a hint about apples", "system_prompt": "You give trivia hints.",
                       "reply_to": "my.inbox"})

    [reply] = await bus.wait_for("my.inbox")
    assert reply["success"] is True and reply["content"] == "It is a fruit." and reply["action"] == "complete"
    assert backend.chat_requests()[-1]["body"]["messages"][0] == {"role": "system", "content": "You give trivia hints."}


async def test_request_reply_gets_the_same_object_as_the_broadcast(nc, bus) -> None:
    reply = await ask(nc, "llm.request", {"action": "chat", "channel_id": "trivia", "message": "hey",
                                          "username": "quizbot", "request_id": "rr"})
    [broadcast] = await bus.wait_for("llm.response", lambda p: p.get("request_id") == "rr")

    assert reply == broadcast


async def test_a_chat_without_a_channel_is_an_error_on_llm_error(nc, bus) -> None:
    await publish(nc, {"action": "chat", "message": "hey", "request_id": "no-channel"})

    [error] = await bus.wait_for("llm.error", lambda p: p.get("request_id") == "no-channel")
    assert error["success"] is False and error["action"] == "chat"
    assert "missing 'channel_id'" in error["error"]
    [event] = await bus.wait_for("rosey.event.llm.error")
    assert event["error_type"] == "validation" and "missing 'channel_id'" in event["error"]
