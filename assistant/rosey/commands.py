"""``!chat`` in the room (``rosey.command.chat[.<sub>]``, ``rosey.command.llm.reset``) and ``llm.request``.

The two older generations of senders (the first ``!chat`` plugin and the
``llm.request`` service) may send a command as request/reply or
fire-and-forget, so every outcome is both replied (when there is a reply
subject) and broadcast on ``llm.response`` / ``llm.error`` with the fields of
both generations' shapes; the room hears a fire-and-forget ``!chat reset``
confirmed too. A ``reply_to`` subject named in the payload (the convention of
Rosey's other plugins) gets the reply as well.

Each message is served in its own task: a subscription delivers one message
at a time, and a model answer must not hold up every other channel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from llm import Message, MessageRole

from .bus import (
    COMMAND_CHAT,
    COMMAND_CHAT_SUB,
    COMMAND_LLM_RESET,
    EVENT_ERROR,
    EVENT_RESPONSE,
    LEGACY_ERROR,
    LEGACY_REQUEST,
    LEGACY_RESPONSE,
    QUEUE_GROUP,
    Bus,
    Failure,
    InFlight,
    log,
    log_request,
)
from .chunking import chunk_message
from .llmservice import Answer, LLMService
from .payloads import (
    BadRequest,
    CommandPayload,
    LegacyRequestPayload,
    decode_object,
    identity,
    parse,
)

SUBCOMMANDS = ("help", "reset", "persona", "remember", "recall", "forget")
USAGE = "usage: !chat <message> to talk to Rosey, or !chat help"
HELP = ("!chat <message> talks to Rosey · !chat reset forgets this conversation · !chat persona [name] "
        "shows or sets the style · !chat remember <fact> · !chat recall <words> · !chat forget <words>")


Room = Callable[[list[str]], Awaitable[None]]
"""Says lines in the room a command came from (set when it came as a Rosey Event envelope)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command answered: text for the room, and the model answer when there was one."""

    text: str
    answer: Answer | None = None


def split_command(text: str, forced: str | None = None) -> tuple[str, str]:
    """(sub-command, its argument): ``forced`` from the subject, else the first word when it names one."""
    if forced:
        return forced, text
    first, _, rest = text.partition(" ")
    word = first.lower()
    if word in ("help", "reset") and not rest.strip():
        return word, ""
    if word == "persona" and len(rest.split()) <= 1:
        return word, rest.strip()
    if word in ("remember", "recall", "forget"):
        return word, rest.strip()
    return "chat", text


class CommandHandlers:
    """The handlers of ``!chat`` and ``llm.request``: payloads in, replies and broadcasts out.

    They own their subscriptions' callbacks and nothing else: what a command does
    is `LLMService`'s, and they never answer without also broadcasting the outcome.
    """

    def __init__(self, service: LLMService, bus: Bus, inflight: InFlight) -> None:
        self.service = service
        self.bus = bus
        self.inflight = inflight
        self.settings = service.settings

    async def subscribe(self) -> list[Any]:
        nc = self.bus.nc
        return [
            await nc.subscribe(COMMAND_CHAT, queue=QUEUE_GROUP, cb=self._on_command),
            await nc.subscribe(COMMAND_CHAT_SUB, queue=QUEUE_GROUP, cb=self._on_command),
            await nc.subscribe(COMMAND_LLM_RESET, queue=QUEUE_GROUP, cb=self._on_command),
            await nc.subscribe(LEGACY_REQUEST, queue=QUEUE_GROUP, cb=self._on_legacy_request),
        ]

    async def _on_command(self, msg: Any) -> None:
        self.inflight.spawn(self._serve_command(msg))

    async def _on_legacy_request(self, msg: Any) -> None:
        self.inflight.spawn(self._serve_legacy_request(msg))

    # ---------------------------------------------------------------- rosey.command.*

    async def _serve_command(self, msg: Any) -> None:
        await self.serve(msg.subject, msg.data, msg.reply)

    async def serve(self, subject: str, data: bytes | dict[str, Any], reply: str | None,
                    room: Room | None = None) -> None:
        """One command, raw or already read: replied, broadcast, announced, and said in ``room`` when given."""
        started = time.perf_counter()
        channel = user = prompt = ""
        kind = "chat"
        targets: set[str] = {reply} if reply else set()
        timeout = self.settings.request_timeout
        try:
            async with asyncio.timeout(timeout):
                payload = data if isinstance(data, dict) else decode_object(data, self.settings.max_request_bytes)
                channel, user = identity(payload)
                targets |= reply_targets(payload)
                command = parse(CommandPayload, payload)
                channel, user = command.channel, command.user
                forced, prompt = _subject_command(subject, command.text)
                kind, argument = split_command(prompt, forced)
                outcome = await self._execute(kind, argument, channel, user)
        except (Exception, asyncio.CancelledError) as exc:
            failure = self._failure(exc, subject)
            for target in targets:
                await self._send(target, {"success": False, **failure.fields()})
            if room is not None:
                await room([failure.message])
            await self.bus.publish(LEGACY_ERROR, _union_error(kind, channel, user, failure))
            await self._error_event(channel, user, failure)
            log_request(self.bus, subject, channel, user, started, failure.outcome)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        answer = outcome.answer
        chunks, model = self._lines_and_model(outcome)
        for target in targets:
            await self._send(target, {"success": True, "result": outcome.text, "messages": chunks})
        if room is not None:
            await room(chunks)
        await self.bus.publish(LEGACY_RESPONSE, _union_response(kind, channel, user, prompt, outcome.text, chunks, model))
        await self.bus.let_out()
        await self._response_event(channel, user, answer)
        log_request(self.bus, subject, channel, user, started, "ok", *_tokens(answer))

    async def _execute(self, kind: str, argument: str, channel: str, user: str) -> Outcome:
        service = self.service
        if kind == "chat":
            if not argument:
                raise BadRequest(USAGE)
            answer = await service.chat(channel, user, argument)
            return Outcome(answer.text, answer)
        if kind == "help":
            return Outcome(HELP)
        if kind == "reset":
            await service.reset(channel)
            return Outcome("Conversation reset: I have forgotten what we said in this channel.")
        if kind == "persona":
            if argument:
                persona = await service.set_persona(channel, argument)
                return Outcome(f"Persona set to {persona.name}: {persona.description}.")
            current = await service.persona_of(channel)
            return Outcome(f"Persona: {current.name}. Available: {', '.join(service.personas.names)}.")
        if kind == "remember":
            if not argument:
                raise BadRequest("usage: !chat remember <something to remember>")
            await service.memory.remember(channel, user, argument)
            return Outcome("Got it, I will remember that.")
        if kind == "recall":
            found = await service.memory.recall(channel, argument, limit=self.settings.memory.recall_limit, by=user)
            if not found:
                return Outcome("I don't remember anything about that." if argument else "I don't remember anything yet.")
            return Outcome("I remember: " + "; ".join(
                f"{memory.content} ({memory.user})" if memory.user else memory.content for memory in found))
        if kind == "forget":
            if not argument:
                raise BadRequest("usage: !chat forget <words of the memory to forget>")
            count = await service.memory.forget(channel, user, argument)
            if not count:
                return Outcome(f"Nothing you asked me to remember matches '{argument}'.")
            return Outcome(f"Forgot {count} {'memory' if count == 1 else 'memories'}.")
        raise AssertionError(f"split_command returned an unknown sub-command {kind!r}")

    # ---------------------------------------------------------------- llm.request

    async def _serve_legacy_request(self, msg: Any) -> None:
        started = time.perf_counter()
        channel = user = ""
        action = "chat"
        echo: dict[str, Any] = {}
        reply_to = msg.reply
        timeout = self.settings.request_timeout
        try:
            async with asyncio.timeout(timeout):
                payload = decode_object(msg.data, self.settings.max_request_bytes)
                channel, user = identity(payload)
                if isinstance(payload.get("reply_to"), str) and not reply_to:
                    reply_to = payload["reply_to"]
                for key in ("action", "request_id"):
                    if isinstance(payload.get(key), (str, int)) and not isinstance(payload.get(key), bool):
                        echo[key] = payload[key]
                request = parse(LegacyRequestPayload, payload)
                action = request.resolved_action
                echo["action"] = action
                outcome, prompt = await self._legacy_action(request, action)
        except (Exception, asyncio.CancelledError) as exc:
            failure = self._failure(exc, msg.subject)
            error = {**_union_error(action, channel, user, failure), **echo}
            await self.bus.publish(LEGACY_ERROR, error)
            await self._send(reply_to, error)
            await self._error_event(channel, user, failure)
            log_request(self.bus, msg.subject, channel, user, started, failure.outcome)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        answer = outcome.answer
        chunks, model = self._lines_and_model(outcome)
        response = {**_union_response(action, request.channel or "", request.user, prompt, outcome.text, chunks,
                                      model), **echo}
        await self.bus.publish(LEGACY_RESPONSE, response)
        await self._send(reply_to, response)
        await self.bus.let_out()
        await self._response_event(request.channel or "", request.user, answer)
        log_request(self.bus, msg.subject, request.channel or "", request.user, started, "ok", *_tokens(answer))

    async def _legacy_action(self, request: LegacyRequestPayload, action: str) -> tuple[Outcome, str]:
        if action in ("chat", "reset") and not request.channel:
            raise BadRequest(f"missing 'channel_id' (or 'channel'): action '{action}' works on a channel's "
                             "conversation; use action 'complete' for a one-off answer")
        if action == "reset":
            await self.service.reset(request.channel or "")
            return Outcome("Conversation reset."), ""
        if not request.text:
            raise BadRequest("missing 'message' (or 'prompt', 'content', 'args'): say what to answer")
        overrides = {"model": request.model, "temperature": request.temperature, "max_tokens": request.max_tokens}
        if action == "chat":
            answer = await self.service.chat(request.channel or "", request.user, request.text, **overrides)
        else:
            messages = [Message(MessageRole.USER, request.text)]
            if request.system_prompt:
                messages.insert(0, Message(MessageRole.SYSTEM, request.system_prompt))
            answer = await self.service.complete(messages, user=request.user, channel=request.channel, **overrides)
        return Outcome(answer.text, answer), request.text

    # ---------------------------------------------------------------- shared

    def _lines_and_model(self, outcome: Outcome) -> tuple[list[str], str]:
        """The chat lines of an outcome, and the model to credit (the backend's, when no model answered)."""
        answer = outcome.answer
        if answer is None:
            lines = chunk_message(outcome.text, self.settings.max_message_chars, self.settings.max_messages)
            return lines, self.service.provider.model
        return answer.messages, answer.model

    def _failure(self, exc: BaseException, subject: str) -> Failure:
        failure = Failure.of(exc, self.settings.request_timeout)
        if failure.outcome == "error":
            log.error("request on %s failed", subject, exc_info=exc)
        return failure

    async def _send(self, reply_to: str | None, payload: dict[str, Any]) -> None:
        if reply_to:
            await self.bus.publish(reply_to, payload)

    async def _response_event(self, channel: str, user: str, answer: Answer | None) -> None:
        if answer is not None:
            await self.bus.publish(EVENT_RESPONSE, response_event(channel, user, answer))

    async def _error_event(self, channel: str, user: str, failure: Failure) -> None:
        await self.bus.publish(EVENT_ERROR, error_event(channel, user, failure, self.service.provider.name))


def reply_targets(payload: dict[str, Any]) -> set[str]:
    """The ``reply_to`` subject a payload names, as Rosey's other plugins (8ball) honour it."""
    named = payload.get("reply_to")
    return {named} if isinstance(named, str) and named.strip() else set()


def response_event(channel: str, user: str, answer: Answer) -> dict[str, Any]:
    """``rosey.event.llm.response``: exactly the fields of the real plugin's ``LLMResponseEvent``."""
    return {
        "channel": channel, "user": user, "prompt_length": len(answer.prompt), "response_length": len(answer.text),
        "tokens_used": answer.tokens_used, "provider": answer.provider, "latency_ms": answer.latency_ms,
        "persona": answer.persona,
    }


def error_event(channel: str, user: str, failure: Failure, provider: str) -> dict[str, Any]:
    """``rosey.event.llm.error``: exactly the fields of the real plugin's ``LLMErrorEvent``."""
    return {"channel": channel, "user": user, "error": failure.message, "provider": provider,
            "error_type": failure.error_type}


def _subject_command(subject: str, text: str) -> tuple[str | None, str]:
    """The sub-command named by the subject (older routers put it there) and the command's whole text.

    An unknown word in the subject is the first word of the text, as if typed after ``!chat``.
    """
    if subject == COMMAND_LLM_RESET:
        return "reset", text
    if subject.startswith(COMMAND_CHAT + "."):
        sub = subject[len(COMMAND_CHAT) + 1:]
        if sub in SUBCOMMANDS:
            first, _, rest = text.partition(" ")
            return sub, rest.strip() if first.lower() == sub else text
        return None, f"{sub} {text}".strip()
    return None, text


def _union_response(kind: str, channel: str, user: str, prompt: str, text: str, chunks: list[str],
                    model: str) -> dict[str, Any]:
    return {
        "event": "llm.response", "type": "llm_response", "command": kind, "success": True, "channel": channel, "channel_id": channel,
        "user": user, "prompt": prompt, "response": text, "content": text, "messages": chunks, "model": model,
    }


def _union_error(kind: str, channel: str, user: str, failure: Failure) -> dict[str, Any]:
    return {"event": "llm.error", "type": "llm_error", "command": kind, "success": False, "channel": channel, "channel_id": channel,
            "user": user, **failure.fields()}


def _tokens(answer: Answer | None) -> tuple[int, int]:
    return (answer.prompt_tokens, answer.completion_tokens) if answer else (0, 0)
