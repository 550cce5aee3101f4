"""A channel's memories as the bot serves them: the records and ranking of ``assistant.memory``, kept in the store.

``remember``/``recall``/``forget`` serve the room and other plugins; each
announces itself on ``rosey.event.llm.memory``. ``for_turn`` picks the few
memories a chat turn should see: from the store's own copy when it keeps one
(a shared bucket's watcher), otherwise read at most every few seconds per
channel when other processes share the store (and once, then only after this
process changed it, when they do not), so a turn does not wait on the store
for memories that rarely change.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from llm import LLMProvider

from ..memory import Memory, Recall, matching_words
from ..rosey_settings import MemorySettings
from .bus import EVENT_MEMORY, RequestFailed
from .store import Store, StoreUnavailable

log = logging.getLogger("assistant.rosey")

SHARED_MEMORIES_FRESH_FOR = 5.0
"""Seconds a channel's memories read from a shared store are shown to turns before being read again."""

Announce = Callable[[str, dict[str, Any]], None]


class MemoryBook:
    """Remembers, recalls and forgets for the rooms, and picks the memories each turn sees.

    It owns a short-lived copy of each channel's memories and the ranker; the
    store holds the memories themselves. It never deletes a memory that does
    not contain every word asked for, nor another user's.
    """

    def __init__(
        self, store: Store, provider: LLMProvider, settings: MemorySettings, slots: asyncio.Semaphore,
        announce: Announce,
    ) -> None:
        self.store = store
        self.settings = settings
        self.ranker = Recall(provider)
        self._slots = slots
        self._announce = announce
        self._cache: dict[str, tuple[float, list[Memory]]] = {}

    async def remember(
        self, channel: str, user: str | None, content: str, *, category: str = "fact", importance: int = 1
    ) -> Memory:
        memory = Memory(channel, content, user, category, importance)
        await _stored(self.store.add_memory(memory))
        self._cache.pop(channel, None)
        self._announce(EVENT_MEMORY, {"channel": channel, "action": "add", "user_id": user, "memory_count": 1})
        return memory

    async def recall(self, channel: str, query: str, *, limit: int, user: str | None = None,
                     by: str | None = None) -> list[Memory]:
        """The memories of ``channel`` (of ``user`` only, when given) that best answer ``query``."""
        memories = await _stored(self.store.memories(channel))
        self._cache[channel] = (time.monotonic(), memories)
        if user:
            memories = [memory for memory in memories if memory.user == user]
        async with self._slots:
            found = await self.ranker.rank(query, memories, limit)
        self._announce(EVENT_MEMORY, {"channel": channel, "action": "recall", "user_id": by or user,
                                      "memory_count": len(found)})
        return found

    async def forget(self, channel: str, user: str, query: str) -> int:
        """Delete ``user``'s memories in ``channel`` that contain every word of ``query``."""
        memories = [m for m in await _stored(self.store.memories(channel)) if m.user == user]
        doomed = {memory.id for memory in matching_words(query, memories)}
        count = await _stored(self.store.delete_memories(channel, doomed)) if doomed else 0
        self._cache.pop(channel, None)
        self._announce(EVENT_MEMORY, {"channel": channel, "action": "forget", "user_id": user, "memory_count": count})
        return count

    async def for_turn(self, channel: str, text: str, memories: list[Memory] | None = None) -> list[Memory]:
        """The memories a turn about ``text`` should see, from ``memories`` (`stored`'s) when given."""
        limit = self.settings.context_memories
        if memories is None:
            memories = await self.stored(channel)
        return await self.ranker.rank(text, memories, limit) if memories and limit else []

    async def stored(self, channel: str) -> list[Memory]:
        """The channel's memories a turn may see, read from the store when the cache is not fresh;
        none when turns see no memories or the store cannot be read. Reads no model."""
        if not self.settings.context_memories:
            return []
        known = self.store.known_memories(channel)
        if known is not None:
            return known
        cached = self._cache.get(channel)
        fresh_for = SHARED_MEMORIES_FRESH_FOR if self.store.shared else math.inf
        if cached is not None and time.monotonic() - cached[0] < fresh_for:
            return cached[1]
        try:
            memories = await self.store.memories(channel)
        except StoreUnavailable as exc:
            log.warning("channel %s: memories not read (%s); answering without them", channel, exc)
            return []
        self._cache[channel] = (time.monotonic(), memories)
        return memories


async def _stored(work: Any) -> Any:
    try:
        return await work
    except StoreUnavailable as exc:
        log.warning("memory store: %s", exc)
        raise RequestFailed("memory is unavailable right now; try again in a moment") from None
