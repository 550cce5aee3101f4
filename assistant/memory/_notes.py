"""The assistant's own notes: memories in an SQLite file of their own, for the remember/recall tools."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path

from ..store.migrations import Migration, migrate
from ._record import Memory
from ._table import create_memory_table, insert_memory, select_memories

NOTES_CHANNEL = "notes"
"""The channel of the assistant's notes: the file holds one person's notes, so one channel holds them all."""


def m001_memories_adopting_notes(db: sqlite3.Connection) -> None:
    """The memory table. Files written before notes had a schema hold a bare ``notes`` table: its notes move in."""
    create_memory_table(db)
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notes'").fetchone() is None:
        return
    for text, saved in db.execute("SELECT text, saved FROM notes ORDER BY id").fetchall():
        insert_memory(db, Memory(NOTES_CHANNEL, text, created=datetime.fromisoformat(saved).timestamp()))
    db.execute("DROP TABLE notes")


MIGRATIONS: tuple[Migration, ...] = (m001_memories_adopting_notes,)


class NoteFile:
    """The notes in one SQLite file, opened (and brought up to the current schema) for each call.

    Each call is short and opens its own connection, so the tools may call it from
    any worker thread; every write is one transaction, so a crash never leaves half
    a note. It never creates the file just to read it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def add(self, memory: Memory) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._open()) as db, db:
            insert_memory(db, memory)

    def memories(self, channel: str) -> list[Memory]:
        """The channel's notes, oldest first; none while the file does not exist."""
        if not self.path.exists():
            return []
        with closing(self._open()) as db:
            return select_memories(db, channel)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            migrate(db, self.path, MIGRATIONS)
        except BaseException:
            db.close()
            raise
        return db
