"""What ``assistant transcribe`` and ``assistant say`` do; the CLI only parses arguments and prints."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from .settings import AudioSettings
from .types import Transcript

if TYPE_CHECKING:
    from .tts import Synthesizer


def transcribe_file(path: str | Path, settings: AudioSettings | None = None) -> Transcript:
    """A wav, flac, mp3 (anything FFmpeg reads) to text with the configured Whisper model."""
    from .stt import Transcriber

    settings = settings or AudioSettings()
    transcriber = Transcriber(settings.stt, cache_dir=settings.cache_dir)
    try:
        return transcriber.transcribe_file(path)
    finally:
        transcriber.close()


async def say(text: str, settings: AudioSettings | None = None, output: str | Path | None = None) -> float:
    """Speak ``text`` on the speaker, or into the WAV file ``output``; returns the seconds of speech.

    On the speaker, the first sentence plays while the next ones are synthesized.
    """
    from .tts import Synthesizer

    settings = settings or AudioSettings()
    synthesizer = Synthesizer(settings.tts)
    try:
        if output is not None:
            return await asyncio.to_thread(synthesizer.write_wav, text, output)
        return await _play(synthesizer, text, settings)
    finally:
        synthesizer.close()


async def _play(synthesizer: Synthesizer, text: str, settings: AudioSettings) -> float:
    from .output import SoundDeviceOutput

    speaker = SoundDeviceOutput(settings.output_device, sample_rate=synthesizer.sample_rate)
    try:
        async for chunk in synthesizer.stream(text):
            await speaker.play(chunk)
        return (await speaker.drain()).played_seconds
    finally:
        await speaker.close()
