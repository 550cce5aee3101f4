"""The schema of the conversation file, as numbered migrations.

Migration N brings a file from schema version N-1 to N; the version lives in
``PRAGMA user_version``, so SQLite records it atomically with the change
itself. A released migration is never edited: a later release changes the
schema by appending a new function to ``MIGRATIONS``. Each one runs in its own
``BEGIN IMMEDIATE`` transaction, so two processes opening an old file at once
cannot both apply it, and a kill halfway leaves the file at the old version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from ._records import StoreError

Migration = Callable[[sqlite3.Connection], None]


def m001_conversations(db: sqlite3.Connection) -> None:
    """The first release: conversations, their messages, and images kept apart as blobs."""
    db.execute(
        """
        CREATE TABLE conversations (
            id          TEXT PRIMARY KEY,
            title       TEXT NOT NULL DEFAULT '',
            persona     TEXT,
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX conversations_by_update ON conversations (updated_at)")
    db.execute(
        """
        CREATE TABLE messages (
            id                   INTEGER PRIMARY KEY,
            conversation_id      TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            role                 TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
            content              TEXT NOT NULL,
            name                 TEXT,
            tool_call_id         TEXT,
            tool_calls           TEXT,
            backend              TEXT,
            model                TEXT,
            created_at           TEXT NOT NULL,
            time_to_first_token  REAL,
            tokens_per_second    REAL,
            total_seconds        REAL,
            prompt_tokens        INTEGER,
            completion_tokens    INTEGER,
            interrupted          INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("CREATE INDEX messages_by_conversation ON messages (conversation_id, id)")
    db.execute(
        """
        CREATE TABLE message_images (
            message_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            position    INTEGER NOT NULL,
            media_type  TEXT NOT NULL,
            data        BLOB NOT NULL,
            PRIMARY KEY (message_id, position)
        )
        """
    )


def m002_tool_errors_and_reasoning(db: sqlite3.Connection) -> None:
    """Tool results that report a failure, and the thinking an answer's tool calls must be replayed with.

    Older messages get no reasoning and count as successful results: the first
    release did not tell them apart.
    """
    db.execute("ALTER TABLE messages ADD COLUMN is_error INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE messages ADD COLUMN reasoning_blocks TEXT")


MIGRATIONS: tuple[Migration, ...] = (m001_conversations, m002_tool_errors_and_reasoning)


def schema_version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Apply, in order, every migration the file has not had yet.

    ``db`` must be in autocommit mode (``isolation_level=None``) so that each
    migration and its version bump commit together.
    """
    latest = len(migrations)
    _refuse_newer(db, path, latest)
    while schema_version(db) < latest:
        db.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another process may have migrated meanwhile.
            version = schema_version(db)
            if version < latest:
                migrations[version](db)
                db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _refuse_newer(db: sqlite3.Connection, path: Path, latest: int) -> None:
    version = schema_version(db)
    if version > latest:
        raise StoreError(
            path,
            f"the conversation history has schema version {version}, written by a newer Rosey "
            f"Assistant; this one knows versions up to {latest}. Upgrade Rosey Assistant, or move "
            "the file aside to start a new history.",
        )
