"""Ollama's native API: ``/api/chat`` streamed as NDJSON, ``/api/tags`` and ``/api/embed``.

The native API rather than Ollama's OpenAI-compatible one, because only the
native one takes ``options`` (``num_ctx``, ``top_p``...), ``keep_alive`` and
``think``, and keeps a reasoning model's thinking apart from its answer.

The stream is one JSON object per line; the last one has ``"done": true`` and
the usage. Unlike OpenAI, a tool call arrives whole in one chunk with its
arguments already an object. Ollama before 0.12 sends no call id, so one is
made up here: tool results are matched to their call by id. A failure after
the answer has started arrives as a line ``{"error": "..."}``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..base import ChatRequest
from ..errors import LLMConnectionError, LLMResponseError, LLMServerError
from ..http import HTTPProvider, parse_json, parse_tool_arguments
from ..settings import OllamaSettings
from ..types import (
    Capabilities,
    CompletionResult,
    Message,
    MessageRole,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
)
from .openai import tool_to_openai as tool_to_ollama  # Ollama takes tools in OpenAI's function format

_DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")
"""Timings of the final chunk, in nanoseconds, kept in the result's metadata."""


def message_to_ollama(message: Message, tool_names: Mapping[str, str]) -> dict[str, Any]:
    """One message in Ollama's shape; ``tool_names`` maps call ids to tool names."""
    wire: dict[str, Any] = {"role": message.role.value, "content": message.content}
    if message.images and message.role is MessageRole.USER:
        wire["images"] = [image.base64 for image in message.images]
    if message.role is MessageRole.ASSISTANT and message.tool_calls:
        wire["tool_calls"] = [
            {"id": call.id, "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    if message.role is MessageRole.TOOL:
        # Ollama matches a result to its call by tool name (and, since 0.12, by id).
        name = message.name or tool_names.get(message.tool_call_id or "")
        if name:
            wire["tool_name"] = name
        if message.tool_call_id:
            wire["tool_call_id"] = message.tool_call_id
    return wire


def _tool_names(messages: Sequence[Message]) -> dict[str, str]:
    """Call id -> tool name, so a tool result stored without its name still gets one."""
    return {call.id: call.name for m in messages for call in m.tool_calls or ()}


@dataclass
class _StreamState:
    """What has arrived so far in one streamed answer."""

    model: str
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    final: dict[str, Any] | None = None


class OllamaProvider(HTTPProvider):
    name: ClassVar[str] = "ollama"
    display_name: ClassVar[str] = "Ollama"
    settings_class = OllamaSettings
    capabilities = Capabilities(tools=True, vision=True, embeddings=True)
    requires_api_key: ClassVar[bool] = False
    connect_hint: ClassVar[str] = "is `ollama serve` running?"
    settings: OllamaSettings

    def headers(self) -> dict[str, str]:
        """No key locally; a hosted Ollama behind a proxy takes a bearer token."""
        key = self.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def not_found_message(self, model: str, detail: str) -> str:
        if "model" in detail.lower():
            return f"model '{model}' not found — run `ollama pull {model}`"
        # Not about a model: the path itself is wrong, e.g. a base_url ending in /v1.
        return f"{self.display_name} at {self.base_url} answered 404 ({detail}): check llm.{self.name}.base_url"

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        options = {**self.settings.options, "num_predict": request.max_tokens}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        tool_names = _tool_names(request.messages)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [message_to_ollama(m, tool_names) for m in request.messages],
            "stream": True,
            "options": options,
        }
        if request.tools:
            body["tools"] = [tool_to_ollama(t) for t in request.tools]
        if self.settings.keep_alive is not None:
            body["keep_alive"] = self.settings.keep_alive
        if self.settings.think is not None:
            body["think"] = self.settings.think
        return body

    async def _stream_once(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        state = _StreamState(model=request.model)
        body = self.request_body(request)
        async with self.open("POST", "/api/chat", json_body=body, model=request.model) as response:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                chunk = parse_json(line, source=self.display_name)
                for event in self._events_of_chunk(chunk, state):
                    yield event
                if state.final is not None:
                    break
        if state.final is None:
            raise LLMConnectionError(
                f"{self.display_name} closed the connection before finishing its answer", provider=self.name
            )
        yield StreamEnd(self._result(state, state.final))

    def _events_of_chunk(self, chunk: Any, state: _StreamState) -> list[StreamEvent]:
        if not isinstance(chunk, dict):
            raise LLMResponseError(f"{self.display_name} sent a stream line that is not an object: {chunk!r:.120}")
        if "error" in chunk:
            raise LLMServerError(
                f"{self.display_name} reported an error mid-answer: {str(chunk['error'])[:300]}", provider=self.name
            )
        state.model = chunk.get("model") or state.model
        message = chunk.get("message") or {}
        events: list[StreamEvent] = []
        thinking = message.get("thinking")
        if isinstance(thinking, str) and thinking:
            state.reasoning.append(thinking)
            events.append(ReasoningDelta(thinking))
        text = message.get("content")
        if isinstance(text, str) and text:
            state.text.append(text)
            events.append(TextDelta(text))
        for raw in message.get("tool_calls") or ():
            call = self._tool_call(raw)
            state.calls.append(call)
            events.append(ToolCallEvent(call))
        if chunk.get("done"):
            state.final = chunk
        return events

    def _tool_call(self, raw: Any) -> ToolCall:
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise LLMResponseError(f"{self.display_name} sent a tool call without a name: {raw!r:.120}")
        name = str(function["name"])
        # Some model templates leave the arguments as JSON text rather than an object.
        arguments = parse_tool_arguments(function.get("arguments") or {}, tool=name, source=self.display_name)
        return ToolCall(id=str(raw.get("id") or f"call_{uuid.uuid4().hex}"), name=name, arguments=arguments)

    def _result(self, state: _StreamState, final: dict[str, Any]) -> CompletionResult:
        prompt = int(final.get("prompt_eval_count") or 0)
        completion = int(final.get("eval_count") or 0)
        return CompletionResult(
            content="".join(state.text),
            model=state.model,
            tokens_used=prompt + completion,
            finish_reason="tool_calls" if state.calls else str(final.get("done_reason") or "stop"),
            tool_calls=state.calls or None,
            metadata={key: final[key] for key in _DURATIONS if key in final},
            prompt_tokens=prompt,
            completion_tokens=completion,
            reasoning="".join(state.reasoning),
        )

    async def list_models(self) -> list[str]:
        body = await self.request_json("GET", "/api/tags")
        models = body.get("models") if isinstance(body, dict) else None
        if not isinstance(models, list):
            raise LLMResponseError(f"{self.display_name} answered /api/tags without a 'models' list")
        return sorted(str(item["name"]) for item in models if isinstance(item, dict) and item.get("name"))

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self.settings.embed_model or self.model
        body = {"model": model, "input": list(texts)}
        # Not request_json: a 404 here must name the embedding model, not the chat model.
        async with self.open("POST", "/api/embed", json_body=body, model=model) as response:
            answer = parse_json(await response.aread(), source=self.display_name)
        vectors = answer.get("embeddings") if isinstance(answer, dict) else None
        if not isinstance(vectors, list) or len(vectors) != len(texts):
            raise LLMResponseError(f"{self.display_name} answered /api/embed without one vector per text")
        return [list(map(float, vector)) for vector in vectors]
