"""Anthropic's Messages API streaming format, byte for byte, for the wire tests.

Real SSE framing (``event: ...`` / ``data: {...}`` / blank line), cut into small
byte chunks so events and JSON cross chunk boundaries, as on a real connection.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from llm import LLMError, Message, MessageRole, StreamEvent, TextDelta
from llm.providers.anthropic import AnthropicProvider

BASE_URL = "https://api.anthropic.com"
API_KEY = "sk-ant-api03-test-key-not-real-0123456789"
MODEL = "claude-sonnet-4-5-20250929"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


# --- the wire format -------------------------------------------------------


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def message_start(input_tokens: int = 21, **more_usage: int) -> bytes:
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1, **more_usage},
    }
    return sse("message_start", {"type": "message_start", "message": message})


def ping() -> bytes:
    return sse("ping", {"type": "ping"})


def block(index: int, content_block: dict[str, Any], deltas: list[dict[str, Any]]) -> bytes:
    start = sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": content_block})
    middle = b"".join(
        sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}) for delta in deltas
    )
    return start + middle + sse("content_block_stop", {"type": "content_block_stop", "index": index})


def text_block(index: int, *pieces: str) -> bytes:
    return block(index, {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in pieces])


def thinking_block(index: int, *pieces: str) -> bytes:
    deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces]
    deltas.append({"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"})
    return block(index, {"type": "thinking", "thinking": ""}, deltas)


def tool_use_block(index: int, call_id: str, name: str, *fragments: str) -> bytes:
    content_block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
    return block(index, content_block, [{"type": "input_json_delta", "partial_json": f} for f in fragments])


def message_end(stop_reason: str = "end_turn", output_tokens: int = 7) -> bytes:
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }
    return sse("message_delta", delta) + sse("message_stop", {"type": "message_stop"})


def error_event(kind: str, message: str) -> bytes:
    return sse("error", {"type": "error", "error": {"type": kind, "message": message}})


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def streamed(*parts: bytes, chunk_size: int = 37) -> httpx.Response:
    """A 200 event stream whose bytes arrive in chunks of ``chunk_size``, cutting through events."""
    body = b"".join(parts)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), chunk_size):
            yield body[start : start + chunk_size]

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks())


def answer(*pieces: str, input_tokens: int = 21, output_tokens: int = 7) -> httpx.Response:
    return streamed(
        message_start(input_tokens), ping(), text_block(0, *pieces), message_end("end_turn", output_tokens)
    )


# --- fixtures and helpers --------------------------------------------------


def user(text: str) -> list[Message]:
    return [Message(MessageRole.USER, text)]


def sent_body(route: respx.Route) -> dict[str, Any]:
    return json.loads(route.calls.last.request.content)


async def collect(provider: AnthropicProvider, messages: list[Message], **kwargs: Any) -> list[StreamEvent]:
    return [event async for event in provider.stream(messages, **kwargs)]


async def collect_until_error(
    provider: AnthropicProvider, messages: list[Message]
) -> tuple[list[StreamEvent], LLMError]:
    events: list[StreamEvent] = []
    with pytest.raises(LLMError) as raised:
        async for event in provider.stream(messages):
            events.append(event)
    return events, raised.value


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# --- streaming an answer ---------------------------------------------------
