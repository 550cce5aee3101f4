"""The one memory record, and how many a channel keeps."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_MEMORIES_PER_CHANNEL = 500
"""What the chat bot keeps of one room's memories (the newest), so each room's memories stay one small document."""


@dataclass(frozen=True, slots=True)
class Memory:
    """One thing someone asked to be remembered, in the channel (the scope) it belongs to.

    ``channel`` is the room of the chat bot, or ``NOTES_CHANNEL`` for the
    assistant's own notes; ``user`` is who said it, when known. Frozen: a
    memory is added or deleted whole, never edited.
    """

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
    """At most `MAX_MEMORIES_PER_CHANNEL`, the newest, oldest first."""
    return sorted(memories, key=lambda memory: memory.created)[-MAX_MEMORIES_PER_CHANNEL:]


def newest_first(memories: Sequence[Memory], limit: int) -> list[Memory]:
    """The ``limit`` newest of ``memories`` (given oldest first); of two saved at the same moment, the later one."""
    ordered = sorted(enumerate(memories), key=lambda item: (item[1].created, item[0]), reverse=True)
    return [memory for _, memory in ordered[:limit]]
