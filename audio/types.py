"""Values that cross between the audio parts and the program."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000
"""What the microphone side runs at: Whisper and silero both want 16 kHz mono."""

FRAME_SAMPLES = 512
"""One microphone frame: 32 ms at 16 kHz, the window silero VAD is trained on."""


@dataclass(frozen=True, eq=False)
class AudioChunk:
    """Mono float32 audio in [-1, 1] and the text it says.

    ``text`` is empty for a continuation piece when the synthesizer had to
    cut one sentence into several pieces; the first piece carries the text.
    """

    pcm: np.ndarray
    sample_rate: int
    text: str = ""

    @property
    def seconds(self) -> float:
        return len(self.pcm) / self.sample_rate


@dataclass(frozen=True)
class Transcript:
    """What Whisper heard, and how long it took."""

    text: str
    audio_seconds: float
    seconds: float
    """Wall-clock time the transcription took."""
    language: str = "en"
    dropped: str = ""
    """Why a heard text was thrown away (a known hallucination on silence or noise); empty if kept."""
    model: str = ""
    """The Whisper model whose words these are (``audio.stt.fallback_model`` when it was surer)."""
