"""Speech material for the audio tests: the reference recording and Piper-made sentences."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from audio.resample import resample
from audio.stt import read_audio
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


def _synthesized(*command: str) -> np.ndarray:
    """What a command-line speech synthesizer writes to the file named ``WAV`` in ``command``."""
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "speech.wav")
        subprocess.run([path if part == "WAV" else part for part in command], check=True)
        return read_audio(path)


def espeak(text: str, voice: str) -> np.ndarray:
    """``text`` in one of espeak-ng's voices (``espeak-ng --voices=en``): speech the project never tuned on."""
    return _synthesized("espeak-ng", "-v", voice, "-w", "WAV", text)


def other_voice(text: str, voice: str) -> np.ndarray:
    """``text`` in an espeak-ng voice; the test is skipped, saying what to install, on a machine without it."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng for voices other than our own: sudo apt-get install espeak-ng")
    return espeak(text, voice)


def flite(text: str, voice: str) -> np.ndarray:
    """``text`` in one of Flite's voices (``flite -lv``; awb, rms and slt are recorded people, kal a diphone voice)."""
    return _synthesized("flite", "-voice", voice, "-t", text, "-o", "WAV")


def with_noise(pcm: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """``pcm`` with seeded white noise at ``snr_db`` below its own power."""
    noise = np.random.default_rng(seed).standard_normal(len(pcm)).astype(np.float32)
    return (pcm + noise * np.sqrt(np.mean(pcm**2) / 10 ** (snr_db / 10))).astype(np.float32)


def pink_noise(seconds: float, level_db: float, seed: int) -> np.ndarray:
    """Room hiss with a 1/f spectrum, like fans and traffic, at ``level_db`` dBFS."""
    rng = np.random.default_rng(seed)
    samples = round(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, samples)
    return (noise / np.sqrt(np.mean(noise**2)) * 10 ** (level_db / 20)).astype(np.float32)


@dataclass(frozen=True)
class Decode:
    """One pass of a Whisper model over an utterance."""

    multilingual: bool
    """True for base, False for tiny.en."""
    confidence: float
    """The lowest mean token log-probability of its segments (0.0 with none)."""


@contextmanager
def whisper_decodes() -> Iterator[list[Decode]]:
    """Every Whisper pass made inside the block, in order: which model listened and how sure it was."""
    from faster_whisper import WhisperModel

    original = WhisperModel.transcribe
    decodes: list[Decode] = []

    def recorded(model: WhisperModel, audio: np.ndarray, *args: object, **kwargs: object) -> tuple:
        segments, info = original(model, audio, *args, **kwargs)
        segments = list(segments)
        confidence = min((segment.avg_logprob for segment in segments), default=0.0)
        decodes.append(Decode(model.model.is_multilingual, confidence))
        return iter(segments), info

    WhisperModel.transcribe = recorded
    try:
        yield decodes
    finally:
        WhisperModel.transcribe = original
