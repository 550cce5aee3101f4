"""Anthropic Messages API, streamed as server-sent events.

The protocol differs from OpenAI's in ways that shape this module:

- The system prompt is a top-level ``system`` field, never a message, and the
  messages must alternate user/assistant: consecutive messages of one role
  are merged into one message with several content blocks.
- An assistant's tool calls are ``tool_use`` blocks beside its text, and tool
  results are ``tool_result`` blocks inside a *user* message.
- ``max_tokens`` is required. With extended thinking it counts the thinking
  too and must exceed the thinking budget, so the budget is added on top of
  the answer's ``max_tokens``; and ``temperature`` must then be left out.
- With extended thinking, an answer that called tools must be sent back with
  its ``thinking`` blocks (text and ``signature``, which arrives last as a
  ``signature_delta``) and ``redacted_thinking`` blocks (opaque ``data``)
  byte for byte, before its ``tool_use`` blocks, or the next request is
  refused. They are captured as ``ReasoningBlock`` values and replayed only
  while thinking is enabled: without it they are not needed.
- A failed tool's result is a ``tool_result`` with ``is_error: true``.
- The answer streams as content blocks (text, thinking, tool_use), each
  opened by ``content_block_start``, grown by ``content_block_delta`` and
  closed by ``content_block_stop``. A tool call's input arrives as
  ``input_json_delta`` string fragments that are valid JSON only once its
  block closes, so the call is emitted then.
- Usage is split: input tokens in ``message_start``, output tokens (a running
  total) in ``message_delta``.
- A failure after the HTTP 200 arrives as an ``error`` event in the stream.
- New event and delta types may appear at any time; unknown ones are ignored.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from httpx_sse import EventSource

from ..base import ChatRequest
from ..errors import (
    LLMAuthError,
    LLMConnectionError,
    LLMContextLengthError,
    LLMError,
    LLMInvalidRequestError,
    LLMRateLimitError,
    LLMResponseError,
    LLMServerError,
)
from ..http import HTTPProvider, is_context_overflow, parse_json, parse_tool_arguments, redact
from ..settings import AnthropicSettings
from ..types import (
    Capabilities,
    CompletionResult,
    Message,
    MessageRole,
    ReasoningBlock,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolDefinition,
)

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
"""Anthropic's ``stop_reason`` in the OpenAI terms the rest of the program uses; others pass through."""

_PROMPT_TOKEN_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
"""With prompt caching, ``input_tokens`` counts only the uncached part of the prompt."""


def _reasoning_block(block: ReasoningBlock) -> dict[str, Any]:
    if block.is_redacted:
        return {"type": "redacted_thinking", "data": block.redacted_data}
    return {"type": "thinking", "thinking": block.text, "signature": block.signature}


def _tool_result(message: Message) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}
    if message.is_error:
        result["is_error"] = True
    return result


def _blocks_of(message: Message, with_reasoning: bool) -> tuple[str, list[dict[str, Any]]]:
    """The role and content blocks of one non-system message."""
    if message.role is MessageRole.TOOL:
        return "user", [_tool_result(message)]
    blocks: list[dict[str, Any]] = []
    if with_reasoning and message.role is MessageRole.ASSISTANT:
        blocks.extend(_reasoning_block(block) for block in message.reasoning_blocks or ())
    blocks.extend(
        {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.base64}}
        for image in message.images or ()
    )
    if message.content.strip():  # the API rejects empty and whitespace-only text blocks
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls or ():
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
    return ("assistant" if message.role is MessageRole.ASSISTANT else "user"), blocks


def messages_to_anthropic(
    messages: Sequence[Message], with_reasoning: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """The top-level system prompt and the alternating user/assistant messages.

    ``with_reasoning`` replays assistants' thinking blocks, which extended thinking requires.
    """
    system = "\n\n".join(m.content for m in messages if m.role is MessageRole.SYSTEM and m.content)
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role is MessageRole.SYSTEM:
            continue
        role, blocks = _blocks_of(message, with_reasoning)
        if not blocks:
            continue
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"] += blocks
        else:
            wire.append({"role": role, "content": blocks})
    return system, wire


def tool_to_anthropic(tool: ToolDefinition) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}


@dataclass
class _PartialToolUse:
    id: str
    name: str
    start_input: dict[str, Any]
    fragments: list[str] = field(default_factory=list)

    def finish(self, source: str) -> ToolCall:
        """The call with its whole input; no fragments means the input came whole at the start (or is {})."""
        if not self.fragments:
            return ToolCall(id=self.id, name=self.name, arguments=self.start_input)
        arguments = parse_tool_arguments("".join(self.fragments), tool=self.name, source=source)
        return ToolCall(id=self.id, name=self.name, arguments=arguments)


@dataclass
class _PartialReasoning:
    """A thinking block as its deltas arrive: text fragments, then a ``signature_delta`` just before it closes.

    A redacted block arrives whole, its ``data`` in ``content_block_start``.
    """

    fragments: list[str] = field(default_factory=list)
    signature: str = ""
    redacted_data: str | None = None

    def finish(self) -> ReasoningBlock:
        return ReasoningBlock(text="".join(self.fragments), signature=self.signature, redacted_data=self.redacted_data)


@dataclass
class _StreamState:
    """What has arrived so far in one streamed answer."""

    model: str
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    open_reasoning: dict[int, _PartialReasoning] = field(default_factory=dict)
    reasoning_blocks: list[ReasoningBlock] = field(default_factory=list)
    tool_uses: dict[int, _PartialToolUse] = field(default_factory=dict)
    calls: list[ToolCall] = field(default_factory=list)
    stop_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    stopped: bool = False
    """``message_stop`` arrived: without it the answer was cut off."""


class AnthropicProvider(HTTPProvider):
    name: ClassVar[str] = "anthropic"
    display_name: ClassVar[str] = "Anthropic"
    settings_class = AnthropicSettings
    capabilities = Capabilities(tools=True, vision=True, embeddings=False)
    requires_api_key: ClassVar[bool] = True
    connect_hint: ClassVar[str] = "check your network connection and llm.anthropic.base_url"

    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key() or "", "anthropic-version": self.settings.api_version}

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        budget = self.settings.thinking_budget
        system, messages = messages_to_anthropic(request.messages, with_reasoning=bool(budget))
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": messages,
            "stream": True,
        }
        if system:
            body["system"] = system
        if request.tools:
            body["tools"] = [tool_to_anthropic(t) for t in request.tools]
        if budget:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            body["max_tokens"] = request.max_tokens + budget
        elif request.temperature is not None:
            body["temperature"] = request.temperature
        return body

    async def _stream_once(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        state = _StreamState(model=request.model)
        body = self.request_body(request)
        async with self.open("POST", "/v1/messages", json_body=body, model=request.model) as response:
            async for sse in EventSource(response).aiter_sse():
                if not sse.data.strip():
                    continue
                for event in self._events_of(parse_json(sse.data, source=self.display_name), sse.event, state):
                    yield event
        if not state.stopped:
            raise LLMConnectionError(
                f"{self.display_name} closed the stream before the answer was complete", provider=self.name
            )
        yield StreamEnd(self._result(state))

    def _events_of(self, data: Any, sse_event: str, state: _StreamState) -> list[StreamEvent]:
        if not isinstance(data, dict):
            raise LLMResponseError(f"{self.display_name} sent a stream event that is not an object: {data!r:.120}")
        kind = data.get("type") or sse_event
        if kind == "message_start":
            message = data.get("message") or {}
            state.model = message.get("model") or state.model
            self._add_usage(message.get("usage"), state)
        elif kind == "content_block_start":
            return self._start_block(data.get("index"), data.get("content_block") or {}, state)
        elif kind == "content_block_delta":
            return self._add_delta(data.get("index"), data.get("delta") or {}, state)
        elif kind == "content_block_stop":
            index = data.get("index")
            thinking = state.open_reasoning.pop(index, None)
            if thinking is not None:
                state.reasoning_blocks.append(thinking.finish())
            partial = state.tool_uses.pop(index, None)
            if partial is not None:
                state.calls.append(partial.finish(self.display_name))
                return [ToolCallEvent(state.calls[-1])]
        elif kind == "message_delta":
            state.stop_reason = (data.get("delta") or {}).get("stop_reason") or state.stop_reason
            self._add_usage(data.get("usage"), state)
        elif kind == "message_stop":
            state.stopped = True
        elif kind == "error":
            raise self._stream_error(data.get("error"))
        return []

    def _start_block(self, index: Any, block: dict[str, Any], state: _StreamState) -> list[StreamEvent]:
        if block.get("type") == "tool_use":
            start_input = block.get("input")
            state.tool_uses[index] = _PartialToolUse(
                id=str(block.get("id") or f"toolu_{index}"),
                name=str(block.get("name") or ""),
                start_input=start_input if isinstance(start_input, dict) else {},
            )
            return []
        if block.get("type") == "text":
            return self._add_delta(index, {"type": "text_delta", "text": block.get("text")}, state)
        if block.get("type") == "thinking":
            state.open_reasoning[index] = _PartialReasoning(signature=str(block.get("signature") or ""))
            return self._add_delta(index, {"type": "thinking_delta", "thinking": block.get("thinking")}, state)
        if block.get("type") == "redacted_thinking":
            state.open_reasoning[index] = _PartialReasoning(redacted_data=str(block.get("data") or ""))
        return []

    def _add_delta(self, index: Any, delta: dict[str, Any], state: _StreamState) -> list[StreamEvent]:
        kind = delta.get("type")
        if kind == "text_delta" and isinstance(delta.get("text"), str) and delta["text"]:
            state.text.append(delta["text"])
            return [TextDelta(delta["text"])]
        if kind == "thinking_delta" and isinstance(delta.get("thinking"), str) and delta["thinking"]:
            state.reasoning.append(delta["thinking"])
            if index in state.open_reasoning:
                state.open_reasoning[index].fragments.append(delta["thinking"])
            return [ReasoningDelta(delta["thinking"])]
        if kind == "signature_delta" and index in state.open_reasoning and isinstance(delta.get("signature"), str):
            state.open_reasoning[index].signature = delta["signature"]
        if kind == "input_json_delta" and index in state.tool_uses and delta.get("partial_json"):
            state.tool_uses[index].fragments.append(delta["partial_json"])
        return []

    @staticmethod
    def _add_usage(usage: Any, state: _StreamState) -> None:
        """``message_delta`` repeats some fields as running totals (or null): the latest value wins."""
        if isinstance(usage, dict):
            state.usage.update({key: value for key, value in usage.items() if value is not None})

    def _result(self, state: _StreamState) -> CompletionResult:
        prompt = sum(int(state.usage.get(key) or 0) for key in _PROMPT_TOKEN_FIELDS)
        completion = int(state.usage.get("output_tokens") or 0)
        stop_reason = state.stop_reason or "end_turn"
        metadata: dict[str, Any] = {"stop_reason": stop_reason}
        if state.usage:
            metadata["usage"] = state.usage
        return CompletionResult(
            content="".join(state.text),
            model=state.model,
            tokens_used=prompt + completion,
            finish_reason=_FINISH_REASONS.get(stop_reason, stop_reason),
            tool_calls=state.calls or None,
            metadata=metadata,
            prompt_tokens=prompt,
            completion_tokens=completion,
            reasoning="".join(state.reasoning),
            reasoning_blocks=state.reasoning_blocks or None,
        )

    def _stream_error(self, error: Any) -> LLMError:
        """The ``error`` event's type, read as the HTTP status it stands for would be."""
        kind = str(error.get("type", "")) if isinstance(error, dict) else ""
        detail = error.get("message", error) if isinstance(error, dict) else error
        detail = redact(str(detail), self.api_key())
        where = f"{self.display_name} reported {kind or 'an error'} in the middle of an answer: {detail}"
        if kind == "rate_limit_error":
            return LLMRateLimitError(where, provider=self.name)
        if kind in ("authentication_error", "permission_error"):
            return LLMAuthError(where, provider=self.name)
        if kind in ("invalid_request_error", "not_found_error", "request_too_large"):
            if is_context_overflow(detail):
                return LLMContextLengthError(
                    f"{where}; the conversation is too long for the model: reset it or shorten it",
                    provider=self.name,
                )
            return LLMInvalidRequestError(where, provider=self.name)
        return LLMServerError(where, provider=self.name)

    async def list_models(self) -> list[str]:
        """Model ids, newest first as the API lists them (one page of up to 1000)."""
        body = await self.request_json("GET", "/v1/models?limit=1000")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise LLMResponseError(f"{self.display_name} answered /v1/models without a 'data' list")
        return [str(item["id"]) for item in data if isinstance(item, dict) and item.get("id")]
