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
    "INTERRUPTED_MARK", "MessageInfo", "MessageListener", "Orchestrator", "TentativeTurn", "ToolFinished",
    "ToolStarted", "Tools", "TurnDone", "TurnError", "TurnEvent", "TurnOptions", "TurnReasoning", "TurnText",
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
class TurnOptions:
    """What one turn does differently from the orchestrator's defaults.

    ``provider`` answers this turn instead of the orchestrator's; ``model``,
    ``temperature`` and ``max_tokens`` override the backend's settings for it;
    ``on_message`` hears this turn's messages instead of the orchestrator's
    listener. ``spoken`` tells what a listener has heard of the answer so far:
    an interrupted spoken answer keeps only that.
    """

    images: Sequence[Image] = ()
    files: Sequence[str | Path] = ()
    provider: LLMProvider | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    on_message: MessageListener | None = None
    spoken: Callable[[], str] | None = None


@dataclass(frozen=True, slots=True)
class _ToolFailure:
    content: str
    is_error: bool = True


@dataclass(slots=True)
class _Turn:
    """Figures and text gathered over every round of one turn."""

    provider: LLMProvider
    context: ConversationContext
    options: TurnOptions
    record: Callable[[Message, MessageInfo], None]
    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    texts: list[str] = field(default_factory=list)
    round_text: list[str] = field(default_factory=list)
    tool_results: dict[str, ToolOutcome] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def model(self) -> str:
        return self.options.model or self.provider.model

    def info(self, done: TurnDone | None = None, interrupted: bool = False) -> MessageInfo:
        model = done.model if done else self.model
        return MessageInfo(backend=self.provider.name, model=model, done=done, interrupted=interrupted)

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
    """Runs turns of one conversation: the backend's stream, the tool loop, and the record in the context.

    It owns the conversation's ``ConversationContext`` and the backend and tools
    turns use by default. It knows no screen, no speaker, no bus and no file:
    whoever drives it reads the turn events, and a ``MessageListener`` hears
    every message added, for saving. It never retries a backend (providers do,
    before their first token) and never raises out of a turn for a backend
    failure: that is a ``TurnError`` event.
    """

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

    def use_tools(self, tools: Tools | None) -> None:
        """Offer ``tools`` from the next turn on (they start after the conversation does)."""
        self.tools = tools

    def offered_tools(self, provider: LLMProvider | None = None) -> list[ToolDefinition]:
        """The tools a backend is offered: none when it cannot call tools."""
        provider = provider or self.provider
        if self.tools is None or not provider.capabilities.tools:
            return []
        return self.tools.definitions()

    def run_turn(self, text: str, options: TurnOptions | None = None) -> AsyncIterator[TurnEvent]:
        """Answer ``text`` as events, recording every message in the conversation.

        ``options.files`` are put before the text and ``options.images`` attached. A
        file that cannot be read is a ``TurnError`` before anything is added to the
        conversation, so the person can fix the path and ask again.
        """
        options = options or TurnOptions()
        return self._run(text, options, self.context, options.on_message or self.on_message)

    def tentative_turn(self, text: str, options: TurnOptions | None = None) -> TentativeTurn:
        """A turn answered before it is known to be wanted (while a speaker only paused).

        It runs on a fork of the conversation; see ``TentativeTurn``.
        """
        return TentativeTurn(self, text, options or TurnOptions())

    def _run(
        self, text: str, options: TurnOptions, context: ConversationContext, listener: MessageListener | None
    ) -> AsyncIterator[TurnEvent]:
        def record(message: Message, info: MessageInfo) -> None:
            if listener is not None:
                listener(message, info)

        turn = _Turn(provider=options.provider or self.provider, context=context, options=options, record=record)
        return self._turn(text, turn)

    async def _turn(self, text: str, turn: _Turn) -> AsyncIterator[TurnEvent]:
        provider, context, options = turn.provider, turn.context, turn.options
        try:
            for path in reversed(options.files):
                text = with_file(text, path)
        except FileInjectionError as exc:
            yield TurnError(LLMInvalidRequestError(str(exc), provider=provider.name))
            return
        if options.images and not provider.capabilities.vision:
            yield TurnError(LLMInvalidRequestError(
                f"{provider.display_name} cannot see images; switch to a vision backend "
                "(ollama, openai, anthropic, openrouter) to attach one",
                provider=provider.name,
            ))
            return
        turn.record(context.add_user_message(text, options.images or None), MessageInfo())
        pending: list[ToolCall] = []
        finished = False
        try:
            for round_number in range(self.max_tool_rounds + 1):
                tools = self.offered_tools(provider) if round_number < self.max_tool_rounds else []
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
                    turn.record(context.add_assistant_message(result.content), turn.info(done=done))
                    yield done
                    return
                pending = list(result.tool_calls)
                turn.record(context.add_assistant_message(result.content, pending, result.reasoning_blocks), turn.info())
                turn.round_text.clear()
                async with aclosing(self._run_tools(pending, turn.tool_results)) as events:
                    async for event in events:
                        yield event
                for call in pending:
                    outcome = turn.tool_results[call.id]
                    turn.record(
                        context.add_tool_result(call.id, outcome.content, call.name, outcome.is_error), turn.info()
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
        options = turn.options
        while True:
            try:
                stream = turn.provider.stream(
                    turn.context.get_messages(), tools=tools or None,
                    temperature=options.temperature, max_tokens=options.max_tokens, model=options.model,
                )
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
                if turn.round_text or not turn.context.drop_oldest_turn():
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

    @staticmethod
    def _close_interrupted_turn(turn: _Turn, pending: list[ToolCall]) -> None:
        for call in pending:
            outcome = turn.tool_results.get(call.id, _ToolFailure(TOOL_INTERRUPTED))
            turn.record(
                turn.context.add_tool_result(call.id, outcome.content, call.name, outcome.is_error), turn.info()
            )
        spoken = turn.options.spoken
        kept = spoken() if spoken is not None else "".join(turn.round_text)
        if kept or turn.round_text:
            content = kept + INTERRUPTED_MARK
            turn.record(turn.context.add_assistant_message(content), turn.info(interrupted=True))


class TentativeTurn:
    """A turn answered on a fork of the conversation, kept out of it until ``commit()``.

    The voice loop starts answering while the person only paused: if they go
    on speaking, the answer must leave no trace. Until ``commit()`` every
    message of the turn is held; ``commit()`` adds the held messages to the
    conversation in order and tells the listener, and later ones go straight
    through. An uncommitted turn is simply dropped: the fork goes with it.
    """

    def __init__(self, orchestrator: Orchestrator, text: str, options: TurnOptions) -> None:
        self._orchestrator = orchestrator
        self._listener = options.on_message or orchestrator.on_message
        self._held: list[tuple[Message, MessageInfo]] = []
        self.committed = False
        self.events: AsyncIterator[TurnEvent] = orchestrator._run(
            text, options, orchestrator.context.fork(), self._message
        )
        """The turn's events; iterating them runs the turn."""

    def commit(self) -> None:
        """The turn is wanted: its messages join the conversation, now and from now on."""
        self.committed = True
        held, self._held = self._held, []
        for message, info in held:
            self._adopt(message, info)

    def _message(self, message: Message, info: MessageInfo) -> None:
        if self.committed:
            self._adopt(message, info)
        else:
            self._held.append((message, info))

    def _adopt(self, message: Message, info: MessageInfo) -> None:
        self._orchestrator.context.add_message(message)
        if self._listener is not None:
            self._listener(message, info)
