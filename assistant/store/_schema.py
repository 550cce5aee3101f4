"""The schema of the conversation file, as numbered migrations (see ``migrations``)."""

from __future__ import annotations

import sqlite3

from .migrations import Migration


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
