"""How much a provider adds on top of reading its stream, and how fast the embedded model is.

    .venv/bin/python bench/provider_stream.py [--tokens 20000] [--rounds 7]

Part 1 serves one OpenAI-style SSE stream of ``--tokens`` chunks from a real
HTTP server on loopback (uvicorn, in another process) and reads it, in
alternating rounds, three ways:

- raw:      httpx reading the body line by line (the floor: bytes off the socket)
- parsed:   httpx + httpx-sse + json.loads of every chunk (the least any client must do)
- provider: the `mlx` provider's ``stream()``, yielding typed events

and prints the medians and the ratios provider/parsed and provider/raw.

Part 2 loads the bundled model in-process and prints its load time, time to
first token and tokens per second over a few questions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from httpx_sse import EventSource  # noqa: E402

from llm import Message, MessageRole, ProviderFactory, StreamEnd, TextDelta  # noqa: E402


def _sse_body(tokens: int) -> bytes:
    chunks = []
    for i in range(tokens):
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "bench",
            "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}],
        }
        chunks.append(f"data: {json.dumps(chunk)}\n\n")
    done = {"id": "x", "model": "bench", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    usage = {"id": "x", "model": "bench", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": tokens}}
    chunks += [f"data: {json.dumps(done)}\n\n", f"data: {json.dumps(usage)}\n\n", "data: [DONE]\n\n"]
    return "".join(chunks).encode()


def _serve(port: int, tokens: int) -> None:
    import uvicorn

    body = _sse_body(tokens)
    pieces = [body[i : i + 4096] for i in range(0, len(body), 4096)]

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        for piece in pieces:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _read_raw(client: httpx.AsyncClient, url: str) -> int:
    lines = 0
    async with client.stream("POST", url, json={}) as response:
        async for _ in response.aiter_lines():
            lines += 1
    return lines


async def _read_parsed(client: httpx.AsyncClient, url: str) -> int:
    pieces = 0
    async with client.stream("POST", url, json={}) as response:
        async for sse in EventSource(response).aiter_sse():
            if sse.data == "[DONE]":
                break
            chunk = json.loads(sse.data)
            for choice in chunk["choices"]:
                if choice["delta"].get("content"):
                    pieces += 1
    return pieces


async def _read_provider(provider, messages) -> int:  # type: ignore[no-untyped-def]
    pieces = 0
    async for event in provider.stream(messages):
        if isinstance(event, TextDelta):
            pieces += 1
    return pieces


async def bench_overhead(tokens: int, rounds: int) -> None:
    port = _free_port()
    server = multiprocessing.Process(target=_serve, args=(port, tokens), daemon=True)
    server.start()
    base_url = f"http://127.0.0.1:{port}/v1"
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(100):
            try:
                await client.get(base_url)
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        provider = ProviderFactory.create("mlx", {"llm": {"mlx": {"base_url": base_url}}}, client=client)
        messages = [Message(MessageRole.USER, "bench")]
        url = base_url + "/chat/completions"
        times: dict[str, list[float]] = {"raw": [], "parsed": [], "provider": []}
        for round_number in range(rounds + 1):
            for name, read in (
                ("raw", lambda: _read_raw(client, url)),
                ("parsed", lambda: _read_parsed(client, url)),
                ("provider", lambda: _read_provider(provider, messages)),
            ):
                started = time.perf_counter()
                await read()
                if round_number:  # the first round warms connections and caches
                    times[name].append(time.perf_counter() - started)
    server.terminate()
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"SSE stream of {tokens} chunks over loopback HTTP, median of {rounds} alternating rounds:")
    for name, seconds in medians.items():
        print(f"  {name:9s} {seconds * 1000:8.1f} ms   {seconds / tokens * 1e6:6.2f} us/chunk")
    print(f"  provider / parsed = {medians['provider'] / medians['parsed']:.3f}   (goal <= 1.05)")
    print(f"  provider / raw    = {medians['provider'] / medians['raw']:.3f}")


async def bench_local() -> None:
    questions = ["What is 12 times 7?", "What is the capital of France?", "Name three colours.", "Say hello."]
    provider = ProviderFactory.create("local", {"llm": {"local": {"temperature": 0.0, "max_tokens": 64}}})
    started = time.perf_counter()
    await provider.load()
    load = time.perf_counter() - started
    ttfts, rates = [], []
    for question in questions:
        messages = [Message(MessageRole.SYSTEM, "You are Rosey, a helpful assistant."), Message(MessageRole.USER, question)]
        started = time.perf_counter()
        first = None
        async for event in provider.stream(messages):
            if isinstance(event, TextDelta) and first is None:
                first = time.perf_counter()
            elif isinstance(event, StreamEnd):
                done = time.perf_counter()
                result = event.result
        ttfts.append(first - started)
        if result.completion_tokens > 1:
            rates.append((result.completion_tokens - 1) / (done - first))
    await provider.close()
    print("Embedded model (Gemma 3 270M Q4_K_M, llama.cpp in-process):")
    print(f"  load                 {load * 1000:8.0f} ms")
    print(f"  time to first token  {statistics.median(ttfts) * 1000:8.0f} ms median, {max(ttfts) * 1000:.0f} ms worst "
          f"(first question includes warm-up)")
    print(f"  generation           {statistics.median(rates):8.1f} tokens/s median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(bench_overhead(args.tokens, args.rounds))
    asyncio.run(bench_local())


if __name__ == "__main__":
    main()
