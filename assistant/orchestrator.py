"""One turn of conversation, independent of any user interface.

``run_turn(text)`` adds the user's words to the conversation, streams the
backend's answer as turn events and records the answer. The TUI, the one-shot
CLI, the voice loop and the chat bot all drive turns through this one class.

A turn can be abandoned at any point (the consumer stops iterating, or its
task is cancelled): what had already been said stays in the conversation,
marked as interrupted, so the model knows it was cut off.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Union

from llm import (
    ConversationContext,
    LLMContextLengthError,
    LLMError,
    LLMProvider,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
)

INTERRUPTED_MARK = " [interrupted]"


@dataclass(frozen=True, slots=True)
class TurnText:
    text: str


@dataclass(frozen=True, slots=True)
class TurnReasoning:
    text: str


@dataclass(frozen=True, slots=True)
class TurnDone:
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


TurnEvent = Union[TurnText, TurnReasoning, TurnDone, TurnError]


class Orchestrator:
    def __init__(self, provider: LLMProvider, context: ConversationContext) -> None:
        self.provider = provider
        self.context = context

    def switch_provider(self, provider: LLMProvider) -> LLMProvider:
        """Continue the same conversation on another backend; returns the previous provider."""
        previous, self.provider = self.provider, provider
        return previous

    async def run_turn(self, text: str) -> AsyncIterator[TurnEvent]:
        self.context.add_user_message(text)
        started = time.perf_counter()
        first_token_at: float | None = None
        said: list[str] = []
        finished = False
        try:
            while True:
                try:
                    async for event in self.provider.stream(self.context.get_messages()):
                        if isinstance(event, TextDelta):
                            first_token_at = first_token_at or time.perf_counter()
                            said.append(event.text)
                            yield TurnText(event.text)
                        elif isinstance(event, ReasoningDelta):
                            yield TurnReasoning(event.text)
                        elif isinstance(event, StreamEnd):
                            result = event.result
                    break
                except LLMContextLengthError:
                    if said or not self.context.drop_oldest_turn():
                        raise
            finished = True
            self.context.add_assistant_message(result.content)
            now = time.perf_counter()
            generating = now - first_token_at if first_token_at else 0.0
            yield TurnDone(
                text=result.content,
                model=result.model,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                time_to_first_token=first_token_at - started if first_token_at else None,
                tokens_per_second=result.completion_tokens / generating if generating > 0 else None,
                total_seconds=now - started,
            )
        except LLMError as error:
            finished = True
            if said:
                self.context.add_assistant_message("".join(said) + INTERRUPTED_MARK)
            yield TurnError(error)
        finally:
            if not finished and said:
                self.context.add_assistant_message("".join(said) + INTERRUPTED_MARK)
