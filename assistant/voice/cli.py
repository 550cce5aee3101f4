"""The `listen` and `voice` commands: the voice loop on WAV files, or on the microphone and speaker.

Both build the loop with ``VoiceLoop.from_config``, as the TUI does, so a
latency measured with files is the latency of the loop a person talks to.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..events import TurnEvent, TurnText
from .events import Heard, Interrupted, Latency, Listening, VoiceEvent
from .loop import VoiceLoop
from .models import SpeechModels

if TYPE_CHECKING:
    from ..session import Session


def latency_report(latency: Latency) -> dict[str, Any]:
    """The JSON line of `assistant listen`: what was heard, the reply, and the timeline in ms."""
    report = asdict(latency)
    for key, value in report.items():
        if isinstance(value, float):
            report[key] = round(value, 1)
    report["stages_ms"] = round(latency.stages_ms, 1)
    return report


async def listen(config: Config, session: Session, input_path: Path, output_path: Path) -> dict[str, Any]:
    """One spoken turn from a WAV file, answered into a WAV file on the same clock.

    The models are loaded and warmed before the microphone opens, as in the app, so
    the turn's latency is a warm turn's; ``warmup_ms`` says what loading cost.
    """
    from audio import WavFileInput, WavFileOutput

    models = SpeechModels.from_config(config)
    try:
        started = time.perf_counter()
        await models.warm(session)
        warmup_ms = round((time.perf_counter() - started) * 1000, 1)
        trailing = (config.audio.vad.min_silence_ms + 500) / 1000
        microphone = WavFileInput(input_path, realtime=True, trailing_silence=trailing)
        speaker = WavFileOutput(output_path)
        try:
            turns = await VoiceLoop.from_config(config, session, models, microphone, speaker).run(max_turns=1)
        finally:
            await speaker.close()
    finally:
        models.close()
    if not turns:
        return {"transcript": "", "reply": "", "first_audio_ms": None, "warmup_ms": warmup_ms,
                "error": "no speech was heard"}
    return {**latency_report(turns[0]), "warmup_ms": warmup_ms}


async def voice(config: Config, session: Session) -> int:
    """The voice loop on the real microphone and speaker, printing what it hears and says."""
    from audio import AudioError, SoundDeviceInput, SoundDeviceOutput

    def show(event: VoiceEvent | TurnEvent) -> None:
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

    models = SpeechModels.from_config(config)
    try:
        await models.warm(session)
        microphone = SoundDeviceInput(config.audio.input_device)
        speaker = SoundDeviceOutput(config.audio.output_device, sample_rate=models.synthesizer.sample_rate)
        try:
            await VoiceLoop.from_config(config, session, models, microphone, speaker, show).run()
        finally:
            await microphone.close()
            await speaker.close()
    except AudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        models.close()
    return 0
