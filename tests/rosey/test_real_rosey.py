"""The bot as a drop-in for the real Rosey-Robot's LLM plugin: its core's routing, its config, its callers' parsing.

Every test loads the plugin the way Rosey does (``LLMPlugin(nc, config)`` with
Rosey's own plugin config dict) and talks to it the way the real core and the
real plugins do (see ``real_rosey.py``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime

import nats
import pytest

from assistant.config import ConfigError
from assistant.rosey import LLMPlugin
from assistant.rosey.envelopes import envelope
from tests.rosey.conftest import Recorder, ask, bot_config
from tests.rosey.real_rosey import (
    ChatResponse,
    CompletionResponse,
    Event,
    LLMErrorEvent,
    LLMMemoryEvent,
    LLMResponseEvent,
    MemoryResponse,
    PersonaResponse,
    RoseyCore,
    StatusResponse,
    SummaryResponse,
    UsageResponse,
    UsageThresholdEvent,
    chat_line,
    platform_command,
    plugin_config,
)

KEY = "sk-real-rosey-KEY-0123456789"


@pytest.fixture
def rosey_env(tmp_path, monkeypatch) -> None:
    """Where the plugin keeps its state, and the variable its API key goes into, both undone after the test."""
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ROSEY_LLM_OPENAI_API_KEY", "")


@pytest.fixture
def load(plugin_factory, backend, rosey_env):
    """``await load(**config)``: the plugin started as Rosey starts it, from Rosey's own config dict."""
    return lambda **extra: plugin_factory(plugin_config(backend.base_url, KEY, **extra))


@pytest.fixture
async def core(nc) -> RoseyCore:
    return await RoseyCore(nc, {"chat": "llm", "8ball": "8ball"}).start()


# ---------------------------------------------------------------- the room, through the core


async def test_a_chat_command_in_the_room_is_routed_to_the_bot_and_its_answer_reaches_the_room(
    load, core, backend
) -> None:
    await load()
    backend.answer("two plus two", "Four.")
    command = platform_command("!chat what is two plus two", "alice", "lobby")

    await core.say(command)

    assert await core.wait_for_room(1) == ["Four."]
    [answer] = core.answers
    assert (answer.subject, answer.source, answer.correlation_id) == (
        "rosey.plugins.llm.message", "llm", command.correlation_id)
    assert answer.data["response"] == "Four."
    assert backend.chat_requests()[-1]["body"]["messages"][-1]["content"] == "alice: what is two plus two"


async def test_todays_core_chat_lines_reach_the_bot_from_the_connector(load, core, backend) -> None:
    await load()

    await core.say(chat_line("bob", "hello everyone"))
    await core.say(chat_line("bob", "!chat tell me a joke"))
    await core.say(chat_line("carol", "!CHAT   what is new"))

    assert await core.wait_for_room(2) == ["You said: bob: tell me a joke", "You said: carol: what is new"]
    assert len(backend.chat_requests()) == 2, "a line without the prefix, or an answer, was taken for a command"


async def test_a_line_delivered_by_both_paths_is_answered_once(load, core, backend) -> None:
    await load()

    await core.say(chat_line("alice", "!chat ping"))
    await core.say(platform_command("!chat ping", "alice", "lobby"))
    await core.say(chat_line("alice", "!chat pong"))

    assert await core.wait_for_room(2) == ["You said: alice: ping", "You said: alice: pong"]
    assert [r["body"]["messages"][-1]["content"] for r in backend.chat_requests()] == ["alice: ping", "alice: pong"]


async def test_the_routers_copy_of_an_answer_is_never_taken_for_a_new_message(load, nc, backend) -> None:
    core = await RoseyCore(nc, {"chat": "llm"}, fallbacks=("llm",)).start()
    await load()

    await core.say(platform_command("!chat first", "alice", "lobby"))
    await core.wait_for_room(1)
    await core.say(platform_command("!chat second", "alice", "lobby"))

    assert await core.wait_for_room(2) == ["You said: alice: first", "You said: alice: second"]
    assert [r["body"]["messages"][-1]["content"] for r in backend.chat_requests()] == [
        "alice: first", "alice: second"]


async def test_a_long_answer_reaches_the_room_as_several_short_lines_in_order(load, core, backend) -> None:
    await load()
    backend.answer("story", " ".join(f"Sentence number {i} of the story goes here." for i in range(30)))

    await core.say(platform_command("!chat a story please", "alice", "lobby"))

    lines = await core.wait_for_room(4)
    assert len(lines) == 4 and all(len(line) <= 240 for line in lines)
    assert lines[0].startswith("Sentence number 0") and lines[-1].endswith("…")


async def test_an_empty_chat_and_a_refusal_are_said_in_the_room_too(load, core) -> None:
    await load(rate_limits={"requests_per_minute": 1})

    await core.say(platform_command("!chat", "alice", "lobby"))
    await core.say(platform_command("!chat first", "bob", "lobby"))
    await core.say(platform_command("!chat second", "bob", "lobby"))

    lines = await core.wait_for_room(3)
    assert "You said: bob: first" in lines
    assert sum(line.startswith("usage: !chat <message>") for line in lines) == 1
    assert sum(line.startswith("rate limit reached (1 requests a minute per user): try again in")
               for line in lines) == 1


# ---------------------------------------------------------------- Rosey's config dict


async def test_rosey_constructs_the_plugin_from_its_own_config_dict(load, nc, backend) -> None:
    plugin = await load()

    reply = await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "hello"})

    assert ChatResponse(**reply) == ChatResponse(True, "You said: alice: hello", None, reply["tokens_used"], "openai")
    request = backend.chat_requests()[-1]
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["body"]["model"] == "scripted-model"
    assert "Be brief" in request["body"]["messages"][0]["content"], "service.default_persona is concise"
    assert plugin.settings.max_turns == 5, "10 context messages are 5 exchanges"


async def test_the_api_key_from_the_config_dict_never_leaves_the_process(load, nc, backend, caplog) -> None:
    everything = await Recorder().listen(nc, ">")
    caplog.set_level(logging.DEBUG)
    await load()
    backend.answer("leak", f"the key is {KEY}")

    reply = await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "eve", "message": "leak it"})

    assert reply["content"] == "the key is ***"
    await everything.wait_for("rosey.event.llm.response")
    assert KEY not in json.dumps(everything.messages) and KEY not in caplog.text


async def test_keys_of_the_config_dict_it_does_without_are_logged_and_ignored(load, nc, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="assistant.rosey")

    await load(max_retries_of_rosey=3, service={"max_context_messages": 10, "stream": True})

    assert "plugin config: 'max_retries_of_rosey' is not used by this plugin; ignored" in caplog.text
    assert "plugin config: service.stream is not used by this plugin; ignored" in caplog.text
    assert (await ask(nc, "rosey.llm.status", {}))["provider"] == "openai"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"default_provider": "gemini"}, "default_provider 'gemini' is not a backend of this plugin; choose one of"),
        ({"providers": {"openai": {"timeout": "soon"}}}, "providers.openai.timeout"),
        ({"service": {"max_context_messages": 0}}, "'service.max_context_messages' must be a whole number"),
        ({"rate_limits": {"requests_per_minute": -1}}, "rate_limits.requests_per_minute"),
    ],
)
def test_a_value_of_the_config_dict_it_cannot_use_is_named(backend, rosey_env, change, problem) -> None:
    with pytest.raises(ConfigError) as error:
        LLMPlugin(None, {**plugin_config(backend.base_url, KEY), **change})

    assert problem in str(error.value)
    assert KEY not in str(error.value)


async def test_a_plugin_switched_off_in_its_config_serves_nothing(load, nc) -> None:
    plugin = await load(enabled=False)

    assert not plugin.running
    with pytest.raises(nats.errors.NoRespondersError):
        await nc.request("rosey.llm.status", b"{}", timeout=5)


# ---------------------------------------------------------------- the real callers' typed parsing


async def test_every_reply_builds_the_real_response_dataclass(load, nc, backend) -> None:
    await load()
    backend.answer("", "Done.")

    chat = ChatResponse(**await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "hi"}))
    completion = CompletionResponse(**await ask(nc, "rosey.llm.complete", {
        "messages": [{"role": "user", "content": "Name a colour."}], "temperature": 0.7, "max_tokens": None}))
    summary = SummaryResponse(**await ask(nc, "rosey.llm.summarize", {"text": "long text", "max_length": 20,
                                                                      "style": "concise"}))
    added = MemoryResponse(**await ask(nc, "rosey.llm.memory.add", {
        "channel": "lobby", "content": "alice likes jazz", "category": "preference", "user_id": "alice",
        "importance": 3}))
    recalled = MemoryResponse(**await ask(nc, "rosey.llm.memory.recall", {
        "channel": "lobby", "query": "jazz", "user_id": None, "limit": 5}))
    persona = PersonaResponse(**await ask(nc, "rosey.llm.persona.get", {"channel": "lobby"}))
    status = StatusResponse(**await ask(nc, "rosey.llm.status", {}))
    usage = UsageResponse(**await ask(nc, "rosey.llm.usage", {"user": "alice"}))
    everyone = UsageResponse(**await ask(nc, "rosey.llm.usage", {}))

    assert (chat.success, chat.content, chat.provider) == (True, "Done.", "openai")
    assert (completion.success, completion.content) == (True, "Done.")
    assert (summary.success, summary.summary) == (True, "Done.")
    assert added.success and added.count == 1 and added.memory_id
    assert (recalled.memories, recalled.count, recalled.memory_id) == (["alice likes jazz"], 1, None)
    assert (persona.persona, persona.available) == ("concise", ["default", "concise", "technical", "creative"])
    assert (status.healthy, status.provider, status.model, status.requests_today) == (
        True, "openai", "scripted-model", 3)
    assert status.uptime_seconds >= 0
    assert (usage.user, usage.requests_today) == ("alice", 1)
    assert usage.rate_limits_remaining == {"requests_minute": 9, "requests_hour": 99, "requests_day": 499,
                                           "tokens_day": 50000 - status.tokens_today}
    assert (everyone.user, everyone.requests_today, everyone.rate_limits_remaining) == (None, 3, {})


async def test_failed_replies_build_the_real_dataclasses_too(load, nc) -> None:
    await load(rate_limits={"requests_per_minute": 1})
    await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "one"})

    limited = ChatResponse(**await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "2"}))
    numbered = ChatResponse(**await ask(nc, "rosey.llm.chat", {"channel": 42, "user": "alice", "message": "hi"}))
    no_text = SummaryResponse(**await ask(nc, "rosey.llm.summarize", {"style": "concise"}))
    no_content = MemoryResponse(**await ask(nc, "rosey.llm.memory.add", {"channel": "lobby"}))
    bad_usage = UsageResponse(**await ask(nc, "rosey.llm.usage", b"not json"))

    assert not limited.success and limited.error.startswith("rate limit reached (1 requests a minute per user)")
    assert not numbered.success
    assert numbered.error == "bad request: 'channel' (or 'channel_id') must be a string, not a number"
    assert not no_text.success and "missing 'text'" in no_text.error
    assert not no_content.success and "missing 'content'" in no_content.error
    assert (bad_usage.user, bad_usage.requests_today) == (None, 0)


async def test_detail_adds_our_figures_and_the_retry_time(load, nc) -> None:
    await load(rate_limits={"requests_per_minute": 1})

    served = await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "hi", "detail": True})
    limited = await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "hi", "detail": True})

    assert served["messages"] == ["You said: alice: hi"] and served["model"] == "scripted-model"
    assert isinstance(served["latency_ms"], int)
    assert limited["rate_limited"] is True and 1 <= limited["retry_after"] <= 60


# ---------------------------------------------------------------- events, field by field


async def test_events_carry_exactly_the_real_fields(load, nc, backend) -> None:
    events = await Recorder().listen(nc, "rosey.event.llm.>")
    await load(rate_limits={"requests_per_minute": 5})
    backend.answer("", "Sure.")

    await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": "hello"})
    await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "bob", "message": "hi", "persona": "technical"})
    await ask(nc, "rosey.llm.memory.add", {"channel": "lobby", "content": "bob likes tea", "user_id": "bob"})
    await ask(nc, "rosey.llm.memory.recall", {"channel": "lobby", "query": "tea"})
    await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice"})

    first, second = await events.wait_for("rosey.event.llm.response", count=2)
    assert asdict(LLMResponseEvent(**first)) == {
        "channel": "lobby", "user": "alice", "prompt_length": 5, "response_length": 5,
        "tokens_used": first["tokens_used"], "provider": "openai", "latency_ms": first["latency_ms"],
        "persona": "concise"}
    assert LLMResponseEvent(**second).persona == "technical"
    added, recalled = await events.wait_for("rosey.event.llm.memory", count=2)
    assert LLMMemoryEvent(**added) == LLMMemoryEvent("lobby", "add", "bob", 1)
    assert LLMMemoryEvent(**recalled) == LLMMemoryEvent("lobby", "recall", None, 1)
    [error] = await events.wait_for("rosey.event.llm.error")
    assert LLMErrorEvent(**error) == LLMErrorEvent(
        "lobby", "alice", "bad request: missing 'message' (or 'args', 'prompt', 'content')", "openai", "validation")


async def test_a_limit_crossing_80_and_100_percent_is_announced_where_real_subscribers_listen(load, nc) -> None:
    events = await Recorder().listen(nc, "rosey.event.llm.usage_threshold", "rosey.event.llm.error")
    await load(rate_limits={"requests_per_minute": 5})

    for i in range(6):
        await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": f"q{i}"})

    at_80, at_100 = await events.wait_for("rosey.event.llm.usage_threshold", count=2)
    assert UsageThresholdEvent(**at_80) == UsageThresholdEvent("alice", "lobby", "minute", 4, 5, 0.8)
    assert UsageThresholdEvent(**at_100) == UsageThresholdEvent("alice", "lobby", "minute", 5, 5, 1.0)
    [limited] = await events.wait_for("rosey.event.llm.error")
    assert LLMErrorEvent(**limited).error_type == "rate_limit"


async def test_the_broadcasts_carry_the_real_plugins_types(load, nc) -> None:
    room = await Recorder().listen(nc, "llm.response", "llm.error")
    await load()

    await nc.publish("rosey.command.chat", json.dumps({"channel_id": "lobby", "username": "a", "args": ["hi"]}).encode())
    await nc.publish("rosey.command.chat", json.dumps({"channel_id": "lobby", "username": "a", "args": []}).encode())

    [response] = await room.wait_for("llm.response")
    [error] = await room.wait_for("llm.error")
    assert (response["type"], response["channel_id"], response["content"]) == (
        "llm_response", "lobby", "You said: a: hi")
    assert (error["type"], error["channel_id"]) == ("llm_error", "lobby")


# ---------------------------------------------------------------- the real plugins' conventions


async def test_remember_from_the_real_callers_stores_the_words_after_the_command(load, nc) -> None:
    await load()

    stored = await ask(nc, "rosey.command.chat.remember",
                       {"channel": "lobby", "user": "alice", "args": ["remember", "the", "quiz", "is", "at", "nine"]})
    recalled = await ask(nc, "rosey.command.chat.recall", {"channel": "lobby", "user": "bob", "args": ["quiz"]})

    assert stored["success"] is True
    assert recalled["result"] == "I remember: the quiz is at nine (alice)"


async def test_a_reply_to_subject_in_the_payload_gets_the_answer(load, nc) -> None:
    inbox = await Recorder().listen(nc, "rosey.reply.cmd-1", "rosey.reply.svc-1")
    await load()

    await nc.publish("rosey.command.chat", json.dumps(
        {"channel": "lobby", "user": "alice", "args": "hello", "reply_to": "rosey.reply.cmd-1"}).encode())
    await nc.publish("rosey.llm.chat", json.dumps(
        {"channel": "lobby", "user": "alice", "message": "again", "reply_to": "rosey.reply.svc-1"}).encode())

    [command] = await inbox.wait_for("rosey.reply.cmd-1")
    [service] = await inbox.wait_for("rosey.reply.svc-1")
    assert command == {"success": True, "result": "You said: alice: hello", "messages": ["You said: alice: hello"]}
    assert ChatResponse(**service).content.startswith("You said:")


def test_an_answer_envelope_is_exactly_what_roseys_event_bus_rebuilds() -> None:
    built = Event(**envelope("rosey.plugins.llm.message", "llm", {"response": "hi"}, None))

    assert built.correlation_id and built.event_type == "message" and built.priority == 2


# ---------------------------------------------------------------- tools in bot mode


async def test_a_tool_call_from_the_room_runs_the_allowlisted_tool_and_the_answer_reaches_the_room(
    plugin_factory, core, scripted_openai, tmp_path, nats_server
) -> None:
    await plugin_factory(bot_config(tmp_path, scripted_openai.base_url, nats_server.url, tools=["calculator"]))
    scripted_openai.reply(tool_calls=[("calculator", {"expression": "6 * 7"})])
    scripted_openai.reply("Six times seven is 42.")

    await core.say(platform_command("!chat what is 6 times 7", "alice", "lobby"))

    assert await core.wait_for_room(1) == ["Six times seven is 42."]
    asked, answered = scripted_openai.requests
    assert [tool["function"]["name"] for tool in asked["tools"]] == ["calculator"]
    result = answered["messages"][-1]
    assert (result["role"], result["tool_call_id"], result["content"]) == ("tool", "call_0_calculator", "42")


async def test_a_tool_the_operator_did_not_allow_is_never_run(
    plugin_factory, core, scripted_openai, tmp_path, nats_server
) -> None:
    await plugin_factory(bot_config(tmp_path, scripted_openai.base_url, nats_server.url, tools=["calculator"]))
    scripted_openai.reply(tool_calls=[("current_datetime", {})])
    scripted_openai.reply("I cannot tell the time here.")

    await core.say(platform_command("!chat what time is it", "alice", "lobby"))

    assert await core.wait_for_room(1) == ["I cannot tell the time here."]
    asked, answered = scripted_openai.requests
    assert "current_datetime" not in json.dumps(asked["tools"])
    result = answered["messages"][-1]
    assert result["role"] == "tool" and "current_datetime" in result["content"]
    assert str(datetime.now(UTC).year) not in result["content"]
