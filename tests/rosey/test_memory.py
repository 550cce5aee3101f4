"""Memory: recalled by meaning when the backend embeds, else by words; kept in SQLite or shared in JetStream KV."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from assistant.config import Config
from assistant.rosey import LLMPlugin
from assistant.rosey.store import StoreUnavailable
from tests.rosey.conftest import ask, bot_config, saved, until_same_channel

FACTS = ["alice has a kitten called Tom", "bob ordered a pepperoni pizza", "carol's birthday is in May"]


async def remember_facts(nc) -> None:
    for fact in FACTS:
        await ask(nc, "rosey.llm.memory.add", {"channel": "lobby", "content": fact})


async def chat(nc, channel: str, user: str, text: str) -> dict:
    return await ask(nc, "rosey.command.chat", {"channel": channel, "user": user, "args": text})


async def recall(nc, query: str) -> list[str]:
    reply = await ask(nc, "rosey.llm.memory.recall", {"channel": "lobby", "query": query})
    assert reply["success"] is True
    return reply["memories"]


async def test_recall_finds_memories_by_meaning_when_the_backend_has_embeddings(nc, plugin, backend) -> None:
    await remember_facts(nc)

    assert await recall(nc, "feline") == ["alice has a kitten called Tom"]
    assert await recall(nc, "when was carol born") == ["carol's birthday is in May"]
    assert any(r["path"].endswith("/embeddings") for r in backend.requests)


async def test_recall_falls_back_to_words_when_the_backend_cannot_embed(nc, plugin, backend) -> None:
    backend.embeddings_enabled = False
    await remember_facts(nc)

    assert await recall(nc, "feline") == []
    assert await recall(nc, "kittens") == ["alice has a kitten called Tom"]
    assert await recall(nc, "PIZZA") == ["bob ordered a pepperoni pizza"]


async def test_two_bots_sharing_a_kv_bucket_keep_every_turn_of_a_channel(
    nc, plugin_factory, backend, tmp_path, nats_server
) -> None:
    config = bot_config(tmp_path, backend.base_url, nats_server.url,
                        memory={"backend": "jetstream", "bucket": "shared-turns"})
    first = await plugin_factory(config)
    second = await plugin_factory(config)
    gate = backend.gate("at once")

    turns = [asyncio.create_task(first.service.chat("lobby", "alice", "at once from one")),
             asyncio.create_task(second.service.chat("lobby", "bob", "at once from two"))]
    await gate.wait_held(2)
    gate.open()
    await asyncio.gather(*turns)
    await saved(first, second)
    await until_same_channel(first, second, "lobby")

    await first.service.chat("lobby", "carol", "what was said?")
    assert sorted(m["content"] for m in backend.chat_requests()[-1]["body"]["messages"] if m["role"] == "user") == [
        "alice: at once from one", "bob: at once from two", "carol: what was said?",
    ]


async def test_channel_names_kv_keys_cannot_hold_are_stored_and_read_back(
    nc, plugin_factory, backend, tmp_path, nats_server
) -> None:
    await plugin_factory(bot_config(tmp_path, backend.base_url, nats_server.url,
                                    memory={"backend": "jetstream", "bucket": "odd-names"}))
    for channel in ("#lobby room", "ünïcödé 🎬", "a.b>c*d"):
        await ask(nc, "rosey.llm.persona.set", {"channel": channel, "persona": "creative"})
        await ask(nc, "rosey.llm.memory.add", {"channel": channel, "content": f"fact of {channel}"})

        assert (await ask(nc, "rosey.llm.persona.get", {"channel": channel}))["persona"] == "creative"
        found = await ask(nc, "rosey.llm.memory.recall", {"channel": channel, "query": ""})
        assert found["memories"] == [f"fact of {channel}"]


async def test_recall_by_words_puts_memories_matching_more_of_the_words_first(nc, plugin, backend) -> None:
    backend.embeddings_enabled = False
    for fact in ["the pizza place closes at ten", "bob ordered a pizza for the quiz on friday",
                 "the quiz is on friday", "friday is movie night"]:
        await ask(nc, "rosey.llm.memory.add", {"channel": "lobby", "content": fact})

    assert await recall(nc, "pizza quiz friday") == [
        "bob ordered a pizza for the quiz on friday", "the quiz is on friday", "the pizza place closes at ten",
        "friday is movie night",
    ]


# The bot's database as the first release wrote it, frozen: it must open in every later release.
FIRST_RELEASE_DATABASE = """
CREATE TABLE channels (channel TEXT PRIMARY KEY, record TEXT NOT NULL, revision INTEGER NOT NULL);
CREATE TABLE memories (
    id TEXT PRIMARY KEY, channel TEXT NOT NULL, user TEXT, content TEXT NOT NULL,
    category TEXT NOT NULL, importance INTEGER NOT NULL, created REAL NOT NULL
);
CREATE INDEX memories_by_channel ON memories (channel, created);
CREATE TABLE usage (
    day TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL,
    requests INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    PRIMARY KEY (day, scope, name)
);
INSERT INTO channels VALUES ('lobby', '{"persona": "creative", "summary": "", "turns": [[
    {"role": "user", "content": "alice: my name is Alice"},
    {"role": "assistant", "content": "You said: alice: my name is Alice"}]]}', 3);
INSERT INTO memories VALUES ('5f0c', 'lobby', 'alice', 'Alice plays the guitar', 'fact', 1, 1735689600.0);
PRAGMA user_version = 1;
"""


async def test_a_database_written_by_the_first_release_opens_with_its_data(
    nc, plugin_factory, backend, tmp_path
) -> None:
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "rosey.sqlite3") as raw:
        raw.executescript(FIRST_RELEASE_DATABASE)
    raw.close()
    await plugin_factory()

    assert (await ask(nc, "rosey.llm.persona.get", {"channel": "lobby"}))["persona"] == "creative"
    assert (await chat(nc, "lobby", "bob", "recall guitar"))["result"] == "I remember: Alice plays the guitar (alice)"
    await chat(nc, "lobby", "bob", "who am I talking to?")
    sent = [m["content"] for m in backend.chat_requests()[-1]["body"]["messages"] if m["role"] != "system"]
    assert sent == ["alice: my name is Alice", "You said: alice: my name is Alice", "bob: who am I talking to?"]


async def test_a_database_from_a_newer_release_stops_the_start_with_the_fix(
    nc, backend, tmp_path, nats_server
) -> None:
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "rosey.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    raw.close()
    plugin = LLMPlugin(nc, Config.model_validate(bot_config(tmp_path, backend.base_url, nats_server.url)))

    with pytest.raises(StoreUnavailable) as refused:
        await plugin.start()

    assert str(path) in str(refused.value)
    assert "schema version 99, written by a newer Rosey Assistant" in str(refused.value)
    assert "point rosey.memory.path at another file" in str(refused.value)
