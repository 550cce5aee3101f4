"""Bots on one JetStream KV bucket keep in memory what every request reads, and follow every change to it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats

from assistant.config import Config
from assistant.rosey.plugin import LLMPlugin
from tests.rosey.conftest import NatsServer, bot_config, saved


async def until(condition: Callable[[], Any], what: str, timeout: float = 15.0) -> None:
    """Until the coroutine function ``condition`` answers true; fails naming ``what`` after ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.05)


async def persona_seen_by(plugin: LLMPlugin, channel: str) -> str | None:
    return (await plugin.service.store.load_channel(channel)).persona


async def test_a_bot_sees_what_another_changed_while_nats_restarted(backend, tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    raw = bot_config(tmp_path, backend.base_url, server.url, memory={"backend": "jetstream", "bucket": "restarts"})
    clients, plugins = [], []

    async def start_plugin() -> LLMPlugin:
        client = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        plugin = LLMPlugin(client, Config.model_validate(raw))
        await plugin.start()
        clients.append(client)
        plugins.append(plugin)
        return plugin

    try:
        first = await start_plugin()
        await first.service.chat("lobby", "alice", "before the restart")
        await saved(first)
        assert await persona_seen_by(first, "lobby") is None

        server.stop()
        server.start()
        second = await start_plugin()
        await second.service.set_persona("lobby", "creative")

        await until(lambda: _is(persona_seen_by(first, "lobby"), "creative"), "the first bot to see the new persona")
        await first.service.chat("lobby", "alice", "after the restart")
        assert "Be imaginative and playful" in backend.chat_requests()[-1]["body"]["messages"][0]["content"]
    finally:
        for plugin in plugins:
            await plugin.stop()
        for client in clients:
            await client.close()
        server.stop()


async def _is(value: Any, expected: Any) -> bool:
    return await value == expected
