"""The assistant as Home Assistant's conversation agent: a ``transcript`` in, the answer out.

Home Assistant names each conversation in the transcript's context
(``conversation_id``); every id gets its own session (history, persona,
the allowlisted tools), kept while it is in use and for
``wyoming.conversation_minutes`` after, so a follow-up question is answered
in context. All sessions share one backend connection: the embedded model
is loaded once, not per conversation. The answer is written for speech one
sentence at a time while the backend writes it, so each sentence can be sent
(``handled-chunk``) and spoken before the answer is finished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from audio import SpeechChunker
from llm import LLMProvider, ProviderFactory

from ..config import Config
from ..orchestrator import TurnError, TurnText
from ..session import Session
from ..tools import ToolBox, build_toolbox

log = logging.getLogger("assistant.wyoming")


@dataclass(frozen=True, slots=True)
class Answer:
    """What the assistant said (``handled``), or why it could not answer (``not-handled``)."""

    text: str
    handled: bool


@dataclass
class _Conversation:
    session: Session
    last_used: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Conversations:
    """The conversations Home Assistant is having with the assistant, by its conversation id."""

    def __init__(
        self,
        config: Config,
        provider: LLMProvider,
        tools: ToolBox | None,
        owned_tools: ToolBox | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``owned_tools`` is the box ``tools`` was restricted from, closed with the conversations."""
        self._config = config
        self._provider = provider
        self._tools = tools
        self._owned_tools = owned_tools
        self._clock = clock
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()

    @classmethod
    async def start(cls, config: Config) -> Conversations:
        """The backend from config (the embedded model loaded now) and only the tools ``wyoming.tools`` allows."""
        provider = ProviderFactory.create_from_config(config.provider_config())
        load_model = getattr(provider, "load", None)
        if load_model is not None:
            await load_model()
        if not (config.wyoming.tools and provider.capabilities.tools):
            return cls(config, provider, None)
        assistant = config.assistant
        every_tool = await build_toolbox(assistant.tools, assistant.mcp_servers, config.data_dir)
        tools = every_tool.restricted(config.wyoming.tools)
        for problem in tools.problems:
            log.warning("tools: %s", problem)
        return cls(config, provider, tools, owned_tools=every_tool)

    async def answer(
        self, conversation_id: str, text: str, on_words: Callable[[str], Awaitable[None]] | None = None
    ) -> Answer:
        """One turn of the conversation ``conversation_id``; turns of one conversation run one at a time.

        The answer is written for speech sentence by sentence as the backend writes it, and each sentence is
        given to ``on_words`` as soon as it is complete (with the space before it), so joined they are the
        answer's text."""
        conversation = self._conversation(conversation_id)
        chunker = SpeechChunker(early_first_chunk=False)
        sentences: list[str] = []

        async def say(completed: list[str]) -> None:
            for sentence in filter(None, (piece.strip() for piece in completed)):
                sentences.append(sentence)
                if on_words is not None:
                    await on_words(sentence if len(sentences) == 1 else f" {sentence}")

        async with conversation.lock:
            async for event in conversation.session.run_turn(text):
                if isinstance(event, TurnText):
                    await say(chunker.feed(event.text))
                elif isinstance(event, TurnError):
                    return Answer(f"The assistant could not answer: {event.message}", handled=False)
            await say(chunker.flush())
            conversation.last_used = self._clock()
        return Answer(" ".join(sentences), handled=True)

    async def close(self) -> None:
        self._conversations.clear()
        if self._owned_tools is not None:
            await self._owned_tools.aclose()
        await self._provider.close()

    def _conversation(self, conversation_id: str) -> _Conversation:
        now = self._clock()
        self._forget_idle(now)
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            session = Session(self._config, tools=self._tools, provider=self._provider)
            session.set_persona(self._config.wyoming.persona)
            conversation = self._conversations[conversation_id] = _Conversation(session, now)
            while len(self._conversations) > self._config.wyoming.max_conversations:
                self._conversations.popitem(last=False)
        self._conversations.move_to_end(conversation_id)
        conversation.last_used = now
        return conversation

    def _forget_idle(self, now: float) -> None:
        idle_after = self._config.wyoming.conversation_minutes * 60
        for conversation_id, conversation in list(self._conversations.items()):
            if now - conversation.last_used > idle_after and not conversation.lock.locked():
                del self._conversations[conversation_id]
