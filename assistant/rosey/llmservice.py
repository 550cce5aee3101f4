"""What the plugin can do, whatever subject asked: chat turns, completions, summaries, memory, personas, usage.

The NATS handlers (``commands.py``, ``endpoints.py``) only translate payloads
to these calls and results to replies; everything a request *means* is here,
so every generation of sender gets the same behaviour: the same rate limits,
usage figures, per-channel ordering and bound on concurrent backend calls.

Admission (the rate limit) is decided before the first ``await`` of a
request, so requests are admitted, and queued on their channel, in arrival
order; with a shared store, a request the records as last seen leave room
for is admitted in the background, just after its model request is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from llm import LLMError, LLMProvider, Message, MessageRole, when_request_written

from ..memory import Memory
from ..orchestrator import Tools, TurnDone, TurnError, TurnOptions
from ..personas import CHAT_ROOM_PROMPT, Persona, PersonaBook, UnknownPersonaError
from ..rosey_settings import RoseySettings
from .bus import (
    EVENT_SUMMARIZED,
    EVENT_THRESHOLDS,
    RequestFailed,
    model_failure,
)
from .channels import ChannelBook, ChannelSession, message_to_dict, transcript
from .chunking import chunk_message
from .memory import MemoryBook
from .payloads import BadRequest, clean_text
from .ratelimit import RateLimiter
from .sharedlimits import BackgroundAdmission, SharedRateLimiter
from .store import ChannelRecord, Store, StoreUnavailable
from .usage import TOTAL, ThresholdCrossed, UsageBook

log = logging.getLogger("assistant.rosey")

Publish = Callable[[str, dict[str, Any]], Coroutine[Any, Any, None]]
Spawn = Callable[[Coroutine[Any, Any, Any]], Any]

SUMMARY_STYLES = {
    "concise": "Summarize the text in {max_length} words or less.",
    "detailed": "Write a detailed summary of the text, at most {max_length} words.",
    "bullets": "Summarize the text as short bullet points, at most {max_length} words in all.",
}
USAGE_SAVE_DELAY = 1.0
"""Seconds between a request and saving the usage it adds: one write for a burst of requests."""
CONDENSE_PROMPT = (
    "You keep the memory of a chat room. Summarize the conversation below in at most four sentences: "
    "who said what, facts people shared, questions still open. Plain text only."
)


@dataclass(frozen=True)
class Answer:
    """A backend answer, with the figures every reply and event reports."""

    text: str
    model: str
    provider: str
    prompt: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    max_message_chars: int
    max_messages: int
    persona: str | None = None

    @property
    def tokens_used(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @cached_property
    def messages(self) -> list[str]:
        """The answer as chat lines; made only when asked, as most callers of the service never ask."""
        return chunk_message(self.text, self.max_message_chars, self.max_messages)


class LLMService:
    """What the plugin does for any request: chat turns, completions, summaries, memory, personas, usage.

    It owns the per-channel conversations, the rate limiter, the usage book and
    the bound on concurrent backend calls; it never reads or writes NATS
    messages (the handlers translate payloads to its calls, and it announces
    events through ``publish``).
    """

    def __init__(
        self,
        provider: LLMProvider,
        store: Store,
        settings: RoseySettings,
        *,
        max_turns: int,
        publish: Publish,
        spawn: Spawn,
        tools: Tools | None = None,
    ) -> None:
        self.provider = provider
        self.store = store
        self.settings = settings
        self.max_turns = max_turns
        self.personas = PersonaBook(settings.personas)
        self.default_persona = self.personas.get(settings.default_persona)
        self.usage = UsageBook(settings.rate_limits)
        self.limiter = RateLimiter(settings.rate_limits, self.usage)
        self.shared_limiter = SharedRateLimiter(settings.rate_limits, self.usage, store) if store.shared else None
        self.channels = ChannelBook(store, provider, tools)
        self._publish = publish
        self._spawn = spawn
        self._slots = asyncio.Semaphore(settings.max_concurrent)
        self.memory = MemoryBook(store, provider, settings.memory, self._slots, self._event)
        self._usage_saver: asyncio.Task[None] | None = None
        self._started = time.monotonic()

    async def load_usage(self) -> None:
        try:
            self.usage.set_saved(self.usage.day, await self.store.usage(self.usage.day), announced=True)
        except StoreUnavailable as exc:
            log.warning("today's usage not loaded: %s", exc)

    # ---------------------------------------------------------------- backend work

    async def chat(
        self, channel: str, user: str, text: str, *, persona: str | None = None, model: str | None = None,
        temperature: float | None = None, max_tokens: int | None = None,
    ) -> Answer:
        """One turn in the channel's conversation, attributed to ``user``.

        The answer is returned as soon as the model has given it, and the turn is saved
        right after in a task that holds the channel's lock until it is saved, so the
        channel's next turn still sees it. A kill -9 in that millisecond loses the turn; and
        with a store shared by other bot processes, a turn they begin in that millisecond
        does not see it, but never overwrites it (`ChannelBook.change`).
        """
        chosen = self._persona(persona) if persona else None
        started = time.perf_counter()
        session = self.channels.session(channel)
        admission = await self._start_admission(user, channel)
        record, stored = await self._read_channel(session, admission)
        try:
            async with self._slots:
                memories = await self.memory.for_turn(channel, text, stored)
                speaking = chosen or self._persona_of(record.persona)
                session.fill_context(self._system_prompt(speaking, record.summary, memories))
                added: list[Message] = []
                options = TurnOptions(
                    model=model, temperature=temperature, max_tokens=max_tokens,
                    on_message=lambda message, _info: added.append(message),
                )
                done = await self._run_turn(session, f"{user}: {text}", options, admission)
            self._count_tokens(user, channel, done.prompt_tokens, done.completion_tokens)
        except BaseException:
            session.lock.release()
            await _settle(admission)
            raise
        self._spawn(self._keep_turn(session, [message_to_dict(message) for message in added]))
        return self._answer(done.text, done.model, text, done.prompt_tokens, done.completion_tokens, started,
                            persona=speaking.name)

    async def _start_admission(self, user: str, channel: str) -> BackgroundAdmission | None:
        """Admit the request, or start admitting it: the admission still being decided, or None once decided.

        With a shared store the decision is a round trip to the server. When the records as this
        process last saw them leave room for the request, the turn goes ahead meanwhile and waits
        for the decision before it acts on the model's first word (a refusal closes the model's
        stream unread); otherwise the request waits here.
        """
        if self.shared_limiter is None or not self.shared_limiter.expects_admission(user, channel):
            await self.admit(user, channel)
            return None
        return BackgroundAdmission(lambda: self.admit(user, channel))

    async def _read_channel(
        self, session: ChannelSession, admission: BackgroundAdmission | None
    ) -> tuple[ChannelRecord, list[Memory]]:
        """Take the channel's lock and read the channel's state under it.

        A request still being admitted waits for its admission first when a turn is running in
        the channel, so a refused request never queues behind it.
        """
        try:
            if admission is not None and session.lock.locked():
                await admission.decided()
            await session.lock.acquire()
        except BaseException:
            await _settle(admission)
            raise
        try:
            return await self._channel_state(session)
        except BaseException:
            session.lock.release()
            await _settle(admission)
            raise

    async def _channel_state(self, session: ChannelSession) -> tuple[ChannelRecord, list[Memory]]:
        """The channel's record and stored memories (both usually known here without a round trip)."""
        return await self.channels.current(session), await self.memory.stored(session.name)

    async def _keep_turn(self, session: ChannelSession, turn: list[dict[str, Any]]) -> None:
        """Save a turn, then let the channel's next request in (the lock was taken by `chat`)."""
        try:
            # One pass of the event loop first: the caller hands its reply to NATS as `chat`
            # returns, so the reply is on the wire before the save competes with it for the CPU.
            await asyncio.sleep(0)
            before = session.record
            await self.channels.change(session, lambda record: record.turns.append(turn))
            if before is not None:
                session.turn_saved(before, turn)
            if session.record is not None and len(session.record.turns) >= self.max_turns:
                self._spawn(self._condense(session))
        finally:
            session.lock.release()

    async def complete(
        self, messages: Sequence[Message], *, user: str, channel: str | None = None, model: str | None = None,
        temperature: float | None = None, max_tokens: int | None = None,
    ) -> Answer:
        """A one-off completion outside any conversation."""
        await self.admit(user, channel or "")
        started = time.perf_counter()
        async with self._slots:
            result = await self._backend(self.provider.complete(
                messages, temperature=temperature, max_tokens=max_tokens, model=model))
        self._count_tokens(user, channel or "", result.prompt_tokens, result.completion_tokens)
        prompt = next((m.content for m in reversed(messages) if m.role is MessageRole.USER), "")
        return self._answer(result.content, result.model, prompt, result.prompt_tokens, result.completion_tokens,
                            started)

    async def summarize(self, text: str, *, max_length: int, style: str, user: str, channel: str | None) -> Answer:
        instruction = SUMMARY_STYLES[style].format(max_length=max_length)
        messages = [Message(MessageRole.SYSTEM, instruction), Message(MessageRole.USER, text)]
        return await self.complete(messages, user=user, channel=channel, temperature=0.3)

    # ---------------------------------------------------------------- channel state

    async def reset(self, channel: str) -> None:
        def clear(record: Any) -> None:
            record.turns.clear()
            record.summary = ""

        session = self.channels.session(channel)
        async with session.lock:
            await self.channels.change(session, clear)

    async def persona_of(self, channel: str) -> Persona:
        session = self.channels.session(channel)
        async with session.lock:
            return self._persona_of((await self.channels.current(session)).persona)

    async def set_persona(self, channel: str, name: str) -> Persona:
        persona = self._persona(name)
        session = self.channels.session(channel)
        async with session.lock:
            await self.channels.change(session, lambda record: setattr(record, "persona", persona.name))
        return persona

    # ---------------------------------------------------------------- figures

    async def admit(self, user: str, channel: str) -> None:
        """Count one backend request of ``user`` or raise `RateLimited` (with a shared store, counting every bot's)."""
        if self.shared_limiter is not None:
            crossed = await self.shared_limiter.admit(user, channel)
        else:
            crossed = self.limiter.admit(user, channel)
        self._announce(crossed + self.usage.count_request(user, channel))
        self._save_usage_soon()

    async def status(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(5):
                healthy = await self.provider.is_available()
        except TimeoutError:
            healthy = False
        total = self.usage.get(TOTAL)
        limit = self.settings.rate_limits.tokens_per_day
        return {
            "healthy": healthy, "provider": self.provider.name, "model": self.provider.model,
            "requests_today": total.requests, "tokens_today": total.tokens,
            "rate_limited": bool(limit and total.tokens >= limit),
            "uptime_seconds": int(time.monotonic() - self._started),
        }

    def status_detail(self) -> dict[str, Any]:
        return {"success": True, "channels": len(self.channels)}

    def usage_report(self, user: str | None, channel: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The real ``UsageResponse`` (a user's figures, or everyone's), and our count blocks for ``detail``.

        ``rate_limits_remaining`` has the real plugin's keys, for the limits that are switched on.
        """
        total = self.usage.get(TOTAL)
        counts = self.usage.get(("user", user)) if user else total
        report = {"user": user, "requests_today": counts.requests, "tokens_today": counts.tokens,
                  "rate_limits_remaining": self._remaining(user, total.tokens) if user else {}}
        detail = {
            "day": self.usage.day,
            "user_usage": counts.to_dict() if user else None,
            "channel": self.usage.get(("channel", channel)).to_dict() if channel else None,
            "total": total.to_dict(),
            "limits": self.settings.rate_limits.model_dump(),
        }
        return report, detail

    def _remaining(self, user: str, tokens_today: int) -> dict[str, int]:
        limits = self.settings.rate_limits
        minute, hour = (self.shared_limiter or self.limiter).recent(user)
        used = {"requests_minute": (minute, limits.requests_per_minute),
                "requests_hour": (hour, limits.requests_per_hour),
                "requests_day": (self.usage.get(("user", user)).requests, limits.requests_per_day),
                "tokens_day": (tokens_today, limits.tokens_per_day)}
        return {key: max(0, limit - count) for key, (count, limit) in used.items() if limit}

    async def flush(self) -> None:
        """Save the usage not saved yet (at shutdown; otherwise it is saved within a second of each request)."""
        saver, self._usage_saver = self._usage_saver, None
        if saver is not None:
            saver.cancel()
            await asyncio.gather(saver, return_exceptions=True)
        await self._save_usage()

    # ---------------------------------------------------------------- helpers

    def _persona(self, name: str) -> Persona:
        try:
            return self.personas.get(name)
        except UnknownPersonaError as exc:
            raise BadRequest(str(exc)) from None

    def _persona_of(self, name: str | None) -> Persona:
        return self.personas.get(name) if name and name in self.personas else self.default_persona

    def _system_prompt(self, persona: Persona, summary: str, memories: list[Memory]) -> str:
        parts = [persona.system_prompt(CHAT_ROOM_PROMPT)]
        if summary:
            parts.append(f"Earlier in this conversation (summary): {summary}")
        if memories:
            lines = "\n".join(f"- {m.user + ': ' if m.user else ''}{m.content}" for m in memories)
            parts.append(f"Things people in this room asked you to remember:\n{lines}")
        return "\n\n".join(parts)

    async def _run_turn(
        self, session: ChannelSession, text: str, options: TurnOptions, admission: BackgroundAdmission | None = None
    ) -> TurnDone:
        """The turn's result. With ``admission`` still being decided, nothing the model says (or a tool
        it calls) is acted on until it is, and a refusal stops the turn at once and raises `RateLimited`."""
        if admission is None:
            return await self._turn_result(session, text, options, None)
        with admission.refusal_interrupts(), when_request_written(admission.begin):
            return await self._turn_result(session, text, options, admission)

    async def _turn_result(
        self, session: ChannelSession, text: str, options: TurnOptions, admission: BackgroundAdmission | None
    ) -> TurnDone:
        done: TurnDone | None = None
        error: LLMError | None = None
        async with aclosing(session.orchestrator.run_turn(text, options)) as events:
            async for event in events:
                if admission is not None:
                    await admission.decided()
                    admission = None
                if isinstance(event, TurnDone):
                    done = event
                elif isinstance(event, TurnError):
                    error = event.error
        if error is not None or done is None:
            raise model_failure(error) if error else RequestFailed("the model ended its answer without a result")
        return done

    async def _backend(self, call: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await call
        except LLMError as error:
            raise model_failure(error) from None

    async def _condense(self, session: ChannelSession) -> None:
        """Summarize the channel's older turns into its record, keeping the newest half whole."""
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                async with session.lock:
                    record = await self.channels.current(session)
                    count = len(record.turns) - self.max_turns // 2
                    if len(record.turns) < self.max_turns or count <= 0:
                        return
                    old = record.turns[:count]
                    previous = f"Summary so far: {record.summary}\n\n" if record.summary else ""
                    messages = [Message(MessageRole.SYSTEM, CONDENSE_PROMPT),
                                Message(MessageRole.USER, previous + transcript(old))]
                    async with self._slots:
                        result = await self._backend(self.provider.complete(messages, temperature=0.2))
                    self._count_tokens("", session.name, result.prompt_tokens, result.completion_tokens)
                    summary = " ".join(clean_text(result.content).split())

                    def condense(current: Any) -> None:
                        if current.turns[:count] == old:
                            current.summary = summary
                            del current.turns[:count]

                    await self.channels.change(session, condense)
        except (RequestFailed, TimeoutError) as exc:
            log.warning("channel %s: conversation not summarized (%s); will try after the next turn",
                        session.name, getattr(exc, "message", "timed out"))
            return
        self._event(EVENT_SUMMARIZED, {"channel": session.name, "message_count": sum(len(turn) for turn in old),
                                       "summary_length": len(summary)})

    def _answer(self, text: str, model: str, prompt: str, prompt_tokens: int, completion_tokens: int,
                started: float, persona: str | None = None) -> Answer:
        text = text.strip()
        return Answer(
            text=text,
            max_message_chars=self.settings.max_message_chars, max_messages=self.settings.max_messages,
            model=model or self.provider.model, provider=self.provider.name, prompt=prompt,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            latency_ms=round((time.perf_counter() - started) * 1000), persona=persona,
        )

    def _count_tokens(self, user: str, channel: str, prompt: int, completion: int) -> None:
        self._announce(self.usage.count_tokens(user, channel, prompt, completion))
        self._save_usage_soon()

    def _announce(self, crossed: list[ThresholdCrossed]) -> None:
        for threshold in crossed:
            log.warning("usage threshold: %s %.0f%% (%s of %s)", threshold.threshold_type,
                        threshold.percentage * 100, threshold.current, threshold.limit)
            for subject in EVENT_THRESHOLDS:
                self._event(subject, threshold.to_event())

    def _event(self, subject: str, payload: dict[str, Any]) -> None:
        self._spawn(self._publish(subject, payload))

    def _save_usage_soon(self) -> None:
        """Save usage a moment from now, once for all the requests of that moment, off every request's path."""
        if self._usage_saver is None:
            self._usage_saver = asyncio.get_running_loop().create_task(self._save_usage_later())

    async def _save_usage_later(self) -> None:
        try:
            await asyncio.sleep(USAGE_SAVE_DELAY)
            await self._save_usage()
        finally:
            self._usage_saver = None

    async def _save_usage(self) -> None:
        while self.usage.has_unsaved:
            increments = self.usage.take_unsaved()
            while increments:
                day, by_key = next(iter(increments.items()))
                try:
                    self.usage.set_saved(day, await self.store.add_usage(day, by_key))
                except StoreUnavailable as exc:
                    self.usage.restore_unsaved(increments)
                    log.warning("usage not saved (%s); kept in memory", exc)
                    return
                del increments[day]


async def _settle(admission: BackgroundAdmission | None) -> None:
    if admission is not None:
        await admission.settle()
