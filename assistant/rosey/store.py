"""Where the bot keeps what must survive a restart: channel conversations and personas, memories, usage.

Two stores behind one interface: SQLite in the data directory (one bot
process), and a JetStream KV bucket (``kvstore.py``) that several bot
processes share. Channel records carry a revision: a save names the revision
it was based on and fails with `StaleRecord` when another process saved in
between, so the caller reloads and applies its change again instead of
overwriting someone else's turn. Usage is saved as increments for the same
reason.

SQLite work runs on one worker thread that owns the connection, so the
event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .usage import Counts, UsageKey

MAX_MEMORIES_PER_CHANNEL = 500
T = TypeVar("T")


class StoreError(Exception):
    """The store cannot be reached or written; the bot keeps serving from memory."""


class StaleRecord(StoreError):
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


@dataclass(frozen=True, slots=True)
class Memory:
    channel: str
    content: str
    user: str | None = None
    category: str = "fact"
    importance: int = 1
    created: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Memory:
        return cls(**{key: data[key] for key in cls.__slots__ if key in data})


def newest_memories(memories: Iterable[Memory]) -> list[Memory]:
    """At most `MAX_MEMORIES_PER_CHANNEL`, the newest: a channel's memories stay one small document."""
    return sorted(memories, key=lambda memory: memory.created)[-MAX_MEMORIES_PER_CHANNEL:]


class Store(ABC):
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


_MIGRATIONS: tuple[str, ...] = (
    """
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
    """,
)
"""Numbered migrations from the first release: migration N brings the file to PRAGMA user_version N."""


class SqliteStore(Store):
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
                db.execute(
                    "INSERT INTO memories VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (memory.id, memory.channel, memory.user, memory.content, memory.category,
                     memory.importance, memory.created),
                )
                db.execute(
                    "DELETE FROM memories WHERE channel = ? AND id NOT IN "
                    "(SELECT id FROM memories WHERE channel = ? ORDER BY created DESC LIMIT ?)",
                    (memory.channel, memory.channel, MAX_MEMORIES_PER_CHANNEL),
                )

        await self._with_db(add)

    async def memories(self, channel: str) -> list[Memory]:
        def select(db: sqlite3.Connection) -> list[Memory]:
            rows = db.execute(
                "SELECT channel, content, user, category, importance, created, id FROM memories "
                "WHERE channel = ? ORDER BY created",
                (channel,),
            ).fetchall()
            return [Memory(*row) for row in rows]

        return await self._with_db(select)

    async def delete_memories(self, channel: str, ids: set[str]) -> int:
        def delete(db: sqlite3.Connection) -> int:
            with db:
                return sum(
                    db.execute("DELETE FROM memories WHERE channel = ? AND id = ?", (channel, one)).rowcount
                    for one in ids
                )

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
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA busy_timeout = 5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(_MIGRATIONS):
                raise StoreError(
                    f"{self.path} was written by a newer version of the bot (schema {version}); upgrade, "
                    "or point rosey.memory.path at another file"
                )
            for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the bot's database {self.path}: {exc}") from None
        self._db = db

    async def _with_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            if self._db is None:
                raise StoreError("the bot's database is closed")
            try:
                return work(self._db)
            except sqlite3.Error as exc:
                raise StoreError(f"the bot's database {self.path} failed: {exc}") from None

        return await self._run(run)

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)
