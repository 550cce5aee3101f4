"""Speakers: the live one (sounddevice) and a WAV file that records what a speaker would have played.

Both queue ``AudioChunk``s back to back, so a reply synthesized sentence by
sentence plays without gaps, and both know how much of the queued audio
has been heard. That matters at barge-in: the conversation should keep only
the words the user actually heard, which ``stop()`` reports.

The live speaker is one PortAudio output stream of 16-bit samples (the
format every sound card and ALSA plugin takes) fed by a callback from the
queue. When the queue has been empty for ``_IDLE_SECONDS`` the callback
pauses the stream (the next chunk restarts it), so an idle assistant costs
no CPU and a device that consumes audio faster than real time, such as
ALSA's ``file`` plugin in the tests, records only what was played.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .aec import FarEnd
from .devices import open_stream, sounddevice
from .errors import AudioFileError
from .resample import resample
from .types import AudioChunk

_LATENCY = 0.1
"""Seconds of audio PortAudio is asked to hold: little, so that a barge-in silences the voice at once."""
_IDLE_SECONDS = 0.5
"""Silence after which the stream pauses until the next chunk."""


@dataclass(frozen=True)
class Playback:
    """What was heard of the audio queued since the last ``drain()`` or ``stop()``."""

    played_seconds: float
    queued_seconds: float
    spoken_text: str
    """The texts of the chunks heard; a chunk cut off part-way keeps the share of its words that was played."""

    @property
    def interrupted(self) -> bool:
        return self.played_seconds < self.queued_seconds


@runtime_checkable
class AudioOutput(Protocol):
    sample_rate: int | None
    far_end: FarEnd
    """What was played and when: the echo canceller's reference."""

    async def play(self, chunk: AudioChunk) -> None:
        """Queue ``chunk`` after what is already queued; returns at once."""

    async def drain(self) -> Playback:
        """Wait until everything queued has been heard."""

    def stop(self) -> Playback:
        """Cut playback now and drop the rest of the queue."""

    @property
    def played_seconds(self) -> float:
        """Seconds heard of the audio queued since the last ``drain()`` or ``stop()``."""

    async def close(self) -> None: ...


class _SpeechLog:
    """Queued chunks laid end to end, to tell which words a number of heard frames covers."""

    def __init__(self) -> None:
        self._entries: list[list[Any]] = []
        self.frames = 0

    def add(self, text: str, frames: int) -> None:
        if not text and self._entries:
            self._entries[-1][2] += frames  # a continuation piece lengthens its sentence
        else:
            self._entries.append([text, self.frames, self.frames + frames])
        self.frames += frames

    def playback(self, heard: int, rate: int) -> Playback:
        spoken: list[str] = []
        for text, start, end in self._entries:
            if heard >= end:
                spoken.append(text)
            elif heard > start:
                words = text.split()
                spoken.append(" ".join(words[: int(len(words) * (heard - start) / (end - start))]))
        return Playback(
            played_seconds=min(heard, self.frames) / rate,
            queued_seconds=self.frames / rate,
            spoken_text=" ".join(part for part in spoken if part),
        )


class SoundDeviceOutput:
    """The speaker: one output stream, chunks played back to back from a queue."""

    def __init__(self, device: int | str | None = None, sample_rate: int | None = None) -> None:
        self.device = device
        self.sample_rate = sample_rate
        """The stream's rate: the first chunk's unless given; other rates are resampled."""
        self._sd = sounddevice()
        self._stream: Any = None
        self._lock = threading.Lock()
        self._pending: deque[np.ndarray] = deque()
        self._offset = 0
        self._log = _SpeechLog()
        self._handed = 0
        self._clock: tuple[int, float] = (0, 0.0)
        self._idle = 0
        self._pausing = False
        self._restart_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ran_dry = asyncio.Event()
        self.far_end = FarEnd()

    async def play(self, chunk: AudioChunk) -> None:
        self._loop = asyncio.get_running_loop()
        if self._stream is None:
            self._stream = await asyncio.to_thread(self._open, chunk.sample_rate)
        assert self.sample_rate is not None
        pcm = _to_int16(resample(chunk.pcm, chunk.sample_rate, self.sample_rate))
        with self._lock:
            self._pending.append(pcm)
            self._log.add(chunk.text, len(pcm))
            self._idle = 0
            restart = self._pausing or not self._stream.active
            starts_at = self._queued_until(len(pcm))
        self.far_end.played(starts_at, chunk.pcm, chunk.sample_rate)
        self._ran_dry.clear()
        if restart:
            await asyncio.to_thread(self._restart)

    async def drain(self) -> Playback:
        while self._unplayed():
            self._ran_dry.clear()
            if self._unplayed():
                await self._ran_dry.wait()
        if self._stream is not None:
            await asyncio.sleep(self._stream.latency)  # the device still holds this much
        return self._reset(self._log.frames)

    def stop(self) -> Playback:
        heard = self._heard_frames()
        with self._lock:
            self._pending.clear()
            self._offset = 0
        self.far_end.cut(time.monotonic())
        if self._stream is not None and self._stream.active:
            self._stream.abort()  # also drops what the device holds, so the cut is immediate
        self._ran_dry.set()
        return self._reset(heard)

    @property
    def played_seconds(self) -> float:
        return self._heard_frames() / self.sample_rate if self.sample_rate else 0.0

    async def close(self) -> None:
        self.stop()
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _open(self, rate: int) -> Any:
        stream, self.sample_rate = open_stream(
            "output", self.device, self.sample_rate or rate,
            lambda rate: self._sd.OutputStream(
                samplerate=rate, channels=1, dtype="int16", device=self.device,
                latency=_LATENCY, callback=self._fill,
            ),
        )
        return stream

    def _restart(self) -> None:
        """Start the stream again after the callback paused it; waits for the pause to finish first."""
        with self._restart_lock:
            with self._lock:
                running = self._stream.active and not self._pausing
            if running:
                return
            if not self._stream.stopped:
                self._stream.stop()
            with self._lock:
                self._pausing = False
                self._idle = 0
            self._stream.start()

    def _fill(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's callback: the next ``frames`` samples from the queue, then silence."""
        out = outdata[:, 0]
        with self._lock:
            handed_before = self._handed
            filled = 0
            while filled < frames and self._pending:
                head = self._pending[0]
                take = min(len(head) - self._offset, frames - filled)
                out[filled : filled + take] = head[self._offset : self._offset + take]
                filled += take
                self._offset += take
                if self._offset == len(head):
                    self._pending.popleft()
                    self._offset = 0
            out[filled:] = 0
            self._handed += filled
            self._clock = (handed_before, time_info.outputBufferDacTime)
            if filled and not self._pending:
                self._notify_ran_dry()
            self._idle = self._idle + frames - filled if filled < frames else 0
            if self._idle >= _IDLE_SECONDS * (self.sample_rate or 1):
                self._pausing = True
                raise self._sd.CallbackStop

    def _queued_until(self, added: int) -> float:
        """When the last ``added`` frames of the queue will leave the speaker, on the monotonic clock.

        An estimate from the device clock of the last callback; it errs early
        rather than late, which the echo canceller's delay search absorbs.
        """
        rate = self.sample_rate or 1
        ahead = (self._log.frames - added - self._handed) / rate
        stream = self._stream
        if stream is None or not stream.active or self._clock[1] <= 0:
            return time.monotonic() + max(ahead, 0.0)
        before_last, dac_time = self._clock
        dac_wall = time.monotonic() + (dac_time - stream.time)
        return dac_wall + (self._log.frames - added - before_last) / rate

    def _notify_ran_dry(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._ran_dry.set)

    def _unplayed(self) -> bool:
        with self._lock:
            return self._log.frames > self._handed

    def _heard_frames(self) -> int:
        """Frames handed to the device that its clock says have left the speaker."""
        with self._lock:
            handed, (before_last, dac_time) = self._handed, self._clock
        stream, rate = self._stream, self.sample_rate
        if stream is None or not rate:
            return 0
        if not stream.active:
            return handed
        if dac_time <= 0:  # a host API without timing information: assume the device buffer is full
            return max(0, handed - round(stream.latency * rate))
        heard = before_last + (stream.time - dac_time) * rate
        return int(min(max(heard, 0), handed))

    def _reset(self, heard: int) -> Playback:
        with self._lock:
            result = self._log.playback(heard, self.sample_rate or 1)
            self._log = _SpeechLog()
            self._handed = 0
            self._clock = (0, 0.0)
        return result


class WavFileOutput:
    """A speaker that writes to a WAV file what it would have played, and when.

    Sample 0 is the moment the output was created; a chunk starts when it is
    queued or when the one before it ends, whichever is later, with silence
    in between. So a headless run's file shows the assistant's latency.
    Audio still queued at ``close()`` was never heard and is not written.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.sample_rate: int | None = None
        """The first chunk's rate; later chunks are resampled to it."""
        self.started = time.monotonic()
        """The monotonic time of sample 0."""
        self.far_end = FarEnd(origin=self.started)
        self._segments: list[tuple[int, np.ndarray]] = []
        self._end = 0
        self._log = _SpeechLog()
        self._log_segments: list[tuple[int, int]] = []

    async def play(self, chunk: AudioChunk) -> None:
        rate = self.sample_rate = self.sample_rate or chunk.sample_rate
        pcm = resample(chunk.pcm, chunk.sample_rate, rate)
        start = max(self._now(), self._end)
        self._segments.append((start, pcm))
        self.far_end.played(self.started + start / rate, pcm, rate)
        self._log_segments.append((start, len(pcm)))
        self._log.add(chunk.text, len(pcm))
        self._end = start + len(pcm)

    async def drain(self) -> Playback:
        if self.sample_rate:
            await asyncio.sleep(max(0.0, (self._end - self._now()) / self.sample_rate))
        return self._reset(self._log.frames)

    def stop(self) -> Playback:
        now = self._now()
        heard = self._heard_frames(now)
        if self.sample_rate:
            self.far_end.cut(self.started + now / self.sample_rate)
        self._segments = [(start, pcm[: now - start]) for start, pcm in self._segments if start < now]
        self._end = min(self._end, now)
        return self._reset(heard)

    @property
    def played_seconds(self) -> float:
        return self._heard_frames(self._now()) / self.sample_rate if self.sample_rate else 0.0

    @property
    def busy(self) -> bool:
        """Audio is queued that has not been played yet."""
        return self._end > self._now()

    async def close(self) -> None:
        import soundfile

        self.stop()
        rate = self.sample_rate or 16_000
        audio = np.zeros(max((start + len(pcm) for start, pcm in self._segments), default=0), np.float32)
        for start, pcm in self._segments:
            audio[start : start + len(pcm)] = pcm
        try:
            soundfile.write(str(self.path), audio, rate, subtype="PCM_16")
        except (OSError, RuntimeError) as exc:
            raise AudioFileError(f"cannot write {self.path}: {exc}") from None

    def _now(self) -> int:
        return round((time.monotonic() - self.started) * (self.sample_rate or 0))

    def _heard_frames(self, now: int) -> int:
        return sum(min(max(now - start, 0), length) for start, length in self._log_segments)

    def _reset(self, heard: int) -> Playback:
        result = self._log.playback(heard, self.sample_rate or 1)
        self._log = _SpeechLog()
        self._log_segments = []
        return result


def _to_int16(pcm: np.ndarray) -> np.ndarray:
    return (np.clip(pcm, -1.0, 1.0) * 32767).astype(np.int16)
