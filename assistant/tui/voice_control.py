"""The app's microphone switch: runs the voice loop and draws what it hears and says.

Spoken turns appear like typed ones (the words heard as the person's
message, the answer streaming under it) plus a latency line per answer:
from the end of speech to the first sound, with the stages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..voice import Heard, Hearing, Ignored, Interrupted, Latency, Listening, Speaking
from .turn_view import TurnView
from .widgets import UserMessage

if TYPE_CHECKING:
    from audio import AudioInput, AudioOutput

    from .app import AssistantApp

Devices = Callable[[], "tuple[AudioInput, AudioOutput]"]


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
    def __init__(self, app: AssistantApp, devices: Devices | None = None) -> None:
        self.app = app
        self.devices = devices or self._sound_devices
        self.view: TurnView | None = None

    def _sound_devices(self) -> tuple[AudioInput, AudioOutput]:
        from audio import SoundDeviceInput, SoundDeviceOutput

        audio = self.app.config.audio
        return SoundDeviceInput(audio.input_device), SoundDeviceOutput(audio.output_device)

    async def run(self) -> None:
        """Listen and answer until cancelled (the mic key again)."""
        from audio import AudioError

        from ..voice_commands import Ears, voice_loop

        app = self.app
        app.set_status(state="loading voice…")
        ears = Ears.from_config(app.config)
        try:
            await ears.warm(app.session)
            microphone, speaker = self.devices()
            events: asyncio.Queue[Any] = asyncio.Queue()
            loop = voice_loop(app.config, app.session, ears, microphone, speaker, events.put_nowait)
            app.voice_loop = loop
            listening = asyncio.create_task(loop.run())
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
            await app.show_error(exc.message)
        finally:
            app.voice_loop = None
            ears.close()
            if app.is_running:
                app.set_status(state="idle")

    async def show(self, event: Any) -> None:
        app = self.app
        if isinstance(event, Listening):
            app.set_status(state="listening")
        elif isinstance(event, Hearing):
            app.set_status(state="hearing you")
        elif isinstance(event, Heard):
            await app.log_view.mount(UserMessage(event.text, ["🎤 spoken"]))
            self.view = await TurnView.start(app)
            app.set_status(state="thinking")
        elif isinstance(event, Speaking):
            app.set_status(state="speaking")
        elif isinstance(event, Interrupted):
            if self.view is not None:
                await self.view.finish(note=f"[interrupted: you spoke; you heard “{event.spoken}”]")
        elif isinstance(event, Latency):
            if self.view is not None:
                await self.view.finish()
                await self.view.answer.add_note(latency_line(event))
            app.set_status(state="listening")
        elif isinstance(event, Ignored):
            app.notify(f"Not taken as a turn ({event.reason}): {event.text}", timeout=3)
        elif self.view is not None:
            await self.view.show(event)
