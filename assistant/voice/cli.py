"""The `listen` and `voice` commands: the voice loop on WAV files, or on the microphone and speaker.

Both build the loop with ``VoiceLoop.from_config``, as the TUI does, so a
latency measured with files is the latency of the loop a person talks to.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..events import TurnEvent, TurnText
from .events import EventSink, Heard, HeardSoFar, Ignored, Interrupted, Latency, Listening, VoiceEvent, WakeWordHeard
from .loop import VoiceLoop
from .models import SpeechModels

if TYPE_CHECKING:
    import numpy as np

    from audio.room import SimulatedRoom

    from ..session import Session


def latency_report(latency: Latency) -> dict[str, Any]:
    """The JSON line of `assistant listen`: what was heard, the reply, and the timeline in ms."""
    report = asdict(latency)
    for key, value in report.items():
        if isinstance(value, float):
            report[key] = round(value, 3 if key == "turn_probability" else 1)
    report["stages_ms"] = round(latency.stages_ms, 1)
    return report


@dataclass(frozen=True)
class EchoPath:
    """How the simulated room carries the speaker back to the microphone (`listen --echo-ir/--echo`)."""

    impulse_response: Path | None = None
    level_db: float | None = None
    delay_ms: float = 40.0

    def response(self) -> np.ndarray | None:
        from audio.room import read_impulse_response, room_impulse_response

        if self.impulse_response is not None:
            return read_impulse_response(self.impulse_response)
        if self.level_db is not None:
            return room_impulse_response(delay_ms=self.delay_ms, level_db=self.level_db)
        return None


async def converse_in_room(
    config: Config, session: Session, models: SpeechModels, room: SimulatedRoom, turns: int,
    on_event: EventSink | None = None,
) -> VoiceLoop:
    """The voice loop in a simulated room until ``turns`` answers were spoken or the room fell quiet."""
    try:
        loop = VoiceLoop.from_config(config, session, models, room.microphone, room.speaker, on_event)
        room.keep_listening = lambda: loop.answering
        await loop.run(max_turns=turns)
    finally:
        await room.speaker.close()
    return loop


async def listen(
    config: Config,
    session: Session,
    input_path: Path,
    output_path: Path,
    echo: EchoPath | None = None,
    turns: int = 1,
    on_line: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Spoken turns from a WAV file, answered into a WAV file on the same clock, in a simulated room.

    One line per utterance heard: a turn's timeline (``turn: true``), or why it
    was not a turn. The models are loaded and warmed before the microphone
    opens, as in the app, so the first turn is a warm turn; ``warmup_ms`` says
    what loading cost.
    """
    from audio.room import SimulatedRoom

    lines: list[dict[str, Any]] = []

    def add(line: dict[str, Any]) -> None:
        lines.append(line)
        if on_line is not None:
            on_line(line)

    def report(event: VoiceEvent | TurnEvent) -> None:
        if isinstance(event, Latency):
            add({"turn": True, **latency_report(event), "warmup_ms": warmup_ms})
        elif isinstance(event, Ignored):
            add({"turn": False, "heard": event.text, "reason": event.reason})

    models = SpeechModels.from_config(config)
    try:
        started = time.perf_counter()
        await models.warm(session)
        warmup_ms = round((time.perf_counter() - started) * 1000, 1)
        trailing = (config.audio.vad.min_silence_ms + 500) / 1000
        room = SimulatedRoom(input_path, output_path, (echo or EchoPath()).response(), trailing_silence=trailing)
        await converse_in_room(config, session, models, room, turns, report)
    finally:
        models.close()
    if not any(line["turn"] for line in lines):
        add({"turn": False, "transcript": "", "reply": "", "first_audio_ms": None, "warmup_ms": warmup_ms,
             "error": "no speech was heard" if not lines else "nothing heard was a turn"})
    return lines


async def voice(config: Config, session: Session) -> int:
    """The voice loop on the real microphone and speaker, printing what it hears and says."""
    from audio import AudioError, SoundDeviceInput, SoundDeviceOutput

    def show(event: VoiceEvent | TurnEvent) -> None:
        if isinstance(event, Listening):
            print(f"(waiting for '{event.wake_word}')" if event.wake_word else "(listening)", flush=True)
        elif isinstance(event, WakeWordHeard):
            print(f"({event.wake_word}: listening)", flush=True)
        elif isinstance(event, HeardSoFar):
            print(f"(hearing: {event.text} …)", flush=True)
        elif isinstance(event, Heard):
            print(f"you> {event.text}\nrosey> ", end="", flush=True)
        elif isinstance(event, TurnText):
            print(event.text, end="", flush=True)
        elif isinstance(event, Interrupted):
            print(" [interrupted]", flush=True)
        elif isinstance(event, Latency):
            first = f"{event.first_audio_ms:.0f} ms" if event.first_audio_ms is not None else "-"
            print(f"\n(first audio {first} after you stopped speaking)", flush=True)

    def loading(name: str, ready: int, total: int) -> None:
        print(f"(loading: {name} ready, {ready} of {total})", flush=True)

    models = SpeechModels.from_config(config)
    try:
        await models.warm(session, loading)
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
