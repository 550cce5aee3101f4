"""What the store hands back: stored messages, conversation summaries, errors.

Frozen dataclasses, like ``llm.types``: the store builds many of them per
read, and callers must not be able to edit history by mutating a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from llm import Message

UNTITLED = "Untitled conversation"


@dataclass(frozen=True, slots=True)
class TurnTimings:
    """The figures of one answer; any of them may be unknown."""

    time_to_first_token: float | None = None
    tokens_per_second: float | None = None
    total_seconds: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def is_empty(self) -> bool:
        return all(
            value is None
            for value in (
                self.time_to_first_token,
                self.tokens_per_second,
                self.total_seconds,
                self.prompt_tokens,
                self.completion_tokens,
            )
        )


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One saved message and who wrote it (the backend and model of an answer)."""

    id: int
    message: Message
    backend: str | None
    model: str | None
    created_at: datetime
    timings: TurnTimings | None
    interrupted: bool


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """A conversation as listed; ``backend``/``model`` are those of its last answer."""

    id: str
    title: str
    persona: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int
    backend: str | None
    model: str | None

    @property
    def display_title(self) -> str:
        """The title, or a placeholder while no user message has given it one."""
        return self.title or UNTITLED


class StoreError(Exception):
    """The conversation file cannot be used; the message names the file and the fix."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


class ConversationNotFound(KeyError):
    """No saved conversation has this id (or the id prefix is not unique)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        # KeyError's own __str__ shows the repr of its argument, quotes and all.
        return self.message
