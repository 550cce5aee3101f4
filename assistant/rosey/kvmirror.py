"""The newest entry of some keys of a JetStream KV bucket, kept in memory by a watcher.

A chat turn reads its channel's record, and its admission the rate-limit
records of the user and the room, on every request; over the network each
read is a round trip to the server (about a millisecond here). The mirror
answers those reads locally: a KV watcher delivers every change any process
writes, usually within a fraction of a millisecond, and this process's own
writes are recorded at once.

A read from the mirror can be that fraction of a millisecond behind another
process. That never loses a write: every write is a compare-and-set on the
revision read, a stale revision fails, and the key is read from the server
before the write is tried again (`forget`). A turn another process saved in
that fraction of a millisecond can be missing from the conversation the model
sees, as it can when two processes answer in one channel at once. Until the
watcher has delivered the keys' current values, and after NATS reconnects
(the watcher's consumer may have missed changes), the mirror answers nothing
and reads go to the server.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from nats.errors import Error as NatsError
from nats.js.kv import KV_DEL, KV_PURGE

log = logging.getLogger("assistant.rosey")


@dataclass(frozen=True, slots=True)
class MirroredEntry:
    """A key's value at ``revision``; ``value`` is None for a deleted key."""

    value: bytes | None
    revision: int


class KeyMirror:
    """The keys matching ``keys`` (a KV key pattern, ``limits-user.>``) as last delivered, plus our own writes.

    It owns its watcher and the task reading it; it never writes the bucket.
    """

    def __init__(self, kv: Any, nats_client: Any, keys: str) -> None:
        self._kv = kv
        self._nc = nats_client
        self.keys = keys
        self._entries: dict[str, MirroredEntry] = {}
        self._doubtful: set[str] = set()
        self._live = False
        self._reconnects = 0
        self._watcher: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._restarting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start watching; the mirror answers once the watcher has caught up with the bucket."""
        self._reconnects = self._nc.stats["reconnects"]
        self._entries.clear()
        self._doubtful.clear()
        self._live = False
        try:
            self._watcher = await self._kv.watch(self.keys)
        except (NatsError, TimeoutError) as exc:
            log.warning("KV keys %s not mirrored (%s); reading them over the network", self.keys,
                        exc or type(exc).__name__)
            return
        self._reader = asyncio.get_running_loop().create_task(self._read(self._watcher))

    async def stop(self) -> None:
        self._live = False
        restarting, self._restarting = self._restarting, None
        if restarting is not None and restarting is not asyncio.current_task():
            restarting.cancel()
            await asyncio.gather(restarting, return_exceptions=True)
        watcher, self._watcher = self._watcher, None
        reader, self._reader = self._reader, None
        if watcher is not None:
            try:
                await watcher.stop()
            except (NatsError, OSError, TimeoutError):
                pass
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    def covers(self, key: str) -> bool:
        """Whether `get` can answer for ``key`` without asking the server."""
        if self._live and self._nc.stats["reconnects"] != self._reconnects:
            self._live = False
            self._restarting = asyncio.get_running_loop().create_task(self._restart())
        return self._live and key not in self._doubtful

    def get(self, key: str) -> MirroredEntry | None:
        """The key's newest entry known here; None when the bucket has no such key. Ask `covers` first."""
        entry = self._entries.get(key)
        return entry if entry is not None and entry.value is not None else None

    def record(self, key: str, value: bytes | None, revision: int) -> None:
        """A value read from or written to the server: kept unless the mirror already knows a newer one."""
        self._doubtful.discard(key)
        known = self._entries.get(key)
        if known is None or revision > known.revision:
            self._entries[key] = MirroredEntry(value, revision)

    def forget(self, key: str) -> None:
        """A write found the mirror's revision stale: read the key from the server until it is recorded again."""
        self._doubtful.add(key)

    async def _read(self, watcher: Any) -> None:
        try:
            async for entry in watcher:
                if entry is None:
                    self._live = True
                    continue
                deleted = entry.operation in (KV_DEL, KV_PURGE)
                known = self._entries.get(entry.key)
                if known is None or entry.revision > known.revision:
                    self._entries[entry.key] = MirroredEntry(None if deleted else entry.value, entry.revision)
        finally:
            self._live = False

    async def _restart(self) -> None:
        await self.stop()
        await self.start()
