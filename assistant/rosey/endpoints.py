"""The ``rosey.llm.*`` request/reply service for other plugins, as one ``nats.micro`` service ``rosey-llm``.

Being a micro service gives ``$SRV.PING/INFO/STATS`` discovery for free, and
its queue group ``rosey-llm`` makes N bot processes share the load with
each request answered once. Two things about ``nats.micro`` shape this
module: an endpoint's handler runs one request at a time, so each handler
only starts a task and returns; and stopping the service cancels handlers
still running, so those tasks are tracked in `InFlight` and left to finish.

Every reply has ``success``; failures have ``error`` (and, when rate
limited, ``rate_limited`` and ``retry_after``) beside the empty fields of the
endpoint's answer, so a failed reply has the same shape as a served one.
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
from .commands import error_event, response_event
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

Result = tuple[dict[str, Any], Answer | None, str, str]
"""A handler's reply, the model answer behind it (for the event and the log), and its channel and user."""


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
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                payload = decode_object(request.data, self.settings.max_request_bytes)
                channel, user = identity(payload)
                reply, answer, channel, user = await self._handlers[name](payload)
        except (Exception, asyncio.CancelledError) as exc:
            failure = Failure.of(exc, self.settings.request_timeout)
            if failure.outcome == "error":
                log.error("request on %s failed", subject, exc_info=exc)
            await self._respond(request, {"success": False, **_failure_defaults(name, self.service),
                                          **failure.fields()})
            await self.bus.publish(EVENT_ERROR, error_event(subject, channel, user, failure,
                                                            self.service.provider.name))
            log_request(self.bus, subject, channel, user, started, failure.outcome)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        await self._respond(request, {"success": True, **reply})
        if answer is not None:
            await self.bus.publish(EVENT_RESPONSE, response_event(subject, channel, user, answer))
        tokens = (answer.prompt_tokens, answer.completion_tokens) if answer else (0, 0)
        log_request(self.bus, subject, channel, user, started, "ok", *tokens)

    async def _respond(self, request: Request, payload: dict[str, Any]) -> None:
        try:
            await request.respond(self.bus.encode(payload))
        except ValueError:
            pass  # published without a reply subject: nobody to answer
        except (NatsError, OSError) as exc:
            log.warning("could not reply on %s: %s", request.subject, exc or type(exc).__name__)

    # ---------------------------------------------------------------- the endpoints

    async def _chat(self, payload: dict[str, Any]) -> Result:
        request = parse(ChatPayload, payload)
        answer = await self.service.chat(request.channel, request.user, request.text, persona=request.persona)
        return _chat_response(answer), answer, request.channel, request.user

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
        return _chat_response(answer), answer, request.channel or "", request.user

    async def _summarize(self, payload: dict[str, Any]) -> Result:
        request = parse(SummarizePayload, payload)
        answer = await self.service.summarize(request.text, max_length=request.max_length, style=request.style,
                                              user=request.user, channel=request.channel)
        reply = {"summary": answer.text, "error": None, "messages": answer.messages, "model": answer.model,
                 "tokens_used": answer.tokens_used, "latency_ms": answer.latency_ms}
        return reply, answer, request.channel or "", request.user

    async def _memory_add(self, payload: dict[str, Any]) -> Result:
        request = parse(MemoryAddPayload, payload)
        memory = await self.service.memory.remember(request.channel, request.user, request.text,
                                             category=request.category, importance=request.importance)
        return _memory_response([memory]), None, request.channel, request.user or ""

    async def _memory_recall(self, payload: dict[str, Any]) -> Result:
        request = parse(MemoryRecallPayload, payload)
        found = await self.service.memory.recall(request.channel, request.text, limit=request.limit, user=request.user)
        return _memory_response(found), None, request.channel, request.user or ""

    async def _persona_get(self, payload: dict[str, Any]) -> Result:
        request = parse(PersonaGetPayload, payload)
        persona = await self.service.persona_of(request.channel)
        return {"persona": persona.name, "description": persona.description}, None, request.channel, ""

    async def _persona_set(self, payload: dict[str, Any]) -> Result:
        request = parse(PersonaSetPayload, payload)
        persona = await self.service.set_persona(request.channel, request.persona)
        return {"persona": persona.name, "description": persona.description}, None, request.channel, request.user

    async def _persona_list(self, payload: dict[str, Any]) -> Result:
        parse(EmptyPayload, payload)
        personas = [{"name": p.name, "description": p.description} for p in self.service.personas]
        return {"personas": personas}, None, "", ""

    async def _status(self, payload: dict[str, Any]) -> Result:
        parse(EmptyPayload, payload)
        return await self.service.status(), None, "", ""

    async def _usage(self, payload: dict[str, Any]) -> Result:
        request = parse(UsagePayload, payload)
        return self.service.usage_report(request.user, request.channel), None, request.channel or "", request.user or ""


def _chat_response(answer: Answer) -> dict[str, Any]:
    """What ``chat`` and ``complete`` answer: the text, its chunks for the room, usage, provider, model, latency."""
    return {
        "content": answer.text, "error": None, "tokens_used": answer.tokens_used, "provider": answer.provider,
        "messages": answer.messages, "model": answer.model, "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens, "latency_ms": answer.latency_ms,
    }


def _memory_response(memories: list[Memory]) -> dict[str, Any]:
    """What ``memory.add`` and ``memory.recall`` answer: the texts and count; ``items`` adds who said each and when."""
    return {
        "memories": [memory.content for memory in memories], "count": len(memories), "error": None,
        "items": [{"id": m.id, "content": m.content, "user": m.user, "category": m.category,
                   "importance": m.importance, "created": m.created} for m in memories],
    }


def _failure_defaults(name: str, service: LLMService) -> dict[str, Any]:
    """The empty fields of the endpoint's response schema, so a failed reply has the same shape."""
    if name in ("chat", "complete"):
        return {"content": None, "tokens_used": 0, "provider": service.provider.name, "messages": []}
    if name == "summarize":
        return {"summary": None}
    if name.startswith("memory."):
        return {"memories": [], "count": 0}
    return {}
