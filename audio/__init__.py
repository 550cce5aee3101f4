"""Ears and mouth: speech recognition, speech synthesis, turn detection, devices, speech chunking.

    transcriber = Transcriber(settings.stt, cache_dir=settings.cache_dir)
    endpointer = Endpointer(settings.vad)
    async for frame in SoundDeviceInput(settings.input_device):
        for event in endpointer.feed(frame):
            if isinstance(event, SpeechEnded):
                text = (await transcriber.transcribe_async(event.pcm)).text

    chunker = SpeechChunker()
    for sentence in chunker.feed(delta):          # as the answer streams in
        async for chunk in synthesizer.stream(sentence):
            await speaker.play(chunk)

Names are imported on first use, so ``import audio`` loads neither numpy nor
faster-whisper, Piper, onnxruntime or sounddevice, and the program starts at
once and runs in text mode where PortAudio is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AudioSettings": "settings", "STTSettings": "settings", "TTSSettings": "settings", "VADSettings": "settings",
    "AudioError": "errors", "AudioUnavailable": "errors", "ModelNotFound": "errors", "AudioFileError": "errors",
    "AudioChunk": "types", "Transcript": "types", "SAMPLE_RATE": "types", "FRAME_SAMPLES": "types",
    "Transcriber": "stt", "read_audio": "stt",
    "Synthesizer": "tts",
    "Endpointer": "vad", "SpeechStarted": "vad", "SpeechPaused": "vad", "SpeechResumed": "vad",
    "SpeechEnded": "vad", "VADEvent": "vad",
    "SpeechChunker": "chunker", "split_sentences": "chunker", "CODE_PLACEHOLDER": "chunker",
    "AudioInput": "devices", "SoundDeviceInput": "devices", "WavFileInput": "devices",
    "portaudio_available": "devices", "PORTAUDIO_MISSING": "devices",
    "AudioOutput": "output", "SoundDeviceOutput": "output", "WavFileOutput": "output", "Playback": "output",
    "transcribe_file": "commands", "say": "commands",
    "check_audio": "doctor", "AudioCheck": "doctor",
}

__all__ = [
    "CODE_PLACEHOLDER",
    "FRAME_SAMPLES",
    "PORTAUDIO_MISSING",
    "SAMPLE_RATE",
    "AudioCheck",
    "AudioChunk",
    "AudioError",
    "AudioFileError",
    "AudioInput",
    "AudioOutput",
    "AudioSettings",
    "AudioUnavailable",
    "Endpointer",
    "ModelNotFound",
    "Playback",
    "STTSettings",
    "SoundDeviceInput",
    "SoundDeviceOutput",
    "SpeechChunker",
    "SpeechEnded",
    "SpeechPaused",
    "SpeechResumed",
    "SpeechStarted",
    "Synthesizer",
    "TTSSettings",
    "Transcriber",
    "Transcript",
    "VADEvent",
    "VADSettings",
    "WavFileInput",
    "WavFileOutput",
    "check_audio",
    "portaudio_available",
    "read_audio",
    "say",
    "split_sentences",
    "transcribe_file",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'audio' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .chunker import CODE_PLACEHOLDER, SpeechChunker, split_sentences
    from .commands import say, transcribe_file
    from .devices import (
        PORTAUDIO_MISSING,
        AudioInput,
        SoundDeviceInput,
        WavFileInput,
        portaudio_available,
    )
    from .doctor import AudioCheck, check_audio
    from .errors import AudioError, AudioFileError, AudioUnavailable, ModelNotFound
    from .output import AudioOutput, Playback, SoundDeviceOutput, WavFileOutput
    from .settings import AudioSettings, STTSettings, TTSSettings, VADSettings
    from .stt import Transcriber, read_audio
    from .tts import Synthesizer
    from .types import FRAME_SAMPLES, SAMPLE_RATE, AudioChunk, Transcript
    from .vad import (
        Endpointer,
        SpeechEnded,
        SpeechPaused,
        SpeechResumed,
        SpeechStarted,
        VADEvent,
    )
