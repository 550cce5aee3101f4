"""A real OpenAI-compatible HTTP server on loopback that answers from a script.

For tests where the exact words matter (a tool call, a quoted answer), which a
real small model cannot promise. It speaks the Chat Completions streaming
format the way OpenAI does: a role chunk, content pieces, tool-call arguments
in fragments by index, a finish chunk, a usage chunk when asked, ``[DONE]``.
Every request body is kept so a test can check what the model was sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.conftest import free_port

MODEL = "scripted-model"


@dataclass
class ScriptedReply:
    """One answer: thinking and text (sent in pieces), tool calls (arguments in fragments), or an HTTP error."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    piece_delay: float = 0.0
    pieces: int = 4


class ScriptedOpenAI:
    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.replies: deque[ScriptedReply] = deque()
        self.requests: list[dict[str, Any]] = []
        app = Starlette(routes=[
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def reply(self, text: str = "", **kwargs: Any) -> None:
        self.replies.append(ScriptedReply(text=text, **kwargs))

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the scripted OpenAI server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "tests"}]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        reply = self.replies.popleft() if self.replies else ScriptedReply(text=_echo(body))
        if reply.status != 200:
            error = {"error": {"message": reply.text or "scripted failure", "type": "server_error", "code": None}}
            return JSONResponse(error, status_code=reply.status)
        if not body.get("stream"):
            return JSONResponse(_whole(reply))
        return StreamingResponse(_sse(reply, body), media_type="text/event-stream")


def _echo(body: dict[str, Any]) -> str:
    users = [m for m in body["messages"] if m["role"] == "user"]
    return f"You said: {users[-1]['content']}" if users else "Hello."


def _chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1727000000, "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        "usage": None,
    }


def _pieces(text: str, count: int) -> Iterator[str]:
    size = max(1, -(-len(text) // count))
    for start in range(0, len(text), size):
        yield text[start:start + size]


def _events(reply: ScriptedReply) -> Iterator[dict[str, Any]]:
    yield _chunk({"role": "assistant", "content": ""})
    for piece in _pieces(reply.reasoning, reply.pieces):
        yield _chunk({"reasoning_content": piece})
    for piece in _pieces(reply.text, reply.pieces):
        yield _chunk({"content": piece})
    for index, (name, arguments) in enumerate(reply.tool_calls):
        call_id = f"call_{index}_{name}"
        yield _chunk({"tool_calls": [{
            "index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""},
        }]})
        for fragment in _pieces(json.dumps(arguments), 3):
            yield _chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
    yield _chunk({}, "tool_calls" if reply.tool_calls else "stop")


async def _sse(reply: ScriptedReply, body: dict[str, Any]) -> AsyncIterator[bytes]:
    for event in _events(reply):
        if reply.piece_delay:
            await asyncio.sleep(reply.piece_delay)
        yield f"data: {json.dumps(event)}\n\n".encode()
    if body.get("stream_options", {}).get("include_usage"):
        usage = {"prompt_tokens": 20, "completion_tokens": max(1, len(reply.text) // 4), "total_tokens": 0}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        yield f"data: {json.dumps({**_chunk({}), 'choices': [], 'usage': usage})}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _whole(reply: ScriptedReply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}_{name}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-scripted", "object": "chat.completion", "created": 1727000000, "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": max(1, len(reply.text) // 4),
                  "total_tokens": 20 + max(1, len(reply.text) // 4)},
    }
