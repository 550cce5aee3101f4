"""Per-channel state: one conversation, persona and turn order per chat room.

Every channel has a lock, taken by each turn and by each change to its
persona or conversation, so a channel's requests are answered in the order
they arrived while other channels go on concurrently. The channel's
`ChannelRecord` is the truth and lives in the store; the channel's
``ConversationContext`` is refilled from it before every turn (cheap: a
few dozen messages), so a turn always sees what other bot processes sharing
the store have added.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from llm import ConversationContext, LLMProvider, Message, MessageRole, ToolCall

from ..orchestrator import Orchestrator, Tools
from .store import ChannelRecord, StaleRecord, Store, StoreUnavailable

log = logging.getLogger("assistant.rosey")

_SAVE_ATTEMPTS = 10


def message_to_dict(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role.value, "content": message.content}
    if message.name:
        data["name"] = message.name
    if message.tool_call_id:
        data["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        data["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls]
    return data


def message_from_dict(data: dict[str, Any]) -> Message:
    calls = [ToolCall(c["id"], c["name"], c.get("arguments") or {}) for c in data.get("tool_calls") or ()]
    return Message(
        MessageRole(data["role"]), data.get("content") or "", name=data.get("name"),
        tool_call_id=data.get("tool_call_id"), tool_calls=calls or None,
    )


def transcript(turns: list[list[dict[str, Any]]], bot_name: str = "Rosey") -> str:
    """The turns as chat lines; user messages already start with the speaker's name."""
    lines = []
    for turn in turns:
        for message in turn:
            if message["role"] == "user":
                lines.append(message["content"])
            elif message["role"] == "assistant" and message.get("content"):
                lines.append(f"{bot_name}: {message['content']}")
    return "\n".join(lines)


class ChannelSession:
    """One channel in this process: its lock, its orchestrator and the record as last loaded or saved.

    It owns the channel's ``ConversationContext`` (through the orchestrator),
    which is only ever a copy of the record's turns; it never saves anything
    itself (`ChannelBook` does).
    """

    def __init__(self, name: str, orchestrator: Orchestrator) -> None:
        self.name = name
        self.lock = asyncio.Lock()
        self.orchestrator = orchestrator
        self.record: ChannelRecord | None = None
        self.unsaved = False
        self._context_record: ChannelRecord | None = None
        """The saved record whose turns the context holds, when it holds exactly those."""

    @property
    def context(self) -> ConversationContext:
        return self.orchestrator.context

    def fill_context(self, system_prompt: str) -> None:
        """The context holds exactly the record's turns, under ``system_prompt``.

        The turns are read again only when the record is not the one the context
        already holds (by revision, as a shared store loads a new copy every turn; a
        change not saved keeps the old revision, so then they are read again): a turn
        is saved as the context recorded it, so refilling would rebuild the same.
        """
        record = self.record
        assert record is not None
        context = self.context
        context.system_message = system_prompt
        context.max_turns = len(record.turns) + 1
        held = self._context_record
        same = held is not None and (held is record or (held.revision == record.revision and not self.unsaved))
        if not same:
            context.clear()
            for turn in record.turns:
                for message in turn:
                    context.add_message(message_from_dict(message))
        self._context_record = None  # the turn about to run adds to the context

    def turn_saved(self, before: ChannelRecord, turn: list[dict[str, Any]]) -> None:
        """The record saved is ``before`` plus ``turn``, the turn the context just recorded (when it is)."""
        record = self.record
        if record is None or self.unsaved or self.context.turn_count != len(record.turns):
            return
        grew_by_this_turn = len(record.turns) == len(before.turns) + 1 and record.turns[-1] is turn and all(
            saved is held for saved, held in zip(record.turns, before.turns, strict=False)
        )
        if grew_by_this_turn:
            self._context_record = record


class ChannelBook:
    """Every channel's session, and the only code that loads and saves channel records.

    It owns the sessions; the store owns the records. It never takes a channel's
    lock itself: callers hold it around `current` and `change`.
    """

    def __init__(self, store: Store, provider: LLMProvider, tools: Tools | None = None) -> None:
        self.store = store
        self.provider = provider
        self.tools = tools
        self._sessions: dict[str, ChannelSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def session(self, channel: str) -> ChannelSession:
        session = self._sessions.get(channel)
        if session is None:
            orchestrator = Orchestrator(self.provider, ConversationContext(max_turns=1), tools=self.tools)
            session = self._sessions[channel] = ChannelSession(channel, orchestrator)
        return session

    async def current(self, session: ChannelSession) -> ChannelRecord:
        """The channel's record: loaded on first use, and before every use when other processes share the store.

        Call with the session's lock held. A store that cannot be read leaves the
        record as this process last knew it.
        """
        if session.record is None or (self.store.shared and not session.unsaved):
            try:
                session.record = await self.store.load_channel(session.name)
            except StoreUnavailable as exc:
                log.warning("channel %s: %s; going on with what this process knows", session.name, exc)
                if session.record is None:
                    session.record = ChannelRecord()
        return session.record

    async def change(self, session: ChannelSession, change: Callable[[ChannelRecord], None]) -> None:
        """Apply ``change`` to the record and save it, re-applying it to a fresh copy if someone saved first."""
        record = await self.current(session) if session.record is None else session.record
        for _ in range(_SAVE_ATTEMPTS):
            updated = ChannelRecord(record.persona, record.summary, list(record.turns), record.revision)
            change(updated)
            session.record = updated
            try:
                try:
                    updated.revision = await self.store.save_channel(session.name, updated)
                    session.unsaved = False
                    return
                except StaleRecord:
                    record = await self.store.load_channel(session.name)
            except StoreUnavailable as exc:
                session.unsaved = True
                log.warning("channel %s: not saved (%s); kept in memory and saved with the next change",
                            session.name, exc)
                return
        log.warning("channel %s: not saved, other processes kept changing it; kept in memory", session.name)
        session.unsaved = True
