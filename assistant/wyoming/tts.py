"""Text to speech for Wyoming: Piper's audio as ``audio-start``, ``audio-chunk``…, ``audio-stop``.

The first audio waits for one Piper pass, and a pass takes longer the more
audio it makes, so the text is spoken in the chunks the voice loop
speaks: the first clause of a long first sentence on its own ("When you
leave tonight,"), then sentence by sentence, each sent as soon as Piper
finishes it on its worker thread. A whole text (``synthesize``) is cut so at
once; a streamed one (``synthesize-start``/``-chunk``/``-stop``, text arriving
while an LLM writes it) goes through the speech chunker, so each chunk is
spoken once it is complete, while later text is still arriving.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from audio import SpeechChunker, Synthesizer, split_sentences

SAMPLE_WIDTH = 2
CHUNK_SAMPLES = 1024
"""Samples per ``audio-chunk``: about 46 ms of a 22.05 kHz voice, small enough to start playback at once."""


def audio_start(synthesizer: Synthesizer) -> Event:
    return AudioStart(rate=synthesizer.sample_rate, width=SAMPLE_WIDTH, channels=1).event()


def audio_stop() -> Event:
    return AudioStop().event()


def whole_text_chunks(text: str) -> list[str]:
    """A ``synthesize`` text as spoken: its first clause on its own, then sentence by sentence."""
    return split_sentences(text, early_first_chunk=True)


async def speech_chunks(synthesizer: Synthesizer, texts: list[str]) -> AsyncIterator[Event]:
    """``audio-chunk`` events of ``texts`` spoken in order, each as soon as Piper finishes it."""
    step = CHUNK_SAMPLES * SAMPLE_WIDTH
    for text in texts:
        async for chunk in synthesizer.stream(text, in_slices=True):
            pcm = (np.clip(chunk.pcm, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
            for start in range(0, len(pcm), step):
                yield AudioChunk(rate=chunk.sample_rate, width=SAMPLE_WIDTH, channels=1,
                                 audio=pcm[start:start + step]).event()


class StreamingText:
    """Text of one ``synthesize-start`` … ``synthesize-stop``, released as speakable chunks."""

    def __init__(self) -> None:
        self._chunker = SpeechChunker()
        self.started_audio = False

    def feed(self, text: str) -> list[str]:
        return self._chunker.feed(text)

    def finish(self) -> list[str]:
        return self._chunker.flush()
