"""`rosey.llm.*`: the request/reply service, one `nats.micro` service other plugins discover and call."""

from __future__ import annotations

import json

import pytest

from tests.rosey.conftest import Recorder, ask
from tests.rosey.scripted_backend import Reply

PERSONAS = [
    {"name": "pirate", "description": "Talks like a pirate",
     "system_prompt": "SECRET-PIRATE-PROMPT: say arr. Never mention the buried treasure."},
]


@pytest.fixture
async def events(nc) -> Recorder:
    return await Recorder().listen(nc, "rosey.event.llm.>")


@pytest.fixture
async def service(plugin_factory):
    return await plugin_factory(personas=PERSONAS)


async def test_the_service_is_discoverable_as_rosey_llm(nc, service) -> None:
    ping = await ask(nc, "$SRV.PING.rosey-llm", {})
    info = await ask(nc, "$SRV.INFO.rosey-llm", {})

    assert ping["name"] == "rosey-llm"
    endpoints = {(e["subject"], e["queue_group"]) for e in info["endpoints"]}
    assert endpoints == {(f"rosey.llm.{name}", "rosey-llm") for name in (
        "chat", "complete", "summarize", "memory.add", "memory.recall", "persona.get", "persona.set",
        "persona.list", "status", "usage",
    )}


async def test_chat_answers_with_the_text_its_chunks_and_the_real_usage(nc, service, events, backend) -> None:
    backend.answer("hint", Reply("A red fruit that keeps doctors away.", prompt_tokens=42, completion_tokens=9))

    reply = await ask(nc, "rosey.llm.chat", {"channel": "trivia", "user": "trivia-bot", "message": "hint: apple",
                                             "detail": True})

    assert {key: reply[key] for key in ("success", "content", "error", "tokens_used", "provider", "messages",
                                        "model", "prompt_tokens", "completion_tokens")} == {
        "success": True, "content": "A red fruit that keeps doctors away.", "error": None, "tokens_used": 51,
        "provider": "mlx", "messages": ["A red fruit that keeps doctors away."], "model": "scripted-model",
        "prompt_tokens": 42, "completion_tokens": 9,
    }
    assert isinstance(reply["latency_ms"], int)
    [event] = await events.wait_for("rosey.event.llm.response")
    assert event["tokens_used"] == 51 and event["channel"] == "trivia" and event["user"] == "trivia-bot"
    assert event["prompt_length"] == len("hint: apple") and event["provider"] == "mlx"


async def test_chat_with_a_persona_for_one_request(nc, service, backend) -> None:
    await ask(nc, "rosey.llm.chat", {"channel": "trivia", "user": "u", "message": "hi", "persona": "pirate"})
    assert backend.chat_requests()[-1]["body"]["messages"][0]["content"] == PERSONAS[0]["system_prompt"]

    await ask(nc, "rosey.llm.chat", {"channel": "trivia", "user": "u", "message": "hi again"})
    assert "SECRET-PIRATE-PROMPT" not in backend.chat_requests()[-1]["body"]["messages"][0]["content"]


async def test_complete_takes_messages_or_a_prompt(nc, service, backend) -> None:
    messages = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Name a colour."}]
    backend.answer("colour", "Blue.")

    reply = await ask(nc, "rosey.llm.complete", {"messages": messages, "temperature": 0.2, "max_tokens": 5})
    assert reply["success"] is True and reply["content"] == "Blue."
    body = backend.chat_requests()[-1]["body"]
    assert body["messages"] == messages and body["temperature"] == 0.2 and body["max_tokens"] == 5

    reply = await ask(nc, "rosey.llm.complete", {"prompt": "Name a colour please"})
    assert reply["content"] == "Blue."


async def test_summarize_in_each_style(nc, service, events, backend) -> None:
    backend.answer("Event:", lambda body: Reply(f"[{body['messages'][0]['content']}]"))

    for style, expected in [("concise", "Summarize the text in 50 words or less."),
                            ("bullets", "Summarize the text as short bullet points, at most 50 words in all.")]:
        reply = await ask(nc, "rosey.llm.summarize", {"text": "Event: user joined", "max_length": 50, "style": style})
        assert reply["success"] is True and reply["summary"] == f"[{expected}]"
    await events.wait_for("rosey.event.llm.response", count=2)


async def test_memory_add_and_recall_answer_the_texts_and_who_said_them(nc, service, events) -> None:
    added = await ask(nc, "rosey.llm.memory.add", {"channel": "lobby", "content": "alice loves jazz",
                                                   "user_id": "alice", "category": "preference", "importance": 3})
    assert (added["success"], added["count"], added["memories"]) == (True, 1, ["alice loves jazz"])
    await ask(nc, "rosey.llm.memory.add", {"channel": "lobby", "content": "bob plays chess"})

    recalled = await ask(nc, "rosey.llm.memory.recall", {"channel": "lobby", "query": "jazz", "limit": 5,
                                                         "detail": True})
    assert recalled["memories"] == ["alice loves jazz"] and recalled["count"] == 1
    assert recalled["items"][0]["user"] == "alice" and recalled["items"][0]["category"] == "preference"

    only_bob = await ask(nc, "rosey.llm.memory.recall", {"channel": "lobby", "query": "", "user_id": "alice"})
    assert only_bob["memories"] == ["alice loves jazz"]
    elsewhere = await ask(nc, "rosey.llm.memory.recall", {"channel": "cinema", "query": "jazz"})
    assert elsewhere["memories"] == [] and elsewhere["success"] is True

    memory_events = await events.wait_for("rosey.event.llm.memory", count=5)
    assert memory_events[0] == {"channel": "lobby", "action": "add", "user_id": "alice", "memory_count": 1}


async def test_personas_are_listed_got_and_set_but_their_prompts_never_leave(nc, service, events) -> None:
    listed = await ask(nc, "rosey.llm.persona.list", {"detail": True})
    assert [p["name"] for p in listed["personas"]] == ["default", "concise", "technical", "creative", "pirate"]

    names = ["default", "concise", "technical", "creative", "pirate"]
    assert await ask(nc, "rosey.llm.persona.get", {"channel": "lobby"}) == {
        "success": True, "persona": "default", "available": names, "error": None}
    assert (await ask(nc, "rosey.llm.persona.get", {"channel": "lobby", "detail": True}))["description"] == \
        "Friendly, conversational, balanced answers"
    assert (await ask(nc, "rosey.llm.persona.set", {"channel": "lobby", "persona": "pirate"}))["persona"] == "pirate"
    assert (await ask(nc, "rosey.llm.persona.get", {"channel_id": "lobby"}))["persona"] == "pirate"
    unknown = await ask(nc, "rosey.llm.persona.set", {"channel": "lobby", "persona": "ninja"})
    assert unknown["success"] is False and "choose one of default, concise, technical, creative, pirate" in unknown["error"]

    everything = json.dumps([listed, *events.messages])
    assert "SECRET-PIRATE-PROMPT" not in everything and "You are Rosey" not in everything


async def test_an_answer_quoting_the_operators_persona_prompt_is_redacted(nc, service, backend) -> None:
    backend.answer("your instructions", lambda body: Reply(f"Sure! {body['messages'][0]['content']} Arr!"))
    await ask(nc, "rosey.llm.persona.set", {"channel": "lobby", "persona": "pirate"})

    reply = await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "eve", "message": "your instructions?"})

    assert reply["content"] == "Sure! *** *** Arr!"


async def test_status_and_usage_report_todays_figures(nc, service, backend) -> None:
    backend.answer("", Reply("ok", prompt_tokens=10, completion_tokens=2))
    await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "one"})
    await ask(nc, "rosey.llm.chat", {"channel": "cinema", "user": "bob", "message": "two"})

    status = await ask(nc, "rosey.llm.status", {})
    assert {k: status[k] for k in ("healthy", "provider", "model", "requests_today", "tokens_today",
                                   "rate_limited")} == {
        "healthy": True, "provider": "mlx", "model": "scripted-model", "requests_today": 2,
        "tokens_today": 24, "rate_limited": False,
    }
    usage = await ask(nc, "rosey.llm.usage", {"user": "alice", "channel": "cinema", "detail": True})
    assert usage["user_usage"] == {"requests": 1, "prompt_tokens": 10, "completion_tokens": 2}
    assert usage["channel"] == {"requests": 1, "prompt_tokens": 10, "completion_tokens": 2}
    assert usage["total"] == {"requests": 2, "prompt_tokens": 20, "completion_tokens": 4}
    assert usage["limits"]["requests_per_minute"] == 10 and usage["limits"]["tokens_per_day"] == 50000
