"""Text to speech with Piper, one sentence at a time so playback can start early.

The voice is loaded once and used from one worker thread: ONNX inference
blocks for tens of milliseconds per sentence, which must never stall the
event loop, and one thread keeps the sentences in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .chunker import split_sentences
from .errors import AudioFileError, ModelNotFound
from .models import piper_voice_path
from .settings import TTSSettings
from .streaming_voice import StreamingVoice
from .types import AudioChunk


class Synthesizer:
    """A Piper voice, loaded on first use (or by ``warm``) and kept."""

    def __init__(self, settings: TTSSettings | None = None) -> None:
        self.settings = settings or TTSSettings()
        self.voice_path = piper_voice_path(self.settings.voice)
        self.sample_rate = _voice_sample_rate(self.voice_path)
        self._voice: StreamingVoice | None = None
        self._load_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper")

    def warm(self) -> None:
        """Load the voice and speak one word into the void, so the first real sentence is not slow."""
        for _ in self.synthesize("Ready."):
            pass

    async def warm_async(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._worker, self.warm)

    def synthesize(self, text: str, *, in_slices: bool = False) -> Iterator[AudioChunk]:
        """Audio per sentence of ``text`` (Markdown is read as a listener should hear it).

        ``in_slices`` gives each sentence as it is decoded, a short first piece and longer ones
        after it, for a client that buffers what it receives (a Wyoming satellite). A speaker fed
        straight from the pieces would fall silent in mid-word whenever one arrives late, so by
        default a sentence comes whole.
        """
        voice = self._load()
        config = self._synthesis_config()
        silence = np.zeros(round(self.settings.sentence_silence * self.sample_rate), np.float32)
        for sentence in split_sentences(text):
            label = sentence
            for pcm in voice.sentence_audio(sentence, config, in_slices=in_slices):
                yield AudioChunk(pcm=pcm, sample_rate=self.sample_rate, text=label)
                label = ""
            if silence.size and label == "":
                yield AudioChunk(pcm=silence, sample_rate=self.sample_rate)

    async def stream(self, text: str, *, in_slices: bool = False) -> AsyncIterator[AudioChunk]:
        """``synthesize`` on the worker thread; each piece arrives as soon as it is ready.

        Closing the iterator early (barge-in) stops after the sentence in progress.
        """
        loop = asyncio.get_running_loop()
        pieces = self.synthesize(text, in_slices=in_slices)
        try:
            while (chunk := await loop.run_in_executor(self._worker, next, pieces, None)) is not None:
                yield chunk
        finally:
            with contextlib.suppress(RuntimeError):  # the synthesizer was closed meanwhile
                self._worker.submit(pieces.close)

    def write_wav(self, text: str, path: str | Path) -> float:
        """Speak ``text`` into a 16-bit WAV file; returns its length in seconds."""
        import soundfile

        chunks = [chunk.pcm for chunk in self.synthesize(text)]
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        try:
            soundfile.write(str(path), pcm, self.sample_rate, subtype="PCM_16")
        except (OSError, RuntimeError) as exc:
            raise AudioFileError(f"cannot write {path}: {exc}") from None
        return len(pcm) / self.sample_rate

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _load(self) -> StreamingVoice:
        with self._load_lock:
            if self._voice is None:
                try:
                    self._voice = StreamingVoice.load(self.voice_path)
                except Exception as exc:  # noqa: BLE001 - onnxruntime's errors derive from Exception only
                    raise ModelNotFound(f"cannot load the Piper voice {self.voice_path}: {exc}") from None
            return self._voice

    def _synthesis_config(self) -> Any:
        from piper import SynthesisConfig

        return SynthesisConfig(length_scale=1.0 / self.settings.speed, volume=self.settings.volume)


def _voice_sample_rate(voice: Path) -> int:
    """Read from the voice's JSON, so the output can be opened before the model is loaded."""
    config_path = voice.with_name(voice.name + ".json")
    try:
        return int(json.loads(config_path.read_text(encoding="utf-8"))["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelNotFound(f"{config_path} has no audio.sample_rate ({exc}); is it a Piper voice config?") from None
