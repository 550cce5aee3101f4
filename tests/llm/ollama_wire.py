"""Ollama's own wire format, for the provider tests: the NDJSON that ``POST /api/chat`` streams.

Shapes from Ollama's API documentation, cut into network chunks that split lines
in the middle, as a real socket does.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import respx

from llm import Message, MessageRole, ToolDefinition
from llm.providers.ollama import OllamaProvider

BASE = "http://ollama.test:11434"
HELLO = [Message(MessageRole.USER, "Why is the sky blue?")]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
WEATHER = ToolDefinition(
    name="get_current_weather",
    description="Get the current weather for a location",
    parameters={"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)


# --- Ollama's stream, built line by line -------------------------------------------------------


def chunk(content: str = "", *, thinking: str | None = None, tool_calls: list[dict] | None = None) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {"model": "llama3.2", "created_at": "2025-05-27T22:54:57.641643Z", "message": message, "done": False}


def final(done_reason: str = "stop", prompt_eval_count: int = 26, eval_count: int = 282) -> dict:
    return {
        "model": "llama3.2",
        "created_at": "2025-05-27T22:54:58.100000Z",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": done_reason,
        "total_duration": 4883583458,
        "load_duration": 1334875,
        "prompt_eval_count": prompt_eval_count,
        "prompt_eval_duration": 342546000,
        "eval_count": eval_count,
        "eval_duration": 4535599000,
    }


def call(name: str, arguments: Any, **extra: Any) -> dict:
    return {"function": {"name": name, "arguments": arguments}, **extra}


def ndjson(*objects: dict) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


class Pieces(httpx.AsyncByteStream):
    """The bytes as a socket delivers them: fixed-size pieces that ignore line ends."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.size):
            yield self.data[start : start + self.size]


def stream_response(*objects: dict, piece: int = 7, raw: bytes = b"") -> httpx.Response:
    """A 200 carrying ``objects`` as NDJSON (then ``raw``), delivered in ``piece``-byte pieces."""
    data = ndjson(*objects) + raw
    return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, stream=Pieces(data, piece))


def error_response(status: int, error: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": error}, headers=headers)


def closed_port() -> int:
    """A port on which nothing listens: bound once to get a free one, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- reading what the provider did -------------------------------------------------------------


async def events_of(provider: OllamaProvider, messages: list[Message] = HELLO, **kwargs: Any) -> list:
    return [event async for event in provider.stream(messages, **kwargs)]


def sent_body(route: respx.Route, index: int = -1) -> dict:
    return json.loads(route.calls[index].request.content)
