"""Memory: recall by meaning when the backend embeds, by words when it cannot; JetStream KV shared safely."""

from __future__ import annotations

import asyncio

from tests.rosey.conftest import ask, bot_config

FACTS = ["alice has a kitten called Tom", "bob ordered a pepperoni pizza", "carol's birthday is in May"]


async def remember_facts(nc) -> None:
    for fact in FACTS:
        await ask(nc, "rosey.llm.memory.add", {"channel": "lobby", "content": fact})


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
