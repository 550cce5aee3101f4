"""What a turn reports while it runs, for whichever UI is listening.

Small frozen dataclasses: one is built per streamed token, so they must cost
next to nothing, and a UI matches on their type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from llm import LLMError, ToolCall


class ToolOutcome(Protocol):
    """A tool's answer as the orchestrator sees it (``assistant.tools.ToolResult``)."""

    content: str
    is_error: bool


@dataclass(frozen=True, slots=True)
class TurnText:
    """A piece of the answer, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class TurnReasoning:
    """A piece of a reasoning model's thinking: shown apart, never spoken."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolStarted:
    call: ToolCall
    source: str


@dataclass(frozen=True, slots=True)
class ToolFinished:
    call: ToolCall
    result: ToolOutcome
    seconds: float


@dataclass(frozen=True, slots=True)
class TurnDone:
    """The turn's whole answer (all rounds' text) and its figures, summed over rounds."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token: float | None
    tokens_per_second: float | None
    total_seconds: float


@dataclass(frozen=True, slots=True)
class TurnError:
    error: LLMError

    @property
    def message(self) -> str:
        return self.error.message


TurnEvent = TurnText | TurnReasoning | ToolStarted | ToolFinished | TurnDone | TurnError


def timing_figures(time_to_first_token: float | None, tokens_per_second: float | None) -> list[str]:
    """How fast an answer came, worded one way wherever a person reads it: the app, the log, an export."""
    figures = []
    if time_to_first_token is not None:
        figures.append(f"first token {time_to_first_token:.2f} s")
    if tokens_per_second:
        figures.append(f"{tokens_per_second:.1f} tok/s")
    return figures
