"""The real Rosey-Robot as its callers see it: its envelopes, its core's routing, its LLM plugin's schemas.

Shapes read from grobertson/Rosey-Robot (core at 882c482, ``plugins/llm`` at
3ee017d); written again here, not copied. The dataclasses have exactly the
real fields, so ``ChatResponse(**reply)`` fails on a missing or an extra
field just as a real typed caller would. `RoseyCore` plays the core's command
router and CyTube connector on a real NATS server: the room is a list of the
lines the connector would send to CyTube.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

# ---------------------------------------------------------------- the Event envelope (core/event_bus.py)


@dataclass
class Event:
    """Every message between Rosey's core and its plugins; rebuilt by ``Event(**json)``, so no extra keys."""

    subject: str
    event_type: str
    source: str
    data: dict[str, Any]
    correlation_id: str | None = field(default_factory=lambda: str(uuid.uuid4()))
    timestamp: float = field(default_factory=time.time)
    priority: int = 2
    metadata: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Event:
        return cls(**json.loads(raw))


def chat_line(username: str, message: str, platform: str = "cytube") -> Event:
    """A line said in the room, as the CyTube connector publishes it (with no correlation id)."""
    now = time.time()
    return Event(subject=f"rosey.platform.{platform}.chatMsg", event_type="message", source="cytube-connector",
                 data={"username": username, "message": message, "time": int(now * 1000), "meta": {}},
                 correlation_id=None, metadata={"cytube_event": "chatMsg", "timestamp": now})


def platform_command(command: str, username: str, channel: str, platform: str = "cytube") -> Event:
    """A ``!command`` line as the platform hands it to the router."""
    return Event(subject=f"rosey.platform.{platform}.command", event_type="command", source=f"{platform}-connector",
                 data={"command": command, "username": username, "channel": channel})


class RoseyCore:
    """The command router and CyTube connector of Rosey's core, routing as the real ones do.

    Router: a registered command on ``rosey.platform.*.command`` goes to
    ``rosey.plugins.<plugin>.message`` in a new envelope with ``data`` passed
    through, and so does every platform message to the ``fallbacks`` (the
    router's own copies of answers for the room included); a plugin envelope
    with ``data.response`` goes to ``rosey.platform.cytube.message`` as
    ``data.message``. Connector: each ``data.message`` on
    ``rosey.platform.cytube.message`` is a line sent to the room.
    """

    def __init__(self, nc: Any, commands: dict[str, str], fallbacks: tuple[str, ...] = ()) -> None:
        self.nc = nc
        self.commands = commands
        self.fallbacks = fallbacks
        self.room: list[str] = []
        self.answers: list[Event] = []
        self._changed = asyncio.Condition()

    async def start(self) -> RoseyCore:
        await self.nc.subscribe("rosey.platform.*.command", cb=self._route_command)
        await self.nc.subscribe("rosey.plugins.*.message", cb=self._route_response)
        await self.nc.subscribe("rosey.platform.*.message", cb=self._platform_message)
        await self.nc.flush()
        return self

    async def say(self, event: Event) -> None:
        await self.nc.publish(event.subject, event.encode())

    async def wait_for_room(self, count: int, timeout: float = 15.0) -> list[str]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.room) >= count)
        return list(self.room)

    async def _route_command(self, msg: Any) -> None:
        event = Event.decode(msg.data)
        name = event.data.get("command", "").split(maxsplit=1)[0].lower().removeprefix("!")
        plugin = self.commands.get(name)
        if plugin:
            await self.route_to(plugin, event)

    async def route_to(self, plugin: str, event: Event) -> None:
        """``event`` delivered to ``plugin`` as the router delivers it: ``data`` and correlation id unchanged."""
        await self.say(Event(subject=f"rosey.plugins.{plugin}.message", event_type="message", source="router",
                             data=event.data, correlation_id=event.correlation_id, priority=event.priority))

    async def _route_response(self, msg: Any) -> None:
        event = Event.decode(msg.data)
        response = event.data.get("response", "")
        if response:
            self.answers.append(event)
            await self.say(Event(subject="rosey.platform.cytube.message", event_type="message", source="router",
                                 data={"message": response, "plugin": event.source,
                                       "correlation_id": event.correlation_id},
                                 correlation_id=event.correlation_id))

    async def _platform_message(self, msg: Any) -> None:
        """The router's fallback routing first, then the connector sending the line to the room."""
        event = Event.decode(msg.data)
        message = event.data.get("message", "")
        if not message:
            return
        for plugin in self.fallbacks:
            await self.route_to(plugin, event)
        if msg.subject == "rosey.platform.cytube.message":
            async with self._changed:
                self.room.append(message)
                self._changed.notify_all()


# ---------------------------------------------------------------- plugins/llm/schemas.py: responses


@dataclass
class ChatResponse:
    success: bool
    content: str | None = None
    error: str | None = None
    tokens_used: int = 0
    provider: str | None = None


CompletionResponse = ChatResponse
"""The real plugin defines it with the same fields as ChatResponse."""


@dataclass
class SummaryResponse:
    success: bool
    summary: str | None = None
    error: str | None = None


@dataclass
class MemoryResponse:
    success: bool
    memories: list[str] | None = None
    count: int = 0
    memory_id: str | None = None
    error: str | None = None


@dataclass
class PersonaResponse:
    success: bool
    persona: str | None = None
    available: list[str] | None = None
    error: str | None = None


@dataclass
class StatusResponse:
    healthy: bool
    provider: str
    model: str
    requests_today: int
    tokens_today: int
    rate_limited: bool = False
    uptime_seconds: int = 0


@dataclass
class UsageResponse:
    user: str | None
    requests_today: int
    tokens_today: int
    rate_limits_remaining: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- plugins/llm/schemas.py: events


@dataclass
class LLMResponseEvent:
    channel: str
    user: str
    prompt_length: int
    response_length: int
    tokens_used: int
    provider: str
    latency_ms: int
    persona: str | None = None


@dataclass
class LLMErrorEvent:
    channel: str
    user: str
    error: str
    provider: str
    error_type: str = "provider_error"


@dataclass
class LLMMemoryEvent:
    channel: str
    action: str
    user_id: str | None
    memory_count: int


@dataclass
class UsageThresholdEvent:
    user: str
    channel: str
    threshold_type: str
    current: int
    limit: int
    percentage: float


def plugin_config(base_url: str, api_key: str, **extra: Any) -> dict[str, Any]:
    """Rosey's config dict for its LLM plugin (its config.json), with the OpenAI provider at ``base_url``."""
    return {
        "name": "llm",
        "enabled": True,
        "default_provider": "openai",
        "providers": {
            "ollama": {"base_url": "http://localhost:11434", "timeout": 60.0, "default_model": "llama3.2"},
            "openai": {"api_key": api_key, "base_url": base_url, "organization": "", "timeout": 30.0,
                       "default_model": "scripted-model"},
        },
        "service": {"max_context_messages": 10, "default_persona": "concise"},
        "rate_limits": {"requests_per_minute": 10, "requests_per_hour": 100, "requests_per_day": 500,
                        "tokens_per_day": 50000},
        **extra,
    }
