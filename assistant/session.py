"""One person's conversation with the assistant, whatever UI shows it.

The session owns what outlives a single turn: the backend in use, the persona,
the tools, and the saved record of the conversation. The TUI, `assistant chat`
and the voice loop each hold one; every change they offer a person (switch
backend or model, change persona, start over, resume an old conversation)
goes through here, so they all behave alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llm import (
    ConversationContext,
    Image,
    LLMError,
    LLMProvider,
    Message,
    MessageRole,
    ProviderFactory,
)

from .config import Config
from .orchestrator import (
    INTERRUPTED_MARK,
    MessageInfo,
    Orchestrator,
    TentativeTurn,
    Tools,
    TurnEvent,
    TurnOptions,
)
from .personas import Persona, PersonaBook
from .tools import ToolBox, build_toolbox

if TYPE_CHECKING:
    from .store import ConversationStore


class BackendUnavailable(Exception):
    """A backend could not be switched to; the message says why and how to fix it."""


class Session:
    """One person's conversation: the backend, the persona, the tools and the saved record.

    It owns the orchestrator that runs the turns and the toolbox it started;
    it decides when a conversation is saved and what a switch of backend or
    persona does. It never draws anything, plays anything or reads a socket:
    the faces (TUI, CLI, voice loop) call it and show what it returns.
    """

    def __init__(
        self,
        config: Config,
        store: ConversationStore | None = None,
        tools: Tools | None = None,
        provider: LLMProvider | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.personas = PersonaBook(config.assistant.personas)
        self.persona: Persona = self.personas.get(config.assistant.persona)
        self.backend = config.llm.backend
        self.conversation_id: str | None = None
        context = ConversationContext(
            max_turns=config.assistant.max_turns,
            system_message=self.persona.system_prompt(config.assistant.system_prompt),
        )
        self.orchestrator = Orchestrator(
            provider or self._create_provider(self.backend),
            context,
            tools,
            max_tool_rounds=config.assistant.max_tool_rounds,
            on_message=self.save_message,
        )
        self._last_answer: tuple[Message, int | None] | None = None
        self._toolbox = tools if isinstance(tools, ToolBox) else None

    @property
    def provider(self) -> LLMProvider:
        return self.orchestrator.provider

    @property
    def context(self) -> ConversationContext:
        return self.orchestrator.context

    def run_turn(
        self, text: str, images: Sequence[Image] = (), files: Sequence[str | Path] = ()
    ) -> AsyncIterator[TurnEvent]:
        return self.orchestrator.run_turn(text, TurnOptions(images=images, files=files))

    def tentative_turn(self, text: str, spoken: Callable[[], str]) -> TentativeTurn:
        """A spoken turn answered before the person is known to have finished; saved once committed.

        ``spoken`` tells what the person has heard of the answer, should they interrupt it.
        """
        return self.orchestrator.tentative_turn(text, TurnOptions(spoken=spoken))

    async def switch_backend(self, backend: str, model: str | None = None) -> None:
        """Continue the conversation on another backend, once it has answered.

        The backend is asked for its models first: one that cannot be reached
        raises ``BackendUnavailable`` and the current one stays in use.
        """
        try:
            provider = self._create_provider(backend, model)
        except LLMError as exc:
            raise BackendUnavailable(exc.message) from None
        except ValueError as exc:
            raise BackendUnavailable(f"the settings of llm.{backend} are not valid: {exc}") from None
        try:
            await provider.list_models()
        except LLMError as exc:
            await provider.close()
            raise BackendUnavailable(exc.message) from None
        previous = self.orchestrator.switch_provider(provider)
        self.backend = backend
        await previous.close()

    async def models(self) -> list[str]:
        """The current backend's models, for the model picker; raises ``LLMError``."""
        return await self.provider.list_models()

    def set_persona(self, name: str) -> Persona:
        """Answer in another style from the next turn on; `UnknownPersonaError` lists the names."""
        self.persona = self.personas.get(name)
        self.context.system_message = self.persona.system_prompt(self.config.assistant.system_prompt)
        if self.store is not None and self.conversation_id is not None:
            self.store.set_persona(self.conversation_id, self.persona.name)
        return self.persona

    def reset(self) -> None:
        """Start a new conversation; the old one stays saved."""
        self.context.clear()
        self.conversation_id = None

    def resume(self, conversation_id: str | None = None) -> bool:
        """Continue a saved conversation (the latest when no id is given); False when there is none.

        An unknown id raises ``ConversationNotFound`` naming it.
        """
        if self.store is None:
            return False
        from .store import restore_context

        summary = self.store.get(conversation_id) if conversation_id else self.store.latest()
        if summary is None:
            return False
        self.context.clear()
        restore_context(self.store, summary.id, self.context)
        self.conversation_id = summary.id
        if summary.persona and summary.persona in self.personas:
            self.persona = self.personas.get(summary.persona)
            self.context.system_message = self.persona.system_prompt(self.config.assistant.system_prompt)
        return True

    @property
    def model_is_in_process(self) -> bool:
        """Whether the backend's model runs in this process (the embedded one), to be loaded before use."""
        return hasattr(self.provider, "load")

    async def warm_model(self) -> None:
        """Load an in-process model now, and have it read the conversation so far; other backends need nothing.

        llama.cpp keeps the prompt it last read and reads only what is new, so
        the first question then reads just its own words. Loaded on one token
        instead, a fresh process read the whole system prompt on the first
        question (first token 241-280 ms, against 89-96 after this).
        """
        load = getattr(self.provider, "load", None)
        if load is None:
            return
        await load()
        await self.provider.complete([*self.context.get_messages(), Message(MessageRole.USER, "Hello")], max_tokens=1)

    async def start_tools(self) -> list[str]:
        """Start the configured tools (built-ins and MCP servers); returns what failed to start.

        A session given its tools when it was made keeps those.
        """
        if self.orchestrator.tools is None:
            assistant = self.config.assistant
            self._toolbox = await build_toolbox(assistant.tools, assistant.mcp_servers, self.config.data_dir)
            self.orchestrator.use_tools(self._toolbox)
        return list(self._toolbox.problems) if self._toolbox is not None else []

    def tool_source(self, name: str) -> str:
        tools = self.orchestrator.tools
        return tools.source(name) if tools is not None else ""

    async def close(self) -> None:
        await self.provider.close()
        if self._toolbox is not None:
            await self._toolbox.aclose()

    def _create_provider(self, backend: str, model: str | None = None) -> LLMProvider:
        raw = self.config.provider_config()
        if model:
            raw["llm"].setdefault(backend, {})["model"] = model
        return ProviderFactory.create(backend, raw)

    def amend_last_answer(self, heard: str) -> None:
        """The last answer was cut off while being spoken: keep only the words that were heard."""
        if self._last_answer is None:
            return
        message, message_id = self._last_answer
        message.content = heard + INTERRUPTED_MARK
        if self.store is not None and message_id is not None:
            self.store.mark_interrupted(message_id, message.content)

    def save_message(self, message: Message, info: MessageInfo) -> None:
        """Keep ``message`` in the conversation's record (the orchestrator calls this for each one)."""
        message_id = self._store_message(message, info)
        if message.role is MessageRole.ASSISTANT and not message.tool_calls:
            self._last_answer = (message, message_id)

    def _store_message(self, message: Message, info: MessageInfo) -> int | None:
        if self.store is None:
            return None
        from .store import TurnTimings

        if self.conversation_id is None:
            self.conversation_id = self.store.create(persona=self.persona.name)
        timings = None
        if info.done is not None:
            timings = TurnTimings(
                time_to_first_token=info.done.time_to_first_token,
                tokens_per_second=info.done.tokens_per_second,
                total_seconds=info.done.total_seconds,
                prompt_tokens=info.done.prompt_tokens,
                completion_tokens=info.done.completion_tokens,
            )
        return self.store.add_message(
            self.conversation_id, message,
            backend=info.backend, model=info.model, timings=timings, interrupted=info.interrupted,
        )
