"""Messages to and from rows of the ``messages`` table.

Tool calls and reasoning blocks are small lists of records that are only ever
read whole with their message, so each is one JSON column rather than a table
of its own; images are blobs, so they have their own table.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from llm import Image, Message, MessageRole, ReasoningBlock, ToolCall

from ._records import StoredMessage, TurnTimings

INSERT_MESSAGE = """
    INSERT INTO messages (
        conversation_id, role, content, name, tool_call_id, tool_calls, backend, model,
        created_at, time_to_first_token, tokens_per_second, total_seconds,
        prompt_tokens, completion_tokens, interrupted, is_error, reasoning_blocks
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def message_row(
    conversation_id: str,
    message: Message,
    *,
    backend: str | None,
    model: str | None,
    stamp: str,
    timings: TurnTimings,
    interrupted: bool,
) -> tuple[Any, ...]:
    """The values of ``INSERT_MESSAGE`` for one message."""
    return (
        conversation_id, MessageRole(message.role).value, message.content, message.name, message.tool_call_id,
        _tool_calls_json(message.tool_calls), backend, model, stamp,
        timings.time_to_first_token, timings.tokens_per_second, timings.total_seconds,
        timings.prompt_tokens, timings.completion_tokens, int(interrupted),
        int(message.is_error), _reasoning_json(message.reasoning_blocks),
    )


def read_messages(db: sqlite3.Connection, conversation_id: str) -> list[StoredMessage]:
    """A conversation's messages in the order they were added, images and all."""
    images: dict[int, list[Image]] = {}
    for row in db.execute(
        """
        SELECT i.message_id, i.media_type, i.data FROM message_images i
        JOIN messages m ON m.id = i.message_id
        WHERE m.conversation_id = ? ORDER BY i.message_id, i.position
        """,
        (conversation_id,),
    ):
        images.setdefault(row["message_id"], []).append(Image(data=bytes(row["data"]), media_type=row["media_type"]))
    rows = db.execute("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,))
    return [_stored_message(row, images.get(row["id"])) for row in rows]


def _tool_calls_json(calls: list[ToolCall] | None) -> str | None:
    if not calls:
        return None
    return json.dumps([{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls], ensure_ascii=False)


def _reasoning_json(blocks: list[ReasoningBlock] | None) -> str | None:
    """Every field as it came: a backend checks replayed thinking byte for byte against its signature."""
    if not blocks:
        return None
    return json.dumps(
        [{"text": b.text, "signature": b.signature, "redacted_data": b.redacted_data} for b in blocks],
        ensure_ascii=False,
    )


def _stored_message(row: sqlite3.Row, images: list[Image] | None) -> StoredMessage:
    calls = json.loads(row["tool_calls"]) if row["tool_calls"] else None
    reasoning = json.loads(row["reasoning_blocks"]) if row["reasoning_blocks"] else None
    timings = TurnTimings(
        time_to_first_token=row["time_to_first_token"],
        tokens_per_second=row["tokens_per_second"],
        total_seconds=row["total_seconds"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
    )
    return StoredMessage(
        id=row["id"],
        message=Message(
            role=MessageRole(row["role"]),
            content=row["content"],
            name=row["name"],
            tool_call_id=row["tool_call_id"],
            tool_calls=[ToolCall(c["id"], c["name"], c["arguments"]) for c in calls] if calls else None,
            images=images,
            reasoning_blocks=[ReasoningBlock(**block) for block in reasoning] if reasoning else None,
            is_error=bool(row["is_error"]),
        ),
        backend=row["backend"],
        model=row["model"],
        created_at=datetime.fromisoformat(row["created_at"]),
        timings=None if timings.is_empty else timings,
        interrupted=bool(row["interrupted"]),
    )
