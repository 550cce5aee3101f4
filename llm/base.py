"""The provider interface every backend implements.

A provider implements one method, ``_stream_once(request)``: a single attempt
at streaming an answer as typed events. Everything else (retries before the
first token, ``complete``, ``stream_complete``) is built on it here, so every
backend behaves the same way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import LLMError, LLMInvalidRequestError, LLMResponseError
from .retry import stream_with_retries
from .settings import BackendSettings
from .types import (
    Capabilities,
    CompletionResult,
    Message,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolDefinition,
)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One call's inputs, with the backend's defaults already filled in."""

    messages: Sequence[Message]
    tools: Sequence[ToolDefinition]
    temperature: float | None
    max_tokens: int
    model: str


class LLMProvider:
    """Base class of all backends. Subclasses set ``name`` and implement ``_stream_once``."""

    name: ClassVar[str] = "custom"
    display_name: ClassVar[str] = "the LLM backend"
    settings_class: ClassVar[type[BackendSettings]] = BackendSettings
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, settings: BackendSettings | Mapping[str, Any] | None = None) -> None:
        if settings is None:
            settings = self.settings_class()
        elif not isinstance(settings, BackendSettings):
            settings = self.settings_class.model_validate(dict(settings))
        self.settings = settings

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"

    @property
    def model(self) -> str:
        return self.settings.model

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        model: str | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream the answer as events, ending with exactly one ``StreamEnd``.

        Returns the retrying generator itself rather than re-yielding from it:
        every generator layer costs time on each token.
        """
        request = self._request(messages, tools, temperature, max_tokens, model)
        return stream_with_retries(
            lambda: self._stream_once(request),
            max_retries=self.settings.max_retries,
            first_delay=self.settings.retry_backoff,
        )

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        model: str | None = None,
    ) -> CompletionResult:
        """The whole answer at once."""
        async with aclosing(self.stream(messages, tools, temperature, max_tokens, model)) as events:
            async for event in events:
                if isinstance(event, StreamEnd):
                    return event.result
        raise LLMResponseError(f"{self.display_name} ended its answer without a result", provider=self.name)

    async def stream_complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        model: str | None = None,
    ) -> AsyncIterator[str]:
        """Only the answer's text, as it arrives."""
        async for event in self.stream(messages, tools, temperature, max_tokens, model):
            if isinstance(event, TextDelta):
                yield event.text

    async def list_models(self) -> list[str]:
        return [self.model] if self.model else []

    async def is_available(self) -> bool:
        """Whether the backend answers at all; never raises."""
        try:
            await self.list_models()
        except LLMError:
            return False
        return True

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise LLMInvalidRequestError(
            f"{self.display_name} has no embeddings; choose a backend with embeddings "
            "(ollama, openai, local)",
            provider=self.name,
        )

    async def prepare(self) -> None:
        """Set up what the first request would otherwise wait for; nothing, for most backends."""

    async def close(self) -> None:
        """Release connections and models; the provider may be used again afterwards."""

    async def __aenter__(self) -> "LLMProvider":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _stream_once(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """One attempt at streaming an answer. Providers override this."""
        raise NotImplementedError

    def _request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        temperature: float | None,
        max_tokens: int | None,
        model: str | None,
    ) -> ChatRequest:
        if tools and not self.capabilities.tools:
            raise LLMInvalidRequestError(
                f"{self.display_name} does not support tools; offer none or choose another backend",
                provider=self.name,
            )
        return ChatRequest(
            messages=list(messages),
            tools=list(tools or ()),
            temperature=self.settings.temperature if temperature is None else temperature,
            max_tokens=max_tokens or self.settings.max_tokens,
            model=model or self.settings.model,
        )
