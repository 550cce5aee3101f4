"""Text to speech for Wyoming: Piper's audio as ``audio-start``, ``audio-chunk``…, ``audio-stop``.

Piper speaks one sentence at a time on its worker thread, and each sentence
is sent as soon as it is ready, so a satellite starts playing after the first
sentence rather than after the whole text. The streaming form
(``synthesize-start``/``-chunk``/``-stop``, text arriving while an LLM writes
it) goes through the speech chunker, so each sentence is spoken once it is
complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from audio import SpeechChunker, Synthesizer

SAMPLE_WIDTH = 2
CHUNK_SAMPLES = 1024
"""Samples per ``audio-chunk``: about 46 ms of a 22.05 kHz voice, small enough to start playback at once."""


def audio_start(synthesizer: Synthesizer) -> Event:
    return AudioStart(rate=synthesizer.sample_rate, width=SAMPLE_WIDTH, channels=1).event()


def audio_stop() -> Event:
    return AudioStop().event()


async def speech_chunks(synthesizer: Synthesizer, text: str) -> AsyncIterator[Event]:
    """``audio-chunk`` events of ``text`` spoken, sentence by sentence as Piper finishes each."""
    async for chunk in synthesizer.stream(text):
        pcm = (np.clip(chunk.pcm, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        step = CHUNK_SAMPLES * SAMPLE_WIDTH
        for start in range(0, len(pcm), step):
            yield AudioChunk(rate=chunk.sample_rate, width=SAMPLE_WIDTH, channels=1,
                             audio=pcm[start:start + step]).event()


class StreamingText:
    """Text of one ``synthesize-start`` … ``synthesize-stop``, released as speakable sentences."""

    def __init__(self) -> None:
        self._chunker = SpeechChunker()
        self.started_audio = False

    def feed(self, text: str) -> list[str]:
        return self._chunker.feed(text)

    def finish(self) -> list[str]:
        return self._chunker.flush()
