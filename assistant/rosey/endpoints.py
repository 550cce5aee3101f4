"""The ``rosey.llm.*`` request/reply service for other plugins, as one ``nats.micro`` service ``rosey-llm``.

Being a micro service gives ``$SRV.PING/INFO/STATS`` discovery for free, and
its queue group ``rosey-llm`` makes N bot processes share the load with
each request answered once. Two things about ``nats.micro`` shape this
module: an endpoint's handler runs one request at a time, so each handler
only starts a task and returns; and stopping the service cancels handlers
still running, so those tasks are tracked in `InFlight` and left to finish.

Every reply carries exactly the fields of the real plugin's response
dataclass (``plugins/llm/schemas.py`` of Rosey-Robot), so a typed caller's
``ChatResponse(**reply)`` works, failures included; our extra figures (the
chat lines, model, token split, latency, ``rate_limited``/``retry_after``)
come only when the request asks with ``"detail": true``. A ``reply_to``
subject named in the payload gets the reply too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.errors import Error as NatsError
from nats.micro import add_service
from nats.micro.request import Request

from llm import Message, MessageRole

from ..memory import Memory
from .bus import (
    EVENT_ERROR,
    EVENT_RESPONSE,
    QUEUE_GROUP,
    SERVICE_NAME,
    Bus,
    Failure,
    InFlight,
    log,
    log_request,
)
from .commands import error_event, reply_targets, response_event
from .llmservice import Answer, LLMService
from .payloads import (
    ChatPayload,
    CompletePayload,
    EmptyPayload,
    MemoryAddPayload,
    MemoryRecallPayload,
    PersonaGetPayload,
    PersonaSetPayload,
    SummarizePayload,
    UsagePayload,
    decode_object,
    identity,
    parse,
)

VERSION = "1.0.0"

Result = tuple[dict[str, Any], dict[str, Any], Answer | None, str, str]
"""A handler's reply (exactly the real schema's fields), the extra figures a ``"detail": true`` request
also gets, the model answer behind it (for the event and the log), and its channel and user."""

NO_SUCCESS_FIELD = ("status", "usage")
"""Endpoints whose real response dataclass (``StatusResponse``, ``UsageResponse``) has no ``success``."""


class Endpoints:
    """The ``rosey-llm`` micro service: one endpoint per ``rosey.llm.*`` subject.

    It owns the service and its endpoints; what a request does is `LLMService`'s.
    A handler never waits for the answer: it starts a task, so one slow request
    never holds up the next.
    """

    def __init__(self, service: LLMService, bus: Bus, inflight: InFlight) -> None:
        self.service = service
        self.bus = bus
        self.inflight = inflight
        self.settings = service.settings
        self.micro: Any = None
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Result]]] = {
            "chat": self._chat,
            "complete": self._complete,
            "summarize": self._summarize,
            "memory.add": self._memory_add,
            "memory.recall": self._memory_recall,
            "persona.get": self._persona_get,
            "persona.set": self._persona_set,
            "persona.list": self._persona_list,
            "status": self._status,
            "usage": self._usage,
        }

    async def start(self) -> None:
        self.micro = await add_service(
            self.bus.nc, name=SERVICE_NAME, version=VERSION, queue_group=QUEUE_GROUP,
            description="Rosey LLM plugin: chat, completions, summaries, memory, personas, usage",
        )
        for name in self._handlers:
            await self.micro.add_endpoint(
                name=name.replace(".", "-"), subject=f"rosey.llm.{name}", handler=self._starter(name)
            )

    async def confirm_listening(self) -> None:
        """Return once the server has every subscription made so far.

        ``nc.flush()`` cannot promise that in nats-py 2.16 (its PING is written ahead of
        subscriptions still queued), so ask our own service for a PING instead: the request
        is queued behind the subscriptions, and its answer comes back only after them.
        """
        await self.bus.nc.request(f"$SRV.PING.{SERVICE_NAME}.{self.micro.id}", b"", timeout=10)

    async def stop(self) -> None:
        if self.micro is not None:
            await self.micro.stop()
            self.micro = None

    def _starter(self, name: str) -> Callable[[Request], Awaitable[None]]:
        async def start(request: Request) -> None:
            self.inflight.spawn(self._serve(name, request))

        return start

    async def _serve(self, name: str, request: Request) -> None:
        started = time.perf_counter()
        subject = f"rosey.llm.{name}"
        channel = user = ""
        detail = False
        targets: set[str] = set()
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                payload = decode_object(request.data, self.settings.max_request_bytes)
                channel, user = identity(payload)
                detail = _wants_detail(payload)
                targets = reply_targets(payload)
                reply, extras, answer, channel, user = await self._handlers[name](payload)
        except (Exception, asyncio.CancelledError) as exc:
            failure = Failure.of(exc, self.settings.request_timeout)
            if failure.outcome == "error":
                log.error("request on %s failed", subject, exc_info=exc)
            reply, extras = _failure_reply(name, self.service, failure)
            await self._respond(request, targets, {**reply, **extras} if detail else reply)
            await self.bus.publish(EVENT_ERROR, error_event(channel, user, failure,
                                                            self.service.provider.name))
            log_request(self.bus, subject, channel, user, started, failure.outcome)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        success = {} if name in NO_SUCCESS_FIELD else {"success": True}
        await self._respond(request, targets, {**success, **reply, **extras} if detail else {**success, **reply})
        if answer is not None:
            await self.bus.publish(EVENT_RESPONSE, response_event(channel, user, answer))
        tokens = (answer.prompt_tokens, answer.completion_tokens) if answer else (0, 0)
        log_request(self.bus, subject, channel, user, started, "ok", *tokens)

    async def _respond(self, request: Request, targets: set[str], payload: dict[str, Any]) -> None:
        for target in targets:
            await self.bus.publish(target, payload)
        try:
            await request.respond(self.bus.encode(payload))
        except ValueError:
            return  # published without a reply subject: nobody to answer
        except (NatsError, OSError) as exc:
            log.warning("could not reply on %s: %s", request.subject, exc or type(exc).__name__)
            return
        await self.bus.let_out()

    # ---------------------------------------------------------------- the endpoints

    async def _chat(self, payload: dict[str, Any]) -> Result:
        request = parse(ChatPayload, payload)
        answer = await self.service.chat(request.channel, request.user, request.text, persona=request.persona)
        return *_chat_response(answer, _wants_detail(payload)), answer, request.channel, request.user

    async def _complete(self, payload: dict[str, Any]) -> Result:
        request = parse(CompletePayload, payload)
        if request.messages:
            messages = [Message(MessageRole(m.role), m.content) for m in request.messages]
        else:
            messages = [Message(MessageRole.USER, request.text)]
        if request.system_prompt:
            messages.insert(0, Message(MessageRole.SYSTEM, request.system_prompt))
        answer = await self.service.complete(
            messages, user=request.user, channel=request.channel, model=request.model,
            temperature=request.temperature, max_tokens=request.max_tokens,
        )
        return *_chat_response(answer, _wants_detail(payload)), answer, request.channel or "", request.user

    async def _summarize(self, payload: dict[str, Any]) -> Result:
        request = parse(SummarizePayload, payload)
        answer = await self.service.summarize(request.text, max_length=request.max_length, style=request.style,
                                              user=request.user, channel=request.channel)
        extras = {"messages": answer.messages, "model": answer.model, "tokens_used": answer.tokens_used,
                  "latency_ms": answer.latency_ms} if _wants_detail(payload) else {}
        return {"summary": answer.text, "error": None}, extras, answer, request.channel or "", request.user

    async def _memory_add(self, payload: dict[str, Any]) -> Result:
        request = parse(MemoryAddPayload, payload)
        memory = await self.service.memory.remember(request.channel, request.user, request.text,
                                                    category=request.category, importance=request.importance)
        reply, extras = _memory_response([memory])
        return {**reply, "memory_id": str(memory.id)}, extras, None, request.channel, request.user or ""

    async def _memory_recall(self, payload: dict[str, Any]) -> Result:
        request = parse(MemoryRecallPayload, payload)
        found = await self.service.memory.recall(request.channel, request.text, limit=request.limit, user=request.user)
        return *_memory_response(found), None, request.channel, request.user or ""

    async def _persona_get(self, payload: dict[str, Any]) -> Result:
        request = parse(PersonaGetPayload, payload)
        persona = await self.service.persona_of(request.channel)
        return self._persona_reply(persona.name), {"description": persona.description}, None, request.channel, ""

    async def _persona_set(self, payload: dict[str, Any]) -> Result:
        request = parse(PersonaSetPayload, payload)
        persona = await self.service.set_persona(request.channel, request.persona)
        return (self._persona_reply(persona.name), {"description": persona.description}, None, request.channel,
                request.user)

    async def _persona_list(self, payload: dict[str, Any]) -> Result:
        parse(EmptyPayload, payload)
        personas = [{"name": p.name, "description": p.description} for p in self.service.personas]
        return self._persona_reply(None), {"personas": personas}, None, "", ""

    def _persona_reply(self, name: str | None) -> dict[str, Any]:
        """The real ``PersonaResponse``: the persona and the names to choose from (never a prompt)."""
        return {"persona": name, "available": list(self.service.personas.names), "error": None}

    async def _status(self, payload: dict[str, Any]) -> Result:
        parse(EmptyPayload, payload)
        status = await self.service.status()
        return status, self.service.status_detail(), None, "", ""

    async def _usage(self, payload: dict[str, Any]) -> Result:
        request = parse(UsagePayload, payload)
        usage, detail = self.service.usage_report(request.user, request.channel)
        return usage, {"success": True, **detail}, None, request.channel or "", request.user or ""


def _wants_detail(payload: dict[str, Any]) -> bool:
    """Whether the sender asked for our figures beyond the real schema's fields."""
    return payload.get("detail") is True


def _chat_response(answer: Answer, detail: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """What ``chat`` and ``complete`` answer (``ChatResponse``), and the figures behind ``detail``
    (made only when asked: splitting the answer into chat lines costs more than the rest of the reply)."""
    reply = {"content": answer.text, "error": None, "tokens_used": answer.tokens_used, "provider": answer.provider}
    if not detail:
        return reply, {}
    extras = {"messages": answer.messages, "model": answer.model, "prompt_tokens": answer.prompt_tokens,
              "completion_tokens": answer.completion_tokens, "latency_ms": answer.latency_ms}
    return reply, extras


def _memory_response(memories: list[Memory]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``MemoryResponse``: the texts and their count; ``detail`` adds who said each, and when."""
    reply = {"memories": [memory.content for memory in memories], "count": len(memories), "memory_id": None,
             "error": None}
    extras = {"items": [{"id": m.id, "content": m.content, "user": m.user, "category": m.category,
                         "importance": m.importance, "created": m.created} for m in memories]}
    return reply, extras


def _failure_reply(name: str, service: LLMService, failure: Failure) -> tuple[dict[str, Any], dict[str, Any]]:
    """The endpoint's response schema with empty fields and the error, so a failed reply parses too.

    ``StatusResponse`` and ``UsageResponse`` have no ``error``: theirs is in the ``detail`` extras.
    """
    extras = failure.fields()
    if name in ("chat", "complete"):
        reply = {"success": False, "content": None, "error": failure.message, "tokens_used": 0,
                 "provider": service.provider.name}
        return reply, {**extras, "messages": []}
    if name == "summarize":
        return {"success": False, "summary": None, "error": failure.message}, extras
    if name.startswith("memory."):
        return {"success": False, "memories": None, "count": 0, "memory_id": None, "error": failure.message}, extras
    if name.startswith("persona."):
        return {"success": False, "persona": None, "available": None, "error": failure.message}, extras
    extras = {"success": False, **extras}
    if name == "status":
        return {"healthy": False, "provider": service.provider.name, "model": service.provider.model,
                "requests_today": 0, "tokens_today": 0, "rate_limited": False, "uptime_seconds": 0}, extras
    return {"user": None, "requests_today": 0, "tokens_today": 0, "rate_limits_remaining": {}}, extras
