"""Speech material for the audio tests: the reference recording and Piper-made sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audio.resample import resample
from audio.tts import Synthesizer
from audio.types import SAMPLE_RATE

JFK_PATH = Path(__file__).resolve().parent / "data" / "jfk.flac"
"""11 s of a public-domain 1961 speech, the clip faster-whisper's own tests use."""
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def spoken(synthesizer: Synthesizer, text: str) -> np.ndarray:
    """``text`` as Piper says it, at the microphone's 16 kHz."""
    pcm = np.concatenate([chunk.pcm for chunk in synthesizer.synthesize(text)])
    return resample(pcm, synthesizer.sample_rate, SAMPLE_RATE)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), np.float32)


def quiet_noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    """Room-like hiss: white noise at ``level`` RMS."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(round(seconds * SAMPLE_RATE)) * level).astype(np.float32)
