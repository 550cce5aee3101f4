"""A room line that reaches the bot twice (from the connector and through the router) is answered once.

Rosey's router passes a line's ``data`` through unchanged, CyTube's ``time``
included: the same ``time`` is the same line, and the same words at another
time are a user asking again.
"""

from __future__ import annotations

import uuid

from tests.rosey.conftest import bot_config
from tests.rosey.real_rosey import RoseyCore, chat_line, platform_command
from tests.rosey.scripted_backend import last_user_message


async def test_the_connectors_line_and_the_routers_copy_of_it_are_answered_once(plugin, nc, backend) -> None:
    core = await RoseyCore(nc, {"chat": "llm"}).start()
    line = chat_line("alice", "!chat ping")

    await core.say(line)
    await core.route_to("llm", line)
    await core.say(chat_line("alice", "!chat pong"))

    assert await core.wait_for_room(2) == ["You said: alice: ping", "You said: alice: pong"]
    assert [r["body"]["messages"][-1]["content"] for r in backend.chat_requests()] == ["alice: ping", "alice: pong"]


async def test_the_same_words_said_again_are_answered_again(plugin, nc, backend) -> None:
    core = await RoseyCore(nc, {"chat": "llm"}).start()
    first = chat_line("alice", "!chat ping")
    again = chat_line("alice", "!chat ping")
    again.data["time"] = first.data["time"] + 1500

    await core.say(first)
    await core.wait_for_room(1)
    await core.say(again)

    assert await core.wait_for_room(2) == ["You said: alice: ping", "You said: alice: ping"]
    assert len(backend.chat_requests()) == 2


async def test_a_command_without_cytubes_time_is_the_line_it_repeats(plugin, nc, backend) -> None:
    core = await RoseyCore(nc, {"chat": "llm"}).start()

    await core.say(chat_line("alice", "!chat  ping"))
    await core.say(platform_command("!chat ping", "alice", "lobby"))
    await core.say(platform_command("!chat ping", "bob", "lobby"))

    assert sorted(await core.wait_for_room(2)) == ["You said: alice: ping", "You said: bob: ping"]
    assert len(backend.chat_requests()) == 2


async def test_two_bots_on_one_bucket_answer_each_line_once_whichever_bot_gets_each_copy(
    plugin_factory, nc, backend, tmp_path, nats_server
) -> None:
    memory = {"backend": "jetstream", "bucket": f"lines-{uuid.uuid4().hex[:8]}"}
    bots = [await plugin_factory(bot_config(tmp_path, backend.base_url, nats_server.url, memory=memory,
                                            rate_limits={"requests_per_minute": 0})) for _ in range(2)]
    core = await RoseyCore(nc, {"chat": "llm"}).start()
    lines = [chat_line("alice", f"!chat line {i}") for i in range(10)]

    for line in lines:
        await core.say(line)
        await core.route_to("llm", line)
    answered = await core.wait_for_room(10)
    await nc.flush()
    for bot in bots:
        await bot.stop()

    expected = [f"alice: line {i}" for i in range(10)]
    assert sorted(answered) == sorted(f"You said: {words}" for words in expected)
    asked = [last_user_message(r["body"]) for r in backend.chat_requests()]
    assert sorted(words for words in asked if words.startswith("alice: line") and "\n" not in words) == expected
