"""OpenAI Chat Completions, streamed as server-sent events.

The same wire protocol serves OpenAI itself, OpenRouter and every local
OpenAI-compatible server (mlx_lm.server, llama.cpp server, LM Studio, vLLM),
so those providers are small subclasses of this one.

Tool calls arrive as fragments keyed by ``index``: the first fragment of a
call carries its id and name, later ones carry pieces of the JSON arguments.
They are assembled here and emitted whole when the choice finishes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from httpx_sse import EventSource

from ..base import ChatRequest
from ..errors import LLMContextLengthError, LLMError, LLMResponseError, LLMServerError
from ..http import HTTPProvider, parse_json, parse_tool_arguments, redact
from ..settings import OpenAISettings
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
    ToolDefinition,
)


def message_to_openai(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role.value}
    if message.images and message.role is MessageRole.USER:
        parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
        parts += [{"type": "image_url", "image_url": {"url": image.data_url}} for image in message.images]
        wire["content"] = parts
    else:
        wire["content"] = message.content
    if message.role is MessageRole.ASSISTANT and message.tool_calls:
        wire["content"] = message.content or None
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    if message.role is MessageRole.TOOL:
        wire["tool_call_id"] = message.tool_call_id
    if message.name and message.role is not MessageRole.TOOL:
        wire["name"] = message.name
    return wire


def tool_to_openai(tool: ToolDefinition) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


@dataclass
class _PartialToolCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def finish(self, source: str) -> ToolCall:
        arguments = parse_tool_arguments("".join(self.arguments), tool=self.name, source=source)
        return ToolCall(id=self.id, name=self.name, arguments=arguments)


@dataclass
class _StreamState:
    """What has arrived so far in one streamed answer."""

    model: str
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, _PartialToolCall] = field(default_factory=dict)
    finished: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    prompt_chars: int = 0


def _estimated_usage(state: _StreamState) -> dict[str, Any]:
    """Usage for servers that send none (llama.cpp's Python server ignores ``include_usage``).

    About four characters a token for the prompt; one token a streamed piece for
    the answer, which is how these servers stream. Marked as estimated in the metadata.
    """
    prompt = state.prompt_chars // 4
    completion = len(state.text) + len(state.reasoning)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class OpenAIProvider(HTTPProvider):
    name: ClassVar[str] = "openai"
    display_name: ClassVar[str] = "OpenAI"
    settings_class = OpenAISettings
    capabilities = Capabilities(tools=True, vision=True, embeddings=True)
    requires_api_key: ClassVar[bool] = True
    connect_hint: ClassVar[str] = "check your network connection and llm.openai.base_url"
    max_tokens_field: ClassVar[str] = "max_completion_tokens"

    def headers(self) -> dict[str, str]:
        key = self.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [message_to_openai(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            self.max_tokens_field: request.max_tokens,
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = [tool_to_openai(t) for t in request.tools]
        return body

    async def _stream_once(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        state = _StreamState(model=request.model, prompt_chars=sum(len(m.content) for m in request.messages))
        body = self.request_body(request)
        async with self.open("POST", "/chat/completions", json_body=body, model=request.model) as response:
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                # httpx-sse would raise SSEError, an httpx.TransportError, which reads as a lost
                # connection and is retried: say what really came back instead.
                for event in self._events_of_whole_body(await response.aread(), content_type, state):
                    yield event
            else:
                finished = False
                async with aclosing(EventSource(response).aiter_sse()) as events:
                    async for sse in events:
                        # Read on past [DONE] to the end of the body: a response read to its end
                        # hands its connection back to the pool; one cut short closes it.
                        data = sse.data.strip()
                        finished = finished or data == "[DONE]"
                        if finished or not data:
                            continue
                        chunk = parse_json(data, source=self.display_name, provider=self.name)
                        for event in self._events_of_chunk(chunk, state):
                            yield event
        for call in self._finish_calls(state):
            yield ToolCallEvent(call)
        yield StreamEnd(self._result(state))

    def _events_of_whole_body(self, body: bytes, content_type: str, state: _StreamState) -> list[StreamEvent]:
        """A 200 that is not an event stream: a server that ignored ``stream``, or not an API at all."""
        if "json" in content_type:
            whole = parse_json(body, source=self.display_name)
            if isinstance(whole, dict) and isinstance(whole.get("choices"), list):
                # A non-streamed completion: read each choice's message as one delta.
                whole = {
                    **whole,
                    "choices": [
                        {**choice, "delta": choice.get("message") or {}} if isinstance(choice, dict) else choice
                        for choice in whole["choices"]
                    ],
                }
                return self._events_of_chunk(whole, state)
            if isinstance(whole, dict) and whole.get("error"):
                raise self._stream_error(whole["error"])
        shown = content_type.partition(";")[0].strip() or "no content type"
        raise LLMResponseError(
            f"{self.display_name} at {self.base_url} answered with {shown}, not an event stream: "
            f"check llm.{self.name}.base_url",
            provider=self.name,
        )

    def _events_of_chunk(self, chunk: Any, state: _StreamState) -> list[StreamEvent]:
        if not isinstance(chunk, dict):
            raise LLMResponseError(f"{self.display_name} sent a stream chunk that is not an object: {chunk!r:.120}")
        if chunk.get("error"):
            raise self._stream_error(chunk["error"])
        try:
            return self._events_of_choices(chunk, state)
        except (AttributeError, TypeError, ValueError):
            raise LLMResponseError(
                f"{self.display_name} sent a stream chunk of an unexpected shape: {json.dumps(chunk)[:160]}",
                provider=self.name,
            ) from None

    def _events_of_choices(self, chunk: dict[str, Any], state: _StreamState) -> list[StreamEvent]:
        """The events of one chunk; written for the common one-content-piece chunk, as it runs per token."""
        if model := chunk.get("model"):
            state.model = model
        if usage := chunk.get("usage"):
            state.usage = usage if isinstance(usage, dict) else state.usage
        events: list[StreamEvent] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta")
            if delta:
                if "reasoning_content" in delta or "reasoning" in delta:
                    thinking = delta.get("reasoning_content") or delta.get("reasoning")
                    if isinstance(thinking, str) and thinking:
                        state.reasoning.append(thinking)
                        events.append(ReasoningDelta(thinking))
                text = delta.get("content")
                if text and isinstance(text, str):
                    state.text.append(text)
                    events.append(TextDelta(text))
                if fragments := delta.get("tool_calls"):
                    for fragment in fragments:
                        self._add_tool_fragment(fragment, state)
            if finish_reason := choice.get("finish_reason"):
                state.finish_reason = finish_reason
                events += [ToolCallEvent(call) for call in self._finish_calls(state)]
        return events

    def _add_tool_fragment(self, fragment: dict[str, Any], state: _StreamState) -> None:
        index = fragment.get("index")
        if index is None:
            # Some servers omit the index: a fragment with an id starts a call, one without continues the last.
            last = max(state.calls, default=None)
            index = last if last is not None and not fragment.get("id") else (-1 if last is None else last) + 1
        partial = state.calls.setdefault(index, _PartialToolCall())
        partial.id = fragment.get("id") or partial.id
        function = fragment.get("function") or {}
        partial.name = function.get("name") or partial.name
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # some servers send the arguments already parsed
            arguments = json.dumps(arguments)
        if arguments:
            partial.arguments.append(str(arguments))

    def _finish_calls(self, state: _StreamState) -> list[ToolCall]:
        calls = []
        for index in sorted(state.calls):
            partial = state.calls[index]
            call = partial.finish(self.display_name)
            calls.append(ToolCall(id=call.id or f"call_{index}", name=call.name, arguments=call.arguments))
        state.calls.clear()
        state.finished += calls
        return calls

    def _result(self, state: _StreamState) -> CompletionResult:
        usage = state.usage or _estimated_usage(state)
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        finish = state.finish_reason or "stop"
        return CompletionResult(
            content="".join(state.text),
            model=state.model,
            tokens_used=int(usage.get("total_tokens") or prompt + completion),
            finish_reason="tool_calls" if state.finished and finish == "stop" else finish,
            tool_calls=state.finished or None,
            metadata={"usage": usage, "usage_estimated": not state.usage},
            prompt_tokens=prompt,
            completion_tokens=completion,
            reasoning="".join(state.reasoning),
        )

    def _stream_error(self, error: Any) -> LLMError:
        detail = error.get("message", error) if isinstance(error, dict) else error
        detail = redact(str(detail), self.api_key())
        code = str(error.get("code", "")) if isinstance(error, dict) else ""
        if code == "context_length_exceeded":
            return LLMContextLengthError(f"{self.display_name}: {detail}", provider=self.name)
        return LLMServerError(f"{self.display_name} reported an error mid-answer: {detail}", provider=self.name)

    async def list_models(self) -> list[str]:
        body = await self.request_json("GET", "/models")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise LLMResponseError(f"{self.display_name} answered /models without a 'data' list")
        return sorted(str(item.get("id")) for item in data if isinstance(item, dict) and item.get("id"))

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        model = getattr(self.settings, "embed_model", None) or self.model
        body = await self.request_json("POST", "/embeddings", json_body={"model": model, "input": list(texts)})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != len(texts):
            raise LLMResponseError(f"{self.display_name} answered /embeddings without one vector per text")
        try:
            ordered = sorted(data, key=lambda item: item.get("index", 0))
            return [list(map(float, item["embedding"])) for item in ordered]
        except (AttributeError, KeyError, TypeError, ValueError):
            raise LLMResponseError(
                f"{self.display_name} answered /embeddings with entries that are not vectors", provider=self.name
            ) from None
