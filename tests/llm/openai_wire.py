"""Helpers that write OpenAI's Chat Completions streaming format byte for byte.

The format: ``data: {json}\\n\\n`` events ending with ``data: [DONE]``; the first chunk
carries only the role, then content pieces, then a chunk whose choice has a
``finish_reason``, then (with ``stream_options.include_usage``) a last chunk
with ``choices: []`` and the usage.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
import respx

from llm import (
    CompletionResult,
    LLMError,
    LLMProvider,
    Message,
    MessageRole,
    StreamEnd,
    TextDelta,
)

OPENAI = "https://api.openai.com/v1"
OPENROUTER = "https://openrouter.ai/api/v1"
KEY = "sk-test-SECRET123456"
SERVED_MODEL = "gpt-4o-mini-2024-07-18"
HELLO = [Message(MessageRole.USER, "Say hello")]


# ---------------------------------------------------------------- the wire format


def chunk(
    delta: dict[str, Any] | None = None, *, finish_reason: str | None = None, model: str = SERVED_MODEL
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` as OpenAI streams it (``usage`` is null until the last chunk)."""
    return {
        "id": "chatcmpl-9xYz",
        "object": "chat.completion.chunk",
        "created": 1727000000,
        "model": model,
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}],
        "usage": None,
    }


def role_chunk(**kwargs: Any) -> dict[str, Any]:
    return chunk({"role": "assistant", "content": "", "refusal": None}, **kwargs)


def finish_chunk(reason: str = "stop", **kwargs: Any) -> dict[str, Any]:
    return chunk({}, finish_reason=reason, **kwargs)


def usage_chunk(prompt: int, completion: int, *, model: str = SERVED_MODEL) -> dict[str, Any]:
    """The extra last chunk sent when ``stream_options.include_usage`` is true."""
    return {
        "id": "chatcmpl-9xYz",
        "object": "chat.completion.chunk",
        "created": 1727000000,
        "model": model,
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }


def text_chunks(*pieces: str, finish: str = "stop", usage: tuple[int, int] = (12, 5)) -> list[dict[str, Any]]:
    """A whole answer: role, content pieces, finish_reason, usage."""
    return [
        role_chunk(),
        *(chunk({"content": piece}) for piece in pieces),
        finish_chunk(finish),
        usage_chunk(*usage),
    ]


def tool_fragment(index: int, *, arguments: str = "", id: str | None = None, name: str | None = None) -> dict:
    """A piece of a tool call: id, type and name come in a call's first fragment only."""
    fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if id is not None:
        fragment["id"] = id
        fragment["type"] = "function"
    if name is not None:
        fragment["function"]["name"] = name
    return chunk({"tool_calls": [fragment]})


def sse(payload: dict[str, Any] | str, *, eol: str = "\n") -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}{eol}{eol}".encode()


def sse_body(chunks: Sequence[dict[str, Any] | str], *, done: bool = True, eol: str = "\n") -> bytes:
    body = b"".join(sse(c, eol=eol) for c in chunks)
    return body + (sse("[DONE]", eol=eol) if done else b"")


def split_every(data: bytes, size: int) -> list[bytes]:
    """Fixed-size pieces: they cut events, JSON and UTF-8 characters in the middle."""
    return [data[i : i + size] for i in range(0, len(data), size)]


async def byte_stream(pieces: Sequence[bytes], *, then_raise: Exception | None = None) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece
    if then_raise is not None:
        raise then_raise


def sse_response(
    chunks: Sequence[dict[str, Any] | str],
    *,
    piece_size: int | None = None,
    then_raise: Exception | None = None,
    done: bool = True,
    eol: str = "\n",
) -> httpx.Response:
    """A 200 event stream as OpenAI sends it, optionally cut into small byte pieces."""
    body = sse_body(chunks, done=done and then_raise is None, eol=eol)
    pieces = split_every(body, piece_size) if piece_size else [body]
    return httpx.Response(
        200,
        headers={"content-type": "text/event-stream; charset=utf-8"},
        content=byte_stream(pieces, then_raise=then_raise),
    )


def error_response(status: int, message: str, *, type: str, code: str | None, headers=None) -> httpx.Response:
    """OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""
    body = {"error": {"message": message, "type": type, "param": None, "code": code}}
    return httpx.Response(status, json=body, headers=headers or {})


def sent_json(route: respx.Route, call: int = -1) -> dict[str, Any]:
    return json.loads(route.calls[call].request.content)


async def collect(provider: LLMProvider, messages=HELLO, **kwargs: Any) -> list:
    return [event async for event in provider.stream(messages, **kwargs)]


async def collect_until_error(provider: LLMProvider, messages=HELLO, **kwargs: Any) -> tuple[list, LLMError]:
    """The events a user saw before the stream failed, and the error they got."""
    seen: list = []
    with pytest.raises(LLMError) as caught:
        async for event in provider.stream(messages, **kwargs):
            seen.append(event)
    return seen, caught.value


def texts(events: list) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


def the_end(events: list) -> CompletionResult:
    ends = [e for e in events if isinstance(e, StreamEnd)]
    assert len(ends) == 1, f"expected exactly one StreamEnd, got {len(ends)}"
    assert events[-1] is ends[0], "StreamEnd must be the last event"
    return ends[0].result


def closed_localhost_port() -> int:
    """A port on localhost that nothing listens on: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
