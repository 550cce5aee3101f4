"""Echo cancellation: take what the speaker played out of what the microphone hears.

On laptop speakers the assistant's own voice comes back through the
microphone as clear speech; without this it would interrupt itself and
transcribe itself. WebRTC's AEC3 (through ``pywebrtc-audio``) subtracts an
adaptive model of the room's echo path, given the *far end*: the audio the
speaker played, on the microphone's clock.

    far_end = FarEnd()                       # the speaker records into it
    canceller = EchoCanceller(settings)
    clean = canceller.process(frame, far_end.window(frame_time, len(frame)))

AEC3 works on 10 ms blocks; frames of any length go in and the same number
of samples come out, under 10 ms later than they went in (the re-blocking
delay: constant, so stream times stay exact to within it).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from .resample import resample
from .settings import AECSettings
from .types import FRAME_SAMPLES, SAMPLE_RATE

_BLOCK = SAMPLE_RATE // 100
"""AEC3 processes 10 ms at a time."""
_KEEP_SECONDS = 10.0
"""How long played audio is kept for a late-asking microphone."""
_DELAY_WINDOW_S = 4.0
"""The most recent echo kept to measure the delay from."""
_MAX_DELAY_S = 0.5
_DIRECT_PATH_SHARE = 0.5
"""The direct path is the first peak at least this strong relative to the strongest (a reflection may be stronger)."""
_SILENT = 1e-7
"""Mean square below which a reference window counts as silence (about -70 dBFS)."""


@dataclass(slots=True)
class _Segment:
    start: int
    """First sample's index on the far end's 16 kHz timeline."""
    pcm: np.ndarray


class FarEnd:
    """What the speaker played, at 16 kHz on the monotonic clock: the echo canceller's reference.

    Speakers call ``played`` from any thread (a sound card's callback
    included) and ``cut`` when they stop early; the microphone side asks
    for the window matching each frame it hears.
    """

    def __init__(self, origin: float = 0.0) -> None:
        self.origin = origin
        self._segments: deque[_Segment] = deque()
        self._lock = threading.Lock()

    def played(self, at: float, pcm: np.ndarray, rate: int) -> None:
        """``pcm`` at ``rate`` leaves the speaker from monotonic time ``at``."""
        audio = resample(pcm, rate, SAMPLE_RATE)
        if not len(audio):
            return
        with self._lock:
            self._segments.append(_Segment(self._index(at), audio))
            horizon = self._segments[-1].start - round(_KEEP_SECONDS * SAMPLE_RATE)
            while self._segments and self._segments[0].start + len(self._segments[0].pcm) < horizon:
                self._segments.popleft()

    def cut(self, at: float) -> None:
        """Nothing scheduled from ``at`` on will be played (the speaker stopped)."""
        index = self._index(at)
        with self._lock:
            kept = [
                _Segment(segment.start, segment.pcm[: max(0, index - segment.start)])
                for segment in self._segments
                if segment.start < index
            ]
            self._segments = deque(kept)

    def window(self, at: float, samples: int) -> np.ndarray:
        """The ``samples`` played from monotonic time ``at`` on (silence where nothing was)."""
        return self.samples(self.index(at), samples)

    def index(self, at: float) -> int:
        """Monotonic time ``at`` as a sample index of this far end's 16 kHz timeline."""
        return self._index(at)

    def samples(self, start: int, samples: int) -> np.ndarray:
        """The ``samples`` played from timeline index ``start`` on (silence where nothing was)."""
        out = np.zeros(samples, np.float32)
        with self._lock:
            for segment in self._segments:
                first = max(start, segment.start)
                last = min(start + samples, segment.start + len(segment.pcm))
                if first < last:
                    out[first - start : last - start] += segment.pcm[first - segment.start : last - segment.start]
        return out

    def _index(self, at: float) -> int:
        return round((at - self.origin) * SAMPLE_RATE)


@dataclass(frozen=True, slots=True)
class EchoReduction:
    """How much echo the canceller removed while the speaker played: ``erle_db`` over ``seconds`` of it."""

    erle_db: float | None
    seconds: float
    delay_ms: float | None
    """How long the speaker's sound took to reach the microphone (the direct path), as measured."""


class EchoCanceller:
    """The microphone minus the speaker's echo (and, if configured, steady noise), frame by frame.

    It keeps adapting across replies, so the room it learnt stays learnt.
    ``reduction()`` reports the echo return loss enhancement (input over
    output energy) of the frames where the speaker played and the
    caller said nobody was talking.
    """

    def __init__(self, settings: AECSettings | None = None) -> None:
        from pywebrtc_audio import AudioProcessor

        self.settings = settings or AECSettings()
        noise = self.settings.noise_suppression
        self._processor = AudioProcessor(
            SAMPLE_RATE,
            echo_cancellation=self.settings.enabled,
            noise_suppression=noise > 0,
            high_pass_filter=True,
            ns_level=max(noise - 1, 0),
        )
        self._near = np.zeros(0, np.float32)
        self._far = np.zeros(0, np.float32)
        self._out = np.zeros(0, np.float32)
        self._primed = False
        self._echo_in = 0.0
        self._echo_out = 0.0
        self._echo_samples = 0
        self._recent: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=round(_DELAY_WINDOW_S * SAMPLE_RATE / FRAME_SAMPLES))

    def process(self, near: np.ndarray, far: np.ndarray, echo_only: bool = True) -> np.ndarray:
        """The cleaned ``near``, as many samples as went in; ``far`` is what played during them.

        ``echo_only=False`` marks a frame where the person may be speaking:
        it is cleaned like any other but left out of the echo figures.
        """
        near = np.asarray(near, np.float32)
        if not self._primed:
            self._primed = True
            self._out = np.zeros(-len(near) % _BLOCK, np.float32)
        self._near = np.concatenate([self._near, near])
        self._far = np.concatenate([self._far, np.asarray(far, np.float32)])
        blocks = len(self._near) // _BLOCK
        cleaned = [self._out]
        for index in range(blocks):
            part = slice(index * _BLOCK, (index + 1) * _BLOCK)
            cleaned.append(self._processor.process(self._near[part], self._far[part]))
        self._near, self._far = self._near[blocks * _BLOCK :], self._far[blocks * _BLOCK :]
        joined = np.concatenate(cleaned)
        frame, self._out = joined[: len(near)], joined[len(near) :]
        if echo_only and float(np.mean(np.square(far))) > _SILENT:
            self._echo_in += float(np.sum(np.square(near)))
            self._echo_out += float(np.sum(np.square(frame)))
            self._echo_samples += len(near)
            self._recent.append((near, np.asarray(far, np.float32)))
        return frame

    def reduction(self) -> EchoReduction:
        """The echo removed since the last call, and start counting afresh."""
        seconds = self._echo_samples / SAMPLE_RATE
        erle = None
        if self.settings.enabled and self._echo_in > _SILENT * self._echo_samples and self._echo_out > 0:
            erle = 10 * float(np.log10(self._echo_in / self._echo_out))
        delay = _echo_delay_ms(self._recent) if self.settings.enabled else None
        self._echo_in = self._echo_out = 0.0
        self._echo_samples = 0
        self._recent.clear()
        return EchoReduction(erle, seconds, delay)


def _echo_delay_ms(recent: deque[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """The lag where what played best matches what the microphone heard.

    The cross-spectrum is whitened (GCC-PHAT): speech correlates with itself
    over whole pitch periods, which would pull a plain correlation's peak away
    from the direct path.
    """
    if not recent:
        return None
    near = np.concatenate([pair[0] for pair in recent])
    far = np.concatenate([pair[1] for pair in recent])
    size = 1 << int(np.ceil(np.log2(2 * len(near))))
    cross = np.fft.rfft(near, size) * np.conj(np.fft.rfft(far, size))
    correlation = np.fft.irfft(cross / np.maximum(np.abs(cross), 1e-12), size)
    lags = np.abs(correlation[: round(_MAX_DELAY_S * SAMPLE_RATE)])
    if not lags.any():
        return None
    direct = int(np.flatnonzero(lags >= _DIRECT_PATH_SHARE * lags.max())[0])  # reflections come later
    return direct * 1000 / SAMPLE_RATE
