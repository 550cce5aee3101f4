"""Where the bot keeps what must survive a restart: channel conversations and personas, memories, usage.

Two stores behind one interface: SQLite in the data directory (one bot
process), and a JetStream KV bucket (``kvstore.py``) that several bot
processes share. Memories are the records of ``assistant.memory``; in SQLite
they are kept in its table layout.

Channel records carry a revision: a save names the revision it was based on
and fails with `StaleRecord` when another process saved in between, so the
caller reloads and applies its change again instead of overwriting someone
else's turn. Usage is saved as increments for the same reason.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..memory import (
    MAX_MEMORIES_PER_CHANNEL,
    Memory,
    create_memory_table,
    delete_memories,
    insert_memory,
    select_memories,
)
from ..store.migrations import Migration, NewerSchema, migrate
from .usage import Counts, UsageKey

T = TypeVar("T")


class StoreUnavailable(Exception):
    """The bot's store cannot be reached or written; the bot keeps serving from what it holds in memory."""


class StaleRecord(Exception):
    """Another process saved this record since it was loaded: reload and apply the change again."""


@dataclass(slots=True)
class ChannelRecord:
    """One channel's persona and conversation: a summary of old turns, then the recent turns whole."""

    persona: str | None = None
    summary: str = ""
    turns: list[list[dict[str, Any]]] = field(default_factory=list)
    revision: int = 0

    def to_json(self) -> str:
        return json.dumps({"persona": self.persona, "summary": self.summary, "turns": self.turns})

    @classmethod
    def from_json(cls, text: str | bytes, revision: int) -> ChannelRecord:
        data = json.loads(text)
        return cls(data.get("persona"), data.get("summary") or "", list(data.get("turns") or []), revision)


class Store(ABC):
    """The bot's records behind one interface, whatever holds them.

    A store owns its connection (file or bucket) and nothing else: it keeps no
    record in memory for the bot (callers do), and a failure surfaces as
    `StoreUnavailable`, never as the driver's own error.
    """

    shared: bool = False
    """Whether other processes write to this store too (then records are reloaded before each turn)."""

    async def open(self) -> None:
        """Connect, create tables or the bucket."""

    async def close(self) -> None:
        """Finish pending writes and release the store."""

    @abstractmethod
    async def load_channel(self, channel: str) -> ChannelRecord: ...

    @abstractmethod
    async def save_channel(self, channel: str, record: ChannelRecord) -> int:
        """Save ``record`` if the stored revision is still ``record.revision``; returns the new revision."""

    @abstractmethod
    async def add_memory(self, memory: Memory) -> None: ...

    @abstractmethod
    async def memories(self, channel: str) -> list[Memory]: ...

    @abstractmethod
    async def delete_memories(self, channel: str, ids: set[str]) -> int: ...

    @abstractmethod
    async def add_usage(self, day: str, increments: dict[UsageKey, Counts]) -> dict[UsageKey, Counts]:
        """Add ``increments`` to the day's usage; returns the day's totals afterwards."""

    @abstractmethod
    async def usage(self, day: str) -> dict[UsageKey, Counts]: ...

    async def change_record(
        self, kind: str, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        """Apply ``change`` to the JSON record ``name`` of ``kind`` (``{}`` when new) atomically; returns the result.

        Only a store other processes share has such records (what they count together,
        like rate-limit windows); an exception from ``change`` leaves the record as it was.
        """
        raise NotImplementedError(f"{type(self).__name__} keeps no shared records")

    def known_memories(self, channel: str) -> list[Memory] | None:
        """The channel's memories as this process last saw them, without asking anyone; None when it
        cannot tell. Good enough for a turn to see; `memories` for an answer about them."""
        return None

    def known_record(self, kind: str, name: str) -> dict[str, Any] | None:
        """The record of `change_record` as this process last saw it (``{}`` when there is none), without
        asking anyone; None when this process cannot tell. For guesses only: the truth is `change_record`'s."""
        return None


def m001_channels_memories_usage(db: sqlite3.Connection) -> None:
    """The first release: channel records, memories, and the usage of each day."""
    db.execute("CREATE TABLE channels (channel TEXT PRIMARY KEY, record TEXT NOT NULL, revision INTEGER NOT NULL)")
    create_memory_table(db)
    db.execute(
        """
        CREATE TABLE usage (
            day TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL,
            requests INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
            PRIMARY KEY (day, scope, name)
        )
        """
    )


MIGRATIONS: tuple[Migration, ...] = (m001_channels_memories_usage,)


class SqliteStore(Store):
    """The store in one SQLite file, for a bot process that is alone on it.

    Its one worker thread owns the connection and runs every statement, so the
    event loop never waits on the disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rosey-sqlite")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._run(self._connect)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    async def load_channel(self, channel: str) -> ChannelRecord:
        def load(db: sqlite3.Connection) -> ChannelRecord:
            row = db.execute("SELECT record, revision FROM channels WHERE channel = ?", (channel,)).fetchone()
            return ChannelRecord.from_json(row[0], row[1]) if row else ChannelRecord()

        return await self._with_db(load)

    async def save_channel(self, channel: str, record: ChannelRecord) -> int:
        def save(db: sqlite3.Connection) -> int:
            with db:
                if record.revision == 0:
                    try:
                        db.execute("INSERT INTO channels VALUES (?, ?, 1)", (channel, record.to_json()))
                    except sqlite3.IntegrityError:
                        raise StaleRecord(channel) from None
                    return 1
                updated = db.execute(
                    "UPDATE channels SET record = ?, revision = revision + 1 WHERE channel = ? AND revision = ?",
                    (record.to_json(), channel, record.revision),
                ).rowcount
                if not updated:
                    raise StaleRecord(channel)
                return record.revision + 1

        return await self._with_db(save)

    async def add_memory(self, memory: Memory) -> None:
        def add(db: sqlite3.Connection) -> None:
            with db:
                insert_memory(db, memory, keep=MAX_MEMORIES_PER_CHANNEL)

        await self._with_db(add)

    async def memories(self, channel: str) -> list[Memory]:
        return await self._with_db(lambda db: select_memories(db, channel))

    async def delete_memories(self, channel: str, ids: set[str]) -> int:
        def delete(db: sqlite3.Connection) -> int:
            with db:
                return delete_memories(db, channel, ids)

        return await self._with_db(delete)

    async def add_usage(self, day: str, increments: dict[UsageKey, Counts]) -> dict[UsageKey, Counts]:
        def add(db: sqlite3.Connection) -> dict[UsageKey, Counts]:
            with db:
                db.executemany(
                    "INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (day, scope, name) DO UPDATE SET "
                    "requests = requests + excluded.requests, "
                    "prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
                    "completion_tokens = completion_tokens + excluded.completion_tokens",
                    [(day, scope, name, c.requests, c.prompt_tokens, c.completion_tokens)
                     for (scope, name), c in increments.items()],
                )
            return self._usage(db, day)

        return await self._with_db(add)

    async def usage(self, day: str) -> dict[UsageKey, Counts]:
        return await self._with_db(lambda db: self._usage(db, day))

    @staticmethod
    def _usage(db: sqlite3.Connection, day: str) -> dict[UsageKey, Counts]:
        rows = db.execute(
            "SELECT scope, name, requests, prompt_tokens, completion_tokens FROM usage WHERE day = ?", (day,)
        )
        return {(scope, name): Counts(r, p, c) for scope, name, r, p, c in rows}

    def _connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the bot's database {self.path}: {exc}") from None
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA busy_timeout = 5000")
            migrate(db, self.path, MIGRATIONS)
        except NewerSchema as exc:
            db.close()
            raise StoreUnavailable(
                f"{self.path}: the bot's database has {exc.problem}; upgrade Rosey Assistant, "
                "or point rosey.memory.path at another file"
            ) from None
        except sqlite3.Error as exc:
            db.close()
            raise StoreUnavailable(f"cannot open the bot's database {self.path}: {exc}") from None
        self._db = db

    async def _with_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            if self._db is None:
                raise StoreUnavailable("the bot's database is closed")
            try:
                return work(self._db)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"the bot's database {self.path} failed: {exc}") from None

        return await self._run(run)

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)
