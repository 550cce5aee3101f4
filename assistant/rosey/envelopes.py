"""``!chat`` from Rosey's core as Event envelopes, and the answers back to the room the same way.

Rosey's core wraps every message in an Event envelope: ``{"subject",
"event_type", "source", "data", "correlation_id", "timestamp", "priority",
"metadata"}`` (its event bus rebuilds the envelope from exactly these keys, so
an answer carries no others). A room's ``!chat`` line reaches the plugin on
two paths:

- the command router delivers a registered command on
  ``rosey.plugins.<plugin_name>.message`` with ``data`` passed through:
  ``{"command": "!chat ...", "username", "channel"}`` for a command, the chat
  line's ``{"username", "message", ...}`` when a routing rule matched it;
- today's router does not route the CyTube connector's chat lines
  (``rosey.platform.<platform>.chatMsg``), so the plugin reads those itself,
  taking the lines that start with ``rosey.chat_prefix``.

A line that arrives both ways is answered once (``roomlines.py`` says how a
repeat is told from the same words said again).
Each answer line goes on ``rosey.plugins.<plugin_name>.message`` as an
envelope with ``data.response``; the router passes it to the room. Envelopes
with ``data.response`` are answers (ours come back on the same subject), and
so are the router's copies of them for the room (``data.plugin`` names us,
should a routing rule send room lines back here): never commands.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .bus import QUEUE_GROUP, log
from .commands import CommandHandlers
from .roomlines import AnsweredLines, RoomLine

CHAT_LINES = "rosey.platform.*.chatMsg"
DEFAULT_PLATFORM = "cytube"
NORMAL_PRIORITY = 2


def envelope(subject: str, source: str, data: dict[str, Any], correlation_id: str | None = None) -> dict[str, Any]:
    """An Event envelope exactly as Rosey's event bus serializes one."""
    return {
        "subject": subject, "event_type": "message", "source": source, "data": data,
        "correlation_id": correlation_id or str(uuid.uuid4()), "timestamp": time.time(),
        "priority": NORMAL_PRIORITY, "metadata": {},
    }


def read_envelope(raw: bytes) -> dict[str, Any] | None:
    """The envelope's ``data`` and ``correlation_id``, or None when ``raw`` is not an Event envelope."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("data"), dict):
        return None
    correlation = value.get("correlation_id")
    return {"data": value["data"], "correlation_id": correlation if isinstance(correlation, str) else None}


class RoomRouting:
    """Takes ``!chat`` lines from Rosey's router and connector and says the answers in the room.

    It owns the subscriptions' callbacks and the memory of lines already answered;
    what a command does and how it is replied to is `CommandHandlers`'.
    """

    def __init__(self, commands: CommandHandlers) -> None:
        self.commands = commands
        settings = commands.settings
        self.name = settings.plugin_name
        self.subject = f"rosey.plugins.{settings.plugin_name}.message"
        self.prefix = settings.chat_prefix.lower()
        self._answered = AnsweredLines(commands.service.store)

    async def subscribe(self) -> list[Any]:
        nc = self.commands.bus.nc
        return [
            await nc.subscribe(self.subject, queue=QUEUE_GROUP, cb=self._on_routed),
            await nc.subscribe(CHAT_LINES, queue=QUEUE_GROUP, cb=self._on_chat_line),
        ]

    async def _on_routed(self, msg: Any) -> None:
        """A command (or a chat line a routing rule chose) from the router: all of it is for us."""
        read = read_envelope(msg.data)
        if read is None:
            log.warning("ignored a message on %s that is not a Rosey Event envelope", msg.subject)
            return
        data = read["data"]
        if "response" in data or data.get("plugin") == self.name:
            return
        text = data.get("command", data.get("message"))
        if not isinstance(text, str):
            log.warning("ignored an envelope on %s without a 'command' or 'message' string", msg.subject)
            return
        command = self._after_prefix(text)
        self._take(msg.subject, data, text if command is None else command, read["correlation_id"])

    async def _on_chat_line(self, msg: Any) -> None:
        """A line said in the room, straight from the connector: ours only when it starts with the prefix."""
        read = read_envelope(msg.data)
        if read is None:
            return
        text = read["data"].get("message")
        if not isinstance(text, str):
            return
        command = self._after_prefix(text)
        if command is None:
            return
        platform = msg.subject.split(".")[2]
        self._take(msg.subject, {"channel": platform, **read["data"]}, command, read["correlation_id"])

    def _after_prefix(self, text: str) -> str | None:
        """The words after the chat prefix, or None when ``text`` does not start with it."""
        words = text.split(maxsplit=1)
        if not words or words[0].lower() != self.prefix:
            return None
        return words[1].strip() if len(words) > 1 else ""

    def _take(self, subject: str, data: dict[str, Any], text: str, correlation_id: str | None) -> None:
        user = data.get("username", data.get("user"))
        channel = data.get("channel") or DEFAULT_PLATFORM
        line = RoomLine.of(user, text, data.get("time"))
        payload = {"channel": channel, "args": text, **({"user": user} if user is not None else {})}

        async def say(lines: list[str]) -> None:
            for answer_line in lines:
                answer = {"response": answer_line, "channel": channel if isinstance(channel, str) else ""}
                await self.commands.bus.publish(self.subject, envelope(self.subject, self.name, answer,
                                                                       correlation_id))

        async def answer_once() -> None:
            if await self._answered.first_delivery(line):
                await self.commands.serve(subject, payload, None, room=say)

        self.commands.inflight.spawn(answer_once())
