"""The app's microphone switch: runs the voice loop and draws what it hears and says.

Spoken turns appear like typed ones (the words heard as the person's
message, the answer streaming under it) plus a latency line per answer:
from the end of speech to the first sound, with the stages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config import Config
from ..events import TurnEvent
from ..session import Session
from ..voice.events import (
    Heard,
    HeardSoFar,
    Hearing,
    Ignored,
    Interrupted,
    Latency,
    Listening,
    Speaking,
    VoiceEvent,
    WakeWordHeard,
)
from .chat_log import ChatLog
from .turn_view import TurnView

if TYPE_CHECKING:
    from audio import AudioInput, AudioOutput

    from ..voice.loop import VoiceLoop
    from ..voice.models import SpeechModels

Devices = Callable[[], "tuple[AudioInput, AudioOutput]"]
"""Opens the microphone and the speaker: the sound card, or WAV files in tests."""


def latency_line(latency: Latency) -> str:
    if latency.first_audio_ms is None:
        return "no audio was played"
    stages = [
        f"waiting for the end of your turn {latency.endpoint_wait_ms:.0f}",
        f"speech to text {latency.stt_ms:.0f}",
    ]
    if latency.ttft_ms is not None:
        stages.append(f"first word {latency.ttft_ms:.0f}")
    if latency.tts_first_ms is not None:
        stages.append(f"first sound made {latency.tts_first_ms:.0f}")
    early = ", started early" if latency.early_start else ""
    return f"🔊 {latency.first_audio_ms:.0f} ms from the end of your speech to the first sound{early} ({' · '.join(stages)} ms)"


class VoiceControl:
    """One microphone session: loads the speech models, runs the voice loop, shows its events in the log.

    It owns the running loop (so push-to-talk goes through it) and the devices
    it opened; the conversation stays the session's. What the assistant is
    doing goes to the app through ``ChatLog.post_status``.
    """

    def __init__(self, chat_log: ChatLog, config: Config, session: Session, devices: Devices | None = None) -> None:
        self.chat_log = chat_log
        self.config = config
        self.session = session
        self.devices = devices or self._sound_devices
        self.loop: VoiceLoop | None = None
        self.models: SpeechModels | None = None
        """Loaded with the first microphone session and kept, so turning the mic on again is instant."""
        self._view: TurnView | None = None

    def _sound_devices(self) -> tuple[AudioInput, AudioOutput]:
        from audio import SoundDeviceInput, SoundDeviceOutput

        audio = self.config.audio
        return SoundDeviceInput(audio.input_device), SoundDeviceOutput(audio.output_device)

    def talk(self) -> bool:
        """Take the next utterance as a turn (push to talk); False when the microphone is off."""
        if self.loop is None:
            return False
        self.loop.arm_push_to_talk()
        return True

    async def run(self) -> None:
        """Listen and answer until cancelled (the mic key again)."""
        from audio import AudioError

        from ..voice.loop import VoiceLoop  # the loop and its models load with the first microphone session
        from ..voice.models import SpeechModels

        self._status("loading voice…")
        if self.models is None:
            self.models = SpeechModels.from_config(self.config)
        models = self.models
        try:
            await models.warm(self.session, self._warm_progress)
            microphone, speaker = self.devices()
            events: asyncio.Queue[VoiceEvent | TurnEvent] = asyncio.Queue()
            self.loop = VoiceLoop.from_config(
                self.config, self.session, models, microphone, speaker, on_event=events.put_nowait
            )
            listening = asyncio.create_task(self.loop.run())
            try:
                while not (listening.done() and events.empty()):
                    getting = asyncio.create_task(events.get())
                    await asyncio.wait({getting, listening}, return_when=asyncio.FIRST_COMPLETED)
                    if getting.done():
                        await self.show(getting.result())
                    else:
                        getting.cancel()
                listening.result()
            finally:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
                await microphone.close()
                await speaker.close()
        except AudioError as exc:
            await self.chat_log.show_error(exc.message)
        finally:
            self.loop = None
            if self._view is not None and self.chat_log.app.is_running:  # the microphone went off mid-answer
                await self._view.finish(note="[interrupted: the microphone was turned off]")
            await self.chat_log.forget_speech_so_far()
            self._status("idle")

    def close(self) -> None:
        """The app is closing: free the speech models."""
        if self.models is not None:
            self.models.close()
            self.models = None

    def _warm_progress(self, name: str, ready: int, total: int) -> None:
        if ready < total:
            self._status(f"loading voice: {ready} of {total} ready ({name})…")

    async def show(self, event: VoiceEvent | TurnEvent) -> None:
        if isinstance(event, Listening):
            self._status(f"waiting for “{event.wake_word}”" if event.wake_word else "listening")
        elif isinstance(event, WakeWordHeard):
            self._status("listening")
            self.chat_log.notify(f"👂 {event.wake_word}", timeout=1.5)
        elif isinstance(event, Hearing):
            self._status("hearing you")
        elif isinstance(event, HeardSoFar):
            await self.chat_log.show_speech_so_far(event.text)
        elif isinstance(event, Heard):
            await self.chat_log.show_user_message(event.text, ["🎤 spoken"])
            self._view = await self.chat_log.start_answer()
        elif isinstance(event, Speaking):
            self._status("speaking")
        elif isinstance(event, Interrupted):
            if self._view is not None:
                await self._view.finish(note=f"[interrupted: you spoke; you heard “{event.spoken}”]")
        elif isinstance(event, Latency):
            if self._view is not None:
                await self._view.finish()
                self._view.answer.add_note(latency_line(event))
            self._status("listening")
        elif isinstance(event, Ignored):
            await self.chat_log.forget_speech_so_far()
            if event.reason not in ("no wake word", "wake word"):  # a room's chatter is not news
                self.chat_log.notify(f"Not taken as a turn ({event.reason}): {event.text}", timeout=3)
        elif self._view is not None:
            await self._view.show(event)

    def _status(self, state: str) -> None:
        self.chat_log.post_status(state=state)
