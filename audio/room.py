"""A simulated room: a speaker and a microphone on one clock, the speaker heard through the room.

For tests, benchmarks and anyone without a microphone. The microphone hears
a recording of the person plus everything the speaker played, convolved with
the room's impulse response, in real time: a reply cut off at barge-in is
cut off in the echo too. The speaker writes what it played to a WAV file
whose sample 0 is the moment the microphone started.

    room = SimulatedRoom("question.wav", "reply.wav", small_room(level_db=0))
    loop = VoiceLoop(..., microphone=room.microphone, speaker=room.speaker)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np

from .output import WavFileOutput
from .types import FRAME_SAMPLES, SAMPLE_RATE


def room_impulse_response(
    delay_ms: float = 40.0,
    tail_ms: float = 250.0,
    level_db: float = 0.0,
    reflections: int = 6,
    seed: int = 0,
) -> np.ndarray:
    """A measured-looking room at 16 kHz: direct path after ``delay_ms``, early reflections, a decaying tail.

    ``tail_ms`` is the time the tail takes to fall by 60 dB; ``level_db`` the
    echo's level relative to what was played (0 = as loud). Seeded, so a
    test's room is the same room on every run.
    """
    rng = np.random.default_rng(seed)
    delay = round(delay_ms * SAMPLE_RATE / 1000)
    length = delay + round(tail_ms * SAMPLE_RATE / 1000)
    response = np.zeros(length, np.float64)
    response[delay] = 1.0
    for _ in range(reflections):
        response[delay + round(rng.uniform(2, 30) * SAMPLE_RATE / 1000)] += rng.uniform(-0.5, 0.5)
    tail = np.arange(length - delay) / SAMPLE_RATE
    response[delay:] += rng.standard_normal(length - delay) * np.exp(-6.9 * tail / (tail_ms / 1000)) * 0.2
    response *= 10 ** (level_db / 20) / np.sqrt(np.sum(response**2))
    return response.astype(np.float32)


def read_impulse_response(path: str | Path) -> np.ndarray:
    """A mono impulse response file at 16 kHz; its sample 0 is the instant the sound leaves the speaker."""
    from .stt import read_audio

    return read_audio(Path(path))


class SimulatedRoom:
    """The person's recording and the speaker's echo at one microphone; the speaker recorded to a file.

    The microphone keeps listening after the recording ends while the
    speaker plays or ``keep_listening()`` says an answer is still coming,
    and for ``trailing_silence`` after that, so a last reply and its echo
    are heard to their end.
    """

    def __init__(
        self,
        speech: str | Path | np.ndarray,
        output_path: str | Path,
        impulse_response: np.ndarray | None = None,
        trailing_silence: float = 1.2,
    ) -> None:
        from .stt import read_audio

        self.speech = speech if isinstance(speech, np.ndarray) else read_audio(Path(speech))
        self.impulse_response = impulse_response
        self.trailing_silence = trailing_silence
        self.speaker = WavFileOutput(output_path)
        self.microphone = _RoomMicrophone(self)
        self.keep_listening: Callable[[], bool] = lambda: False


class _RoomMicrophone:
    """Frames of the person plus the echo, paced in real time from the speaker's sample 0."""

    def __init__(self, room: SimulatedRoom) -> None:
        self.room = room
        self._closed = False
        response = room.impulse_response
        self._response = response if response is not None and len(response) else None
        self._fft_size = 1 << int(np.ceil(np.log2(FRAME_SAMPLES + (len(response) if self._response is not None else 1))))
        self._response_spectrum = (
            np.fft.rfft(self._response, self._fft_size) if self._response is not None else None
        )

    async def __aiter__(self) -> AsyncIterator[np.ndarray]:
        room, speaker = self.room, self.room.speaker
        quiet_frames = 0
        index = 0
        while not self._closed:
            start = index * FRAME_SAMPLES
            await asyncio.sleep(max(0.0, speaker.started + (start + FRAME_SAMPLES) / SAMPLE_RATE - time.monotonic()))
            frame = np.zeros(FRAME_SAMPLES, np.float32)
            person = room.speech[start : start + FRAME_SAMPLES]
            frame[: len(person)] = person
            frame += self._echo(start)
            index += 1
            if start >= len(room.speech):
                playing = speaker.far_end.window(speaker.started + start / SAMPLE_RATE, FRAME_SAMPLES).any()
                quiet_frames = 0 if playing or speaker.busy or room.keep_listening() else quiet_frames + 1
                if quiet_frames * FRAME_SAMPLES >= room.trailing_silence * SAMPLE_RATE:
                    break
            yield frame

    def _echo(self, start: int) -> np.ndarray:
        """The room's response to what was played, over the frame starting at stream sample ``start``."""
        if self._response is None or self._response_spectrum is None:
            return np.zeros(FRAME_SAMPLES, np.float32)
        speaker = self.room.speaker
        history = len(self._response) - 1
        played = speaker.far_end.window(speaker.started + (start - history) / SAMPLE_RATE, history + FRAME_SAMPLES)
        if not played.any():
            return np.zeros(FRAME_SAMPLES, np.float32)
        full = np.fft.irfft(np.fft.rfft(played, self._fft_size) * self._response_spectrum, self._fft_size)
        return full[history : history + FRAME_SAMPLES].astype(np.float32)

    async def close(self) -> None:
        self._closed = True
