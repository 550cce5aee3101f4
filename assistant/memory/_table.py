"""The one SQLite layout of memories, for every file that holds them.

A file's migrations call `create_memory_table` at the version that brings
memories in; the other functions read and write the table inside whatever
transaction the caller holds, so a caller can add a memory and trim the
channel's oldest in one commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ._record import Memory

_COLUMNS = "channel, content, user, category, importance, created, id"


def create_memory_table(db: sqlite3.Connection) -> None:
    """The table as its first release made it; a later change is a new migration of each file that has it."""
    db.execute(
        """
        CREATE TABLE memories (
            id TEXT PRIMARY KEY, channel TEXT NOT NULL, user TEXT, content TEXT NOT NULL,
            category TEXT NOT NULL, importance INTEGER NOT NULL, created REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX memories_by_channel ON memories (channel, created)")


def insert_memory(db: sqlite3.Connection, memory: Memory, *, keep: int | None = None) -> None:
    """Add ``memory``; with ``keep``, the channel then keeps only its ``keep`` newest memories."""
    db.execute(
        f"INSERT INTO memories ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (memory.channel, memory.content, memory.user, memory.category, memory.importance, memory.created, memory.id),
    )
    if keep is not None:
        db.execute(
            "DELETE FROM memories WHERE channel = ? AND id NOT IN "
            "(SELECT id FROM memories WHERE channel = ? ORDER BY created DESC, rowid DESC LIMIT ?)",
            (memory.channel, memory.channel, keep),
        )


def select_memories(db: sqlite3.Connection, channel: str) -> list[Memory]:
    """The channel's memories, oldest first (in the order they were added when saved at the same moment)."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM memories WHERE channel = ? ORDER BY created, rowid", (channel,)
    ).fetchall()
    return [Memory(*row) for row in rows]


def delete_memories(db: sqlite3.Connection, channel: str, ids: Iterable[str]) -> int:
    """Delete the channel's memories with these ids; returns how many there were."""
    return sum(db.execute("DELETE FROM memories WHERE channel = ? AND id = ?", (channel, one)).rowcount for one in ids)
