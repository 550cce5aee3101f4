"""One turn of conversation, independent of any user interface.

``run_turn(text)`` adds the user's words to the conversation, streams the
backend's answer as turn events, runs the tools the model asks for, gives
their results back to the model, and records everything in the context. The
TUI, the one-shot CLI, the voice loop and the chat bot all drive turns
through this one class.

A turn can be abandoned at any point (the consumer stops iterating, or its
task is cancelled): what had already been said stays in the conversation,
marked as interrupted, and a tool call never stays without a result, because
backends reject a conversation holding one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from llm import (
    CompletionResult,
    ConversationContext,
    FileInjectionError,
    Image,
    LLMContextLengthError,
    LLMError,
    LLMInvalidRequestError,
    LLMProvider,
    Message,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolDefinition,
    with_file,
)

from .events import (
    ToolFinished,
    ToolOutcome,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnReasoning,
    TurnText,
)

__all__ = [
    "INTERRUPTED_MARK", "MessageInfo", "Orchestrator", "ToolFinished", "ToolStarted", "Tools",
    "TurnDone", "TurnError", "TurnEvent", "TurnReasoning", "TurnText",
]

INTERRUPTED_MARK = " [interrupted]"
TOOL_INTERRUPTED = "The tool call was interrupted before it finished."


class Tools(Protocol):
    """What the orchestrator needs of a tool box (``assistant.tools.ToolBox``)."""

    def definitions(self) -> list[ToolDefinition]: ...

    def source(self, name: str) -> str: ...

    async def run(self, call: ToolCall) -> ToolOutcome: ...


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """Who wrote a message the orchestrator added, for a listener that saves conversations."""

    backend: str | None = None
    model: str | None = None
    done: TurnDone | None = None
    interrupted: bool = False


MessageListener = Callable[[Message, MessageInfo], None]


@dataclass(frozen=True, slots=True)
class _ToolFailure:
    content: str
    is_error: bool = True


@dataclass(slots=True)
class _Turn:
    """Figures and text gathered over every round of one turn."""

    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    texts: list[str] = field(default_factory=list)
    round_text: list[str] = field(default_factory=list)
    tool_results: dict[str, ToolOutcome] = field(default_factory=dict)
    spoken: Callable[[], str] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""

    def done(self, final: CompletionResult) -> TurnDone:
        now = time.perf_counter()
        generating = now - self.first_token_at if self.first_token_at else 0.0
        return TurnDone(
            text="".join(self.texts),
            model=final.model or self.model,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            time_to_first_token=self.first_token_at - self.started if self.first_token_at else None,
            tokens_per_second=self.completion_tokens / generating if generating > 0 else None,
            total_seconds=now - self.started,
        )


class Orchestrator:
    def __init__(
        self,
        provider: LLMProvider,
        context: ConversationContext,
        tools: Tools | None = None,
        max_tool_rounds: int = 5,
        on_message: MessageListener | None = None,
    ) -> None:
        self.provider = provider
        self.context = context
        self.tools = tools
        self.max_tool_rounds = max_tool_rounds
        self.on_message = on_message

    def switch_provider(self, provider: LLMProvider) -> LLMProvider:
        """Continue the same conversation on another backend; returns the previous provider."""
        previous, self.provider = self.provider, provider
        return previous

    def offered_tools(self) -> list[ToolDefinition]:
        """The tools the current backend is offered: none when it cannot call tools."""
        if self.tools is None or not self.provider.capabilities.tools:
            return []
        return self.tools.definitions()

    async def run_turn(
        self,
        text: str,
        images: Sequence[Image] = (),
        files: Sequence[str | Path] = (),
        spoken: Callable[[], str] | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Answer ``text`` (with ``files`` put before it and ``images`` attached) as events.

        A file that cannot be read is a ``TurnError`` before anything is added to the
        conversation, so the person can fix the path and ask again. ``spoken`` tells
        what a listener has heard so far: an interrupted spoken answer keeps only that.
        """
        try:
            for path in reversed(files):
                text = with_file(text, path)
        except FileInjectionError as exc:
            yield TurnError(LLMInvalidRequestError(str(exc), provider=self.provider.name))
            return
        if images and not self.provider.capabilities.vision:
            yield TurnError(LLMInvalidRequestError(
                f"{self.provider.display_name} cannot see images; switch to a vision backend "
                "(ollama, openai, anthropic, openrouter) to attach one",
                provider=self.provider.name,
            ))
            return
        self._record(self.context.add_user_message(text, images or None), MessageInfo())
        turn = _Turn(model=self.provider.model, spoken=spoken)
        pending: list[ToolCall] = []
        finished = False
        try:
            for round_number in range(self.max_tool_rounds + 1):
                tools = self.offered_tools() if round_number < self.max_tool_rounds else []
                result = None
                async with aclosing(self._stream_round(turn, tools)) as events:
                    async for event in events:
                        if isinstance(event, CompletionResult):
                            result = event
                        else:
                            yield event
                assert result is not None
                turn.prompt_tokens += result.prompt_tokens
                turn.completion_tokens += result.completion_tokens
                if not (tools and result.tool_calls):
                    finished = True
                    done = turn.done(result)
                    self._record(self.context.add_assistant_message(result.content), self._info(done=done))
                    yield done
                    return
                pending = list(result.tool_calls)
                self._record(
                    self.context.add_assistant_message(result.content, pending, result.reasoning_blocks), self._info()
                )
                turn.round_text.clear()
                async with aclosing(self._run_tools(pending, turn.tool_results)) as events:
                    async for event in events:
                        yield event
                for call in pending:
                    outcome = turn.tool_results[call.id]
                    self._record(
                        self.context.add_tool_result(call.id, outcome.content, call.name, outcome.is_error),
                        self._info(),
                    )
                pending = []
        except LLMError as error:
            finished = True
            self._close_interrupted_turn(turn, pending)
            yield TurnError(error)
        finally:
            if not finished:
                self._close_interrupted_turn(turn, pending)

    async def _stream_round(
        self, turn: _Turn, tools: list[ToolDefinition]
    ) -> AsyncIterator[TurnEvent | CompletionResult]:
        """One call to the backend; the last item is its ``CompletionResult``.

        A conversation too long for the model loses its oldest turns until it fits,
        as long as nothing of this answer has been said yet.
        """
        while True:
            try:
                stream = self.provider.stream(self.context.get_messages(), tools=tools or None)
                async with aclosing(stream) as events:
                    async for event in events:
                        if isinstance(event, TextDelta):
                            turn.first_token_at = turn.first_token_at or time.perf_counter()
                            turn.texts.append(event.text)
                            turn.round_text.append(event.text)
                            yield TurnText(event.text)
                        elif isinstance(event, ReasoningDelta):
                            yield TurnReasoning(event.text)
                        elif isinstance(event, StreamEnd):
                            yield event.result
                return
            except LLMContextLengthError:
                if turn.round_text or not self.context.drop_oldest_turn():
                    raise

    async def _run_tools(self, calls: list[ToolCall], results: dict[str, ToolOutcome]) -> AsyncIterator[TurnEvent]:
        """Run every call at once and report each as it finishes, its result put in ``results``."""
        assert self.tools is not None
        tools = self.tools
        for call in calls:
            yield ToolStarted(call, tools.source(call.name))

        async def timed(call: ToolCall) -> tuple[ToolCall, ToolOutcome, float]:
            started = time.perf_counter()
            try:
                outcome = await tools.run(call)
            except Exception as exc:  # noqa: BLE001 - a tool failing is for the model to read, never a crash
                outcome = _ToolFailure(f"{call.name} failed: {type(exc).__name__}: {exc}")
            return call, outcome, time.perf_counter() - started

        tasks = [asyncio.ensure_future(timed(call)) for call in calls]
        try:
            for next_done in asyncio.as_completed(tasks):
                call, outcome, seconds = await next_done
                results[call.id] = outcome
                yield ToolFinished(call, outcome, seconds)
        finally:
            for task in tasks:
                task.cancel()

    def _close_interrupted_turn(self, turn: _Turn, pending: list[ToolCall]) -> None:
        for call in pending:
            outcome = turn.tool_results.get(call.id, _ToolFailure(TOOL_INTERRUPTED))
            self._record(
                self.context.add_tool_result(call.id, outcome.content, call.name, outcome.is_error), self._info()
            )
        kept = turn.spoken() if turn.spoken is not None else "".join(turn.round_text)
        if kept or turn.round_text:
            content = kept + INTERRUPTED_MARK
            self._record(self.context.add_assistant_message(content), self._info(interrupted=True))

    def _info(self, done: TurnDone | None = None, interrupted: bool = False) -> MessageInfo:
        model = done.model if done else self.provider.model
        return MessageInfo(backend=self.provider.name, model=model, done=done, interrupted=interrupted)

    def _record(self, message: Message, info: MessageInfo) -> None:
        if self.on_message is not None:
            self.on_message(message, info)
