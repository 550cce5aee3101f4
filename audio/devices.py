"""Microphones: the live one (sounddevice) and a WAV file standing in for it.

Both yield mono float32 frames of ``FRAME_SAMPLES`` (32 ms) at 16 kHz, the
shape the endpointer and Whisper want, whatever the device or file offers.

Devices are opened with 16-bit samples, the format every sound card and
ALSA plugin takes (the tests' raw files are 16-bit too). The live
microphone is read with blocking reads on a thread of its own, not
with a PortAudio callback: the reader waits when the program falls behind
(a real device then reports an overflow after a couple of seconds), so a
device that delivers audio faster than real time, such as ALSA's ``file``
plugin in the tests, cannot flood memory.

sounddevice needs the PortAudio library; without it ``AudioUnavailable``
says how to install it, and the program keeps working in text mode.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import AudioUnavailable
from .resample import StreamResampler
from .types import FRAME_SAMPLES, SAMPLE_RATE

PORTAUDIO_MISSING = (
    "PortAudio is missing: sudo apt-get install libportaudio2 (macOS: brew install portaudio); "
    "voice is off, typing still works"
)
_BUFFER_SECONDS = 2.0
"""How far the program may fall behind the microphone before the reader waits for it."""
_log = logging.getLogger(__name__)


@runtime_checkable
class AudioInput(Protocol):
    """Frames of 16 kHz mono float32, ``FRAME_SAMPLES`` long, as long as the input lasts."""

    def __aiter__(self) -> AsyncIterator[np.ndarray]: ...

    async def close(self) -> None: ...


def sounddevice() -> ModuleType:
    """The sounddevice module, or ``AudioUnavailable`` with the fix when PortAudio is missing."""
    try:
        import sounddevice
    except OSError:
        raise AudioUnavailable(PORTAUDIO_MISSING) from None
    return sounddevice


def portaudio_available() -> bool:
    try:
        sounddevice()
    except AudioUnavailable:
        return False
    return True


def _device_error(kind: str, device: int | str | None, exc: Exception) -> AudioUnavailable:
    which = f"'{device}'" if device is not None else "the default device"
    return AudioUnavailable(
        f"cannot open {which} for {kind}: {exc}. "
        f"List devices with `python -m sounddevice` and set audio.{kind}_device in config.yaml"
    )


def open_stream(kind: str, device: int | str | None, rate: int, make: Callable[[int], Any]) -> tuple[Any, int]:
    """``make(rate)``, or ``make`` at the device's own rate if the device refuses ``rate``; and that rate.

    Many sound cards take only 44.1 or 48 kHz: the caller resamples to and from the rate it gets.
    """
    sd = sounddevice()
    try:
        rates = dict.fromkeys([rate, int(sd.query_devices(device, kind)["default_samplerate"])])
    except (ValueError, sd.PortAudioError) as exc:
        raise _device_error(kind, device, exc) from None
    error: Exception = RuntimeError("no sample rate accepted")
    for candidate in rates:
        try:
            return make(candidate), candidate
        except (sd.PortAudioError, ValueError) as exc:
            error = exc
    raise _device_error(kind, device, error)


class SoundDeviceInput:
    """The microphone, read on its own thread; iterate once."""

    def __init__(self, device: int | str | None = None) -> None:
        self.device = device
        self._sd = sounddevice()
        self._slots = threading.Semaphore(round(_BUFFER_SECONDS * SAMPLE_RATE / FRAME_SAMPLES))
        self._stop = threading.Event()
        self._queue: asyncio.Queue[np.ndarray | BaseException] | None = None
        self._thread: threading.Thread | None = None
        self.overflows = 0
        """How many times frames were lost because the program did not read them in time."""

    async def __aiter__(self) -> AsyncIterator[np.ndarray]:
        loop = asyncio.get_running_loop()
        self._queue = queue = asyncio.Queue()
        opened: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(target=self._read, args=(loop, opened), name="microphone", daemon=True)
        self._thread.start()
        await opened
        try:
            while True:
                item = await queue.get()
                self._slots.release()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await self.close()

    async def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)

    def _read(self, loop: asyncio.AbstractEventLoop, opened: asyncio.Future[None]) -> None:
        try:
            stream, rate = self._open()
        except AudioUnavailable as exc:
            loop.call_soon_threadsafe(opened.set_exception, exc)
            return
        loop.call_soon_threadsafe(opened.set_result, None)
        try:
            self._pump(loop, stream, rate)
        except Exception as exc:  # noqa: BLE001 - whatever stops the reader must reach the program
            self._deliver(loop, AudioUnavailable(f"the microphone stopped: {exc}"))
        finally:
            stream.close()

    def _pump(self, loop: asyncio.AbstractEventLoop, stream: Any, rate: int) -> None:
        resampler = StreamResampler(rate, SAMPLE_RATE) if rate != SAMPLE_RATE else None
        blocksize = round(FRAME_SAMPLES * rate / SAMPLE_RATE)
        held = np.zeros(0, np.float32)
        while not self._stop.is_set():
            data, overflowed = stream.read(blocksize)
            if overflowed:
                self.overflows += 1
                _log.warning("microphone overflow: the program fell behind and lost audio")
            samples = data[:, 0].astype(np.float32) / 32768.0
            held = np.concatenate([held, resampler.convert(samples) if resampler else samples])
            while len(held) >= FRAME_SAMPLES and not self._stop.is_set():
                frame, held = held[:FRAME_SAMPLES].copy(), held[FRAME_SAMPLES:]
                self._deliver(loop, frame)

    def _deliver(self, loop: asyncio.AbstractEventLoop, item: np.ndarray | BaseException) -> None:
        """Hand one frame to the event loop, waiting while the loop is ``_BUFFER_SECONDS`` behind."""
        while not self._slots.acquire(timeout=0.1):
            if self._stop.is_set():
                return
        assert self._queue is not None
        loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _open(self) -> tuple[Any, int]:
        """A started stream at 16 kHz, or at the device's own rate (resampled here) if it refuses 16 kHz."""
        sd = self._sd
        stream, rate = open_stream(
            "input", self.device, SAMPLE_RATE,
            lambda rate: sd.InputStream(
                samplerate=rate, channels=1, dtype="int16", device=self.device,
                blocksize=round(FRAME_SAMPLES * rate / SAMPLE_RATE),
            ),
        )
        try:
            stream.start()
        except sd.PortAudioError as exc:
            stream.close()
            raise _device_error("input", self.device, exc) from None
        return stream, rate


class WavFileInput:
    """A recording as the microphone: for headless runs, tests and benchmarks.

    ``realtime=True`` paces the frames as a microphone would, so latencies
    measured downstream are those a speaker would see; ``trailing_silence``
    seconds of silence let an endpointer notice that the last turn ended.
    """

    def __init__(self, path: str | Path, realtime: bool = False, trailing_silence: float = 0.0) -> None:
        from .stt import read_audio

        self.path = Path(path)
        audio = read_audio(self.path)
        padding = round(trailing_silence * SAMPLE_RATE)
        padding += -(len(audio) + padding) % FRAME_SAMPLES
        self.pcm = np.concatenate([audio, np.zeros(padding, np.float32)])
        self.realtime = realtime
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[np.ndarray]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for index, start in enumerate(range(0, len(self.pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES)):
            if self._closed:
                return
            if self.realtime:
                await asyncio.sleep(max(0.0, started + (index + 1) * FRAME_SAMPLES / SAMPLE_RATE - loop.time()))
            yield self.pcm[start : start + FRAME_SAMPLES]

    async def close(self) -> None:
        self._closed = True
