"""Building the voice loop from config, and the `listen` and `voice` commands on top of it.

The TUI, `assistant voice` (live devices) and `assistant listen` (WAV files)
all build the loop here, so a latency measured with files is the latency of
the loop a person talks to.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config
from .voice import Latency, VoiceLoop

if TYPE_CHECKING:
    from audio import AudioInput, AudioOutput, Synthesizer, Transcriber

    from .session import Session


@dataclass
class Ears:
    """The loaded models the loop needs; loaded once, kept warm."""

    transcriber: Transcriber
    synthesizer: Synthesizer

    @classmethod
    def from_config(cls, config: Config) -> Ears:
        from audio import Synthesizer, Transcriber

        settings = config.audio_settings()
        return cls(Transcriber(settings.stt, cache_dir=settings.cache_dir), Synthesizer(settings.tts))

    async def warm(self, session: Session) -> None:
        """Load Whisper, Piper and the model together, so the first turn is as quick as the rest."""
        loading = [self.transcriber.warm_async(), self.synthesizer.warm_async()]
        load_model = getattr(session.provider, "load", None)
        if load_model is not None:
            loading.append(load_model())
        await asyncio.gather(*loading)

    def close(self) -> None:
        self.transcriber.close()
        self.synthesizer.close()


def voice_loop(
    config: Config,
    session: Session,
    ears: Ears,
    microphone: AudioInput,
    speaker: AudioOutput,
    on_event: Callable[[Any], None] | None = None,
) -> VoiceLoop:
    from audio import Endpointer

    return VoiceLoop(
        session, ears.transcriber, ears.synthesizer, Endpointer(config.audio.vad),
        microphone, speaker, config.voice, on_event,
    )


def latency_report(latency: Latency) -> dict[str, Any]:
    """The JSON line of `assistant listen`: what was heard, the reply, and the timeline in ms."""
    report = asdict(latency)
    for key, value in report.items():
        if isinstance(value, float):
            report[key] = round(value, 1)
    report["stages_ms"] = round(latency.stages_ms, 1)
    return report


async def listen(config: Config, session: Session, input_path: Path, output_path: Path) -> dict[str, Any]:
    """One spoken turn from a WAV file, answered into a WAV file on the same clock."""
    from audio import WavFileInput, WavFileOutput

    ears = Ears.from_config(config)
    try:
        await ears.warm(session)
        trailing = (config.audio.vad.min_silence_ms + 500) / 1000
        microphone = WavFileInput(input_path, realtime=True, trailing_silence=trailing)
        speaker = WavFileOutput(output_path)
        try:
            turns = await voice_loop(config, session, ears, microphone, speaker).run(max_turns=1)
        finally:
            await speaker.close()
    finally:
        ears.close()
    if not turns:
        return {"transcript": "", "reply": "", "first_audio_ms": None, "error": "no speech was heard"}
    return latency_report(turns[0])


async def voice(config: Config, session: Session) -> int:
    """The voice loop on the real microphone and speaker, printing what it hears and says."""
    from audio import AudioError, SoundDeviceInput, SoundDeviceOutput

    from .events import TurnText
    from .voice import Heard, Interrupted, Listening

    def show(event: Any) -> None:
        if isinstance(event, Listening):
            print("(listening)", flush=True)
        elif isinstance(event, Heard):
            print(f"you> {event.text}\nrosey> ", end="", flush=True)
        elif isinstance(event, TurnText):
            print(event.text, end="", flush=True)
        elif isinstance(event, Interrupted):
            print(" [interrupted]", flush=True)
        elif isinstance(event, Latency):
            first = f"{event.first_audio_ms:.0f} ms" if event.first_audio_ms is not None else "-"
            print(f"\n(first audio {first} after you stopped speaking)", flush=True)

    ears = Ears.from_config(config)
    try:
        await ears.warm(session)
        microphone = SoundDeviceInput(config.audio.input_device)
        speaker = SoundDeviceOutput(config.audio.output_device, sample_rate=ears.synthesizer.sample_rate)
        try:
            await voice_loop(config, session, ears, microphone, speaker, show).run()
        finally:
            await microphone.close()
            await speaker.close()
    except AudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        ears.close()
    return 0
