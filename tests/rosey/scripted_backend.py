"""A scripted OpenAI-compatible server: a real HTTP server on loopback that answers what a test says.

The bot talks to it exactly as to mlx_lm.server or llama.cpp's server (the
`mlx` backend): Chat Completions streamed as server-sent events, the way
OpenAI documents them (a role chunk, content chunks, a finish chunk, a usage
chunk when ``stream_options.include_usage`` is set, then ``data: [DONE]``),
plus ``/v1/models`` and ``/v1/embeddings``. Tests use it where the exact
words matter; the real llama.cpp server is used where they do not.

By default it echoes: the answer to "alice: hi" is "You said: alice: hi".
``answer(when, reply)`` scripts answers by a substring of the last user
message. Embeddings map words to a few fixed concepts (kitten and feline
both mean "cat"), so recall by meaning can be told from recall by words.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONCEPTS: tuple[tuple[str, ...], ...] = (
    ("cat", "cats", "kitten", "kittens", "feline", "felines", "tomcat"),
    ("dog", "dogs", "puppy", "puppies", "canine", "hound"),
    ("pizza", "pepperoni", "margherita", "calzone"),
    ("birthday", "anniversary", "born"),
    ("music", "song", "songs", "band", "guitar"),
)
HASHED_DIMENSIONS = 16
MODEL = "scripted-model"


@dataclass
class Reply:
    """One scripted answer."""

    text: str = ""
    delay: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    send_usage: bool = True
    status: int = 200
    error: str = ""


def concept_vector(text: str) -> list[float]:
    vector = [0.0] * (len(CONCEPTS) + HASHED_DIMENSIONS)
    for word in "".join(c if c.isalnum() else " " for c in text.lower()).split():
        for index, group in enumerate(CONCEPTS):
            if word in group:
                vector[index] += 1.0
                break
        else:
            vector[len(CONCEPTS) + zlib.crc32(word.encode()) % HASHED_DIMENSIONS] += 0.05
    return vector


class Gate:
    """Holds the answers it scripts until opened, counting how many are held at once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.held = 0
        self.most_held = 0
        self._opened = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.held += 1
            self.most_held = max(self.most_held, self.held)
        self._opened.wait(60)
        with self._lock:
            self.held -= 1
        return Reply(self.text)

    def open(self) -> None:
        self._opened.set()

    async def wait_held(self, count: int, timeout: float = 15.0) -> None:
        """Wait until ``count`` requests are held here (polling: the server runs in other threads)."""
        async with asyncio.timeout(timeout):
            while self.held < count:
                await asyncio.sleep(0.01)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 resets connections when 50 channels ask at once


class ScriptedBackend:
    def __init__(self, port: int = 0, default_delay: float = 0.0) -> None:
        self.default_delay = default_delay
        self.gates: list[Gate] = []
        self.rules: list[tuple[str, Reply | Callable[[dict[str, Any]], Reply]]] = []
        self.requests: list[dict[str, Any]] = []
        self.embeddings_enabled = True
        self.down = False
        self._server = _Server(("127.0.0.1", port), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-backend", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedBackend:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        for gate in self.gates:
            gate.open()
        self.gates.clear()
        self.rules.clear()
        self.requests.clear()
        self.embeddings_enabled = True
        self.down = False

    def answer(self, when: str, reply: Reply | str | Callable[[dict[str, Any]], Reply]) -> None:
        """Answer ``reply`` to any chat whose last user message contains ``when`` ("" matches all)."""
        self.rules.insert(0, (when, Reply(reply) if isinstance(reply, str) else reply))

    def gate(self, when: str, text: str = "done") -> Gate:
        """Hold every chat whose last user message contains ``when`` until the gate is opened."""
        gate = Gate(text)
        self.gates.append(gate)
        self.answer(when, gate)
        return gate

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def reply_for(self, body: dict[str, Any]) -> Reply:
        last_user = last_user_message(body)
        for when, reply in self.rules:
            if when in last_user:
                return reply(body) if callable(reply) else reply
        return Reply(f"You said: {last_user}", delay=self.default_delay)


def last_user_message(body: dict[str, Any]) -> str:
    return next((m.get("content") or "" for m in reversed(body.get("messages") or []) if m.get("role") == "user"), "")


def _handler_for(backend: ScriptedBackend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            """Quiet: the test output is for the tests."""

        def do_GET(self) -> None:
            if self._refuse_when_down():
                return
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "tests"}]})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            backend.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
            if self._refuse_when_down():
                return
            if self.path.endswith("/embeddings"):
                self._embeddings(body)
            elif self.path.endswith("/chat/completions"):
                self._chat(body)
            else:
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def _refuse_when_down(self) -> bool:
            if backend.down:
                self._json(503, {"error": {"message": "the scripted backend is down", "type": "server_error"}})
            return backend.down

        def _embeddings(self, body: dict[str, Any]) -> None:
            if not backend.embeddings_enabled:
                self._json(404, {"error": {"message": "this server was started without embeddings",
                                           "type": "invalid_request_error"}})
                return
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else list(texts or [])
            data = [{"object": "embedding", "index": i, "embedding": concept_vector(t)} for i, t in enumerate(texts)]
            self._json(200, {"object": "list", "data": data, "model": MODEL,
                             "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)}})

        def _chat(self, body: dict[str, Any]) -> None:
            reply = backend.reply_for(body)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                self._json(reply.status, {"error": {"message": reply.error or "scripted failure", "type": "error"}})
                return
            prompt_chars = sum(len(m.get("content") or "") for m in body.get("messages") or [])
            pieces = [word + " " for word in reply.text.split(" ")]
            if pieces:
                pieces[-1] = pieces[-1][:-1]
            prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else max(1, prompt_chars // 4)
            completion_tokens = reply.completion_tokens if reply.completion_tokens is not None else len(pieces)
            model = body.get("model") or MODEL
            events = [_chunk(model, {"role": "assistant", "content": ""})]
            events += [_chunk(model, {"content": piece}) for piece in pieces if piece]
            events.append(_chunk(model, {}, finish_reason="stop"))
            if reply.send_usage and (body.get("stream_options") or {}).get("include_usage"):
                events.append({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0,
                               "model": model, "choices": [],
                               "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                         "total_tokens": prompt_tokens + completion_tokens}})
            stream = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
            self._send(200, "text/event-stream", stream.encode())

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(payload).encode())

        def _send(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def serve(port: int, default_delay: float) -> None:
    """Run a scripted backend until killed (for benchmarks, in its own process)."""
    ScriptedBackend(port, default_delay).start()._thread.join()
