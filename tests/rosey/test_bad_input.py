"""Bad input on every subject gets an error naming the problem; the plugin keeps serving and keeps its state.

The same goes for a backend that is down or too slow: the room hears that the
model is unavailable, and the next request works again once it is back.
"""

from __future__ import annotations

import json

import pytest

from tests.rosey.conftest import Recorder, ask

LIMIT = 4096

EVERY_SUBJECT = [
    "rosey.command.chat", "rosey.command.chat.persona", "rosey.command.llm.reset", "llm.request",
    "rosey.llm.chat", "rosey.llm.complete", "rosey.llm.summarize", "rosey.llm.memory.add",
    "rosey.llm.memory.recall", "rosey.llm.persona.get", "rosey.llm.persona.set", "rosey.llm.persona.list",
    "rosey.llm.status", "rosey.llm.usage",
]
NO_SUCCESS_FIELD = ("rosey.llm.status", "rosey.llm.usage")
"""Their real response schemas have neither ``success`` nor ``error``: the problem is in the error event."""
NEEDS_A_CHANNEL = [s for s in EVERY_SUBJECT if s not in (
    "llm.request", "rosey.llm.complete", "rosey.llm.summarize", "rosey.llm.persona.list", "rosey.llm.status",
    "rosey.llm.usage")]

UNREADABLE = {
    "not JSON": (b"{oops", "not valid JSON"),
    "not an object": (b'["channel", "lobby"]', "not a JSON object"),
    "a bare string": (b'"hello"', "not a JSON object"),
    "not UTF-8": (b'{"channel": "\xff\xfe"}', "not"),
    "huge": (json.dumps({"channel": "lobby", "message": "x" * (LIMIT + 10)}).encode(), "over the limit of 4096"),
    "deeply nested": (b"[" * 1500 + b"]" * 1500, "not valid JSON"),
}


@pytest.fixture
async def bot(plugin_factory):
    return await plugin_factory(max_request_bytes=LIMIT)


async def test_unreadable_payloads_are_refused_on_every_subject(nc, bot) -> None:
    events = await Recorder().listen(nc, "rosey.event.llm.error")
    await ask(nc, "rosey.llm.persona.set", {"channel": "lobby", "persona": "technical"})
    refused = 0

    for subject in EVERY_SUBJECT:
        for name, (payload, problem) in UNREADABLE.items():
            reply = await ask(nc, subject, payload)
            if subject in NO_SUCCESS_FIELD:
                assert "success" not in reply and reply["requests_today"] == 0, (subject, name)
            else:
                assert reply["success"] is False, (subject, name)
                assert problem in reply["error"], (subject, name, reply["error"])
            refused += 1

    errors = await events.wait_for("rosey.event.llm.error", count=refused)
    assert all(event["error_type"] == "validation" for event in errors)
    assert (await ask(nc, "rosey.llm.persona.get", {"channel": "lobby"}))["persona"] == "technical"
    assert (await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "a", "args": "still there?"}))["success"]


@pytest.mark.parametrize("subject", NEEDS_A_CHANNEL)
async def test_missing_and_mistyped_fields_are_named(nc, bot, subject) -> None:
    missing = await ask(nc, subject, {"user": "alice"})
    assert missing["success"] is False
    assert "missing 'channel' (or 'channel_id')" in missing["error"]

    mistyped = await ask(nc, subject, {"channel": ["lobby"], "user": "alice", "message": "hi", "persona": "concise"})
    assert mistyped["success"] is False
    assert "'channel' (or 'channel_id') must be a string, not a list" in mistyped["error"]


@pytest.mark.parametrize(
    ("subject", "payload", "problem"),
    [
        ("rosey.llm.chat", {"channel": "lobby", "message": 42},
         "'message' (or 'args', 'prompt', 'content') must be a string (or a list of words), not a number"),
        ("rosey.llm.chat", {"channel": "lobby"}, "missing 'message'"),
        ("rosey.llm.complete", {"messages": [{"role": "robot", "content": "hi"}]}, "'messages'[0].role"),
        ("rosey.llm.complete", {"messages": []}, "'messages' is empty"),
        ("rosey.llm.complete", {"prompt": "hi", "temperature": "hot"}, "'temperature' must be a number"),
        ("rosey.llm.summarize", {"text": "hi", "style": "poem"}, "'style'"),
        ("rosey.llm.summarize", {"max_length": 10}, "missing 'text'"),
        ("rosey.llm.memory.add", {"channel": "lobby", "content": ""},
         "'content' (or 'message', 'args', 'prompt', 'text') is empty"),
        ("rosey.llm.memory.recall", {"channel": "lobby", "limit": "all"}, "'limit' must be a whole number"),
        ("rosey.llm.persona.set", {"channel": "lobby"}, "missing 'persona'"),
        ("rosey.llm.usage", {"user": {"name": "alice"}, "detail": True},
         "'user' (or 'username', 'user_id') must be a string"),
        ("llm.request", {"action": "dance", "channel_id": "lobby", "message": "hi"}, "'action'"),
        ("llm.request", {"action": "complete", "max_tokens": 0, "message": "hi"}, "'max_tokens'"),
    ],
)
async def test_each_field_problem_is_named(nc, bot, subject, payload, problem) -> None:
    reply = await ask(nc, subject, payload)

    assert reply["success"] is False
    assert problem in reply["error"]


async def test_odd_unicode_is_served_and_cleaned(nc, bot, backend) -> None:
    odd = '{"channel": "caf\\u00e9 \\ud83c\\udfac", "user": "\\u202eevil\\u0000", "args": "hi \\ud800 there\\u0007 \\ud83d\\ude00"}'

    reply = await ask(nc, "rosey.command.chat", odd.encode())

    assert reply["success"] is True
    assert reply["result"] == "You said: \u202eevil: hi \ufffd there \U0001f600"
    assert backend.chat_requests()[-1]["body"]["messages"][-1]["content"] == "\u202eevil: hi \ufffd there \U0001f600"


async def test_a_flood_of_garbage_does_not_stop_good_requests(nc, bot) -> None:
    events = await Recorder().listen(nc, "rosey.event.llm.error")
    for i in range(200):
        await nc.publish(EVERY_SUBJECT[i % len(EVERY_SUBJECT)], b"\x00garbage" * (i % 7))
    good = await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "hello"})

    assert good["content"] == "You said: alice: hello"
    await events.wait_for("rosey.event.llm.error", count=200)


async def test_a_dead_backend_is_reported_and_recovery_needs_no_restart(nc, bot, backend) -> None:
    room = await Recorder().listen(nc, "llm.error")
    backend.down = True

    down = await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "are you there?"})
    assert down["success"] is False
    assert down["error"].startswith("the model is unavailable right now:")
    [broadcast] = await room.wait_for("llm.error")
    assert broadcast["error"] == down["error"] and broadcast["channel"] == "lobby"
    assert (await ask(nc, "rosey.llm.status", {}))["healthy"] is False

    backend.down = False
    up = await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "and now?"})
    assert up["result"] == "You said: alice: and now?"


async def test_a_backend_slower_than_the_request_timeout_is_answered_in_time(nc, plugin_factory, backend) -> None:
    await plugin_factory(request_timeout=0.5)
    backend.gate("slow")

    reply = await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "slow please"})

    assert reply["success"] is False
    assert reply["error"] == "the model did not answer within 0.5 s (rosey.request_timeout); try again later"
    assert (await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "quick"}))["success"]
