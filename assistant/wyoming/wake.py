"""Wake words for Wyoming: ``detect`` and an audio stream in, a ``detection`` each time a wake word is heard.

The openWakeWord models cost a few milliseconds of CPU per 80 ms of audio,
so every chunk is scored on a worker thread and the event loop stays free
for the other satellites. A ``WakeWordDetector`` is safe to close while a
worker thread scores with it (it waits for that chunk), so a client that
leaves mid-chunk never frees a model that is still running.
"""

from __future__ import annotations

import asyncio

import numpy as np
from wyoming.wake import Detection, NotDetected

from audio.wakeword import WakeWordDetector

from .asr import AudioConverter, AudioFormat
from .settings import wake_model


class UnknownWakeWord(Exception):
    """A ``detect`` names a wake word this server does not have; the text lists the ones it has."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text
        self.code = "unknown-wake-word"


def wake_models(names: object, default: list[str]) -> list[str]:
    """The bundled models a ``detect``'s ``names`` ask for (``default`` when it names none)."""
    if not names:
        return default
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise TypeError("detect's names must be a list of wake-word names")
    try:
        return list(dict.fromkeys(wake_model(name) for name in names))
    except ValueError as exc:
        raise UnknownWakeWord(str(exc)) from None


class WakeListening:
    """One ``audio-start`` … ``audio-stop`` stream, listened to for the wake words ``detect`` asked for."""

    def __init__(self, converter: AudioConverter, detectors: list[WakeWordDetector]) -> None:
        self._converter = converter
        self._detectors = detectors
        self.detected = False

    @classmethod
    async def start(cls, audio_format: AudioFormat, models: list[str], threshold: float) -> WakeListening:
        """The models loaded on a worker thread (a few ms each)."""
        detectors = await asyncio.to_thread(lambda: [WakeWordDetector(model, threshold) for model in models])
        return cls(AudioConverter(audio_format), detectors)

    async def add(self, chunk_format: AudioFormat, pcm: bytes, timestamp: int | None) -> list[Detection]:
        """The detections this chunk completes; ``timestamp`` is the client's for the chunk (ms), else the
        detection's place in the stream is given. ``BadAudio`` when the chunk is not the stream's format."""
        audio = self._converter.convert(chunk_format, pcm)
        heard = await asyncio.to_thread(self._score, audio)
        self.detected = self.detected or bool(heard)
        return [Detection(name=model, timestamp=timestamp if timestamp is not None else round(seconds * 1000))
                for model, seconds in heard]

    def finish(self) -> NotDetected | None:
        """At ``audio-stop``: ``not-detected`` when no wake word was heard in the whole stream."""
        return None if self.detected else NotDetected()

    def close(self) -> None:
        """Free the models off the event loop: each detector first lets a chunk it is scoring finish."""
        asyncio.get_running_loop().run_in_executor(None, self._close)

    def _score(self, audio: np.ndarray) -> list[tuple[str, float]]:
        heard = ((detector.model, detector.feed(audio)) for detector in self._detectors)
        return [(model, seconds) for model, seconds in heard if seconds is not None]

    def _close(self) -> None:
        for detector in self._detectors:
            detector.close()
