"""When a spoken turn starts and ends: silero VAD over live 32 ms frames.

The endpointer turns a stream of microphone frames into events::

    SpeechStarted   speech confirmed (min_speech_ms of it): the moment to barge in
    SpeechPaused    a short silence (pause_ms): transcription may start early
    SpeechResumed   the speaker went on after a pause: the early transcript is stale
    SpeechEnded     end-of-turn silence (min_silence_ms), or ``end_turn()`` when
                    a model of finished turns ends it sooner: the utterance audio

The utterance keeps ``speech_pad_ms`` of audio from before speech was
detected (the VAD reacts a frame or two late, and Whisper needs the first
syllable's onset) and the same amount, at most ``pause_ms``, after it.
``SpeechEnded.pcm`` is therefore identical to the last ``SpeechPaused.pcm``
when speech did not resume, so a transcript started at the pause is valid.

Silero runs in about 0.05 ms per frame, so ``feed`` is cheap enough to call
on the event loop.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ModelNotFound
from .models import silero_vad_path
from .settings import VADSettings
from .types import FRAME_SAMPLES, SAMPLE_RATE

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
_CONTEXT_SAMPLES = 64
"""Silero looks at the last 64 samples of the previous frame as well."""
_HYSTERESIS = 0.15
"""Speech must fall this far below the threshold to count as silence, as in silero's own segmenter."""


class SileroVAD:
    """Speech probability per 512-sample frame, with the model's state carried from frame to frame."""

    def __init__(self) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        path = silero_vad_path()
        self._session: Any = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs = {tensor.name for tensor in self._session.get_inputs()}
        if inputs != {"input", "h", "c"}:
            raise ModelNotFound(
                f"{path.name} takes inputs {sorted(inputs)}, not the input/h/c of faster-whisper 1.2's "
                "silero model: install faster-whisper>=1.2"
            )
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(_CONTEXT_SAMPLES, np.float32)

    def probability(self, frame: np.ndarray) -> float:
        window = np.concatenate([self._context, frame]).reshape(1, -1)
        output, self._h, self._c = self._session.run(None, {"input": window, "h": self._h, "c": self._c})
        self._context = frame[-_CONTEXT_SAMPLES:]
        return float(np.asarray(output).reshape(-1)[0])


@dataclass(frozen=True)
class SpeechStarted:
    at: float
    """Stream time (seconds since the endpointer began) where the speech begins."""


@dataclass(frozen=True, eq=False)
class SpeechPaused:
    pcm: np.ndarray
    at: float
    """Stream time where the silence began."""


@dataclass(frozen=True)
class SpeechResumed:
    at: float


@dataclass(frozen=True, eq=False)
class SpeechEnded:
    pcm: np.ndarray
    start: float
    end: float
    """Stream time where the speech stopped; the event comes ``min_silence_ms`` later, or sooner by ``end_turn``."""
    by_silence: bool = True
    """False when ``end_turn`` ended it before ``min_silence_ms`` (a model judged the turn finished)."""
    turn_probability: float | None = None
    """The end-of-turn model's probability that the turn was finished, when one was asked."""
    echo_suspect: bool = False
    """It began over the speaker's echo while the echo cancellers were learning the room: most likely their leak."""


VADEvent = SpeechStarted | SpeechPaused | SpeechResumed | SpeechEnded


class Endpointer:
    """Frames of 16 kHz mono float32 in (any length), speech events out."""

    def __init__(self, settings: VADSettings | None = None, vad: SileroVAD | None = None) -> None:
        self.settings = settings or VADSettings()
        self._vad = vad or SileroVAD()
        self._vad.reset()
        self._threshold = self.settings.threshold
        self._silence_below = max(self._threshold - _HYSTERESIS, 0.01)
        self._min_speech = _frames(self.settings.min_speech_ms)
        self._pause = _frames(self.settings.pause_ms)
        self._end = _frames(self.settings.min_silence_ms)
        self._pad_after = min(_frames(self.settings.speech_pad_ms), self._pause)
        self._max_frames = _frames(self.settings.max_speech_s * 1000)
        self._pre_roll: deque[np.ndarray] = deque(maxlen=_frames(self.settings.speech_pad_ms))
        self._leftover = np.zeros(0, np.float32)
        self._frame_index = 0
        self.probability = 0.0
        self._reset_turn()

    def feed(self, pcm: np.ndarray) -> list[VADEvent]:
        samples = np.concatenate([self._leftover, np.asarray(pcm, dtype=np.float32).reshape(-1)])
        whole = len(samples) - len(samples) % FRAME_SAMPLES
        self._leftover = samples[whole:]
        events: list[VADEvent] = []
        for start in range(0, whole, FRAME_SAMPLES):
            events.extend(self._frame(samples[start : start + FRAME_SAMPLES]))
        return events

    def flush(self) -> list[VADEvent]:
        """The input ended: a turn in progress ends here."""
        self._leftover = np.zeros(0, np.float32)
        if not self._speaking:
            self._reset_turn()
            return []
        return [self._finish()]

    @property
    def silence_ms(self) -> float:
        """How long the speaker of a turn in progress has been silent; 0 while they speak or nobody does."""
        if not self._speaking or self._silence_from is None:
            return 0.0
        return (self._frame_index - self._silence_from) * FRAME_SECONDS * 1000

    def heard_so_far(self) -> np.ndarray:
        """The turn in progress with all of the silence after it, as a model of finished turns wants it."""
        return np.concatenate(self._frames) if self._frames else np.zeros(0, np.float32)

    def end_turn(self) -> list[VADEvent]:
        """End the turn now, in the silence after it (its end was judged by something other than silence)."""
        if not self._speaking or self._silence_from is None:
            return []
        return [dataclasses.replace(self._finish(), by_silence=False)]

    def reset(self) -> None:
        """Forget everything heard, e.g. after the assistant's own voice may have leaked into the mic."""
        self._vad.reset()
        self._pre_roll.clear()
        self._leftover = np.zeros(0, np.float32)
        self._reset_turn()

    def _reset_turn(self) -> None:
        self._speaking = False
        self._frames: list[np.ndarray] = []
        self._start_index = 0
        self._voiced = 0
        self._silence_from: int | None = None
        self._paused = False

    def _frame(self, frame: np.ndarray) -> list[VADEvent]:
        index = self._frame_index
        self._frame_index += 1
        self.probability = probability = self._vad.probability(frame)
        is_speech = probability >= self._threshold
        is_silence = probability < self._silence_below
        if not self._frames:
            if not is_speech:
                self._pre_roll.append(frame)
                return []
            self._start_index = index
            self._frames = list(self._pre_roll)
            self._pre_roll.clear()
        self._frames.append(frame)
        if is_speech:
            self._voiced += 1
            resumed = self._paused
            self._silence_from, self._paused = None, False
            if resumed:
                return [SpeechResumed(at=_seconds(index))]
        elif is_silence and self._silence_from is None:
            self._silence_from = index
        if not self._speaking:
            return self._while_unconfirmed(index)
        return self._while_speaking(index)

    def _while_unconfirmed(self, index: int) -> list[VADEvent]:
        if self._silence_from is not None and index + 1 - self._silence_from >= self._pause:
            self._pre_roll.extend(self._frames)
            self._reset_turn()
            return []
        if self._voiced >= self._min_speech:
            self._speaking = True
            return [SpeechStarted(at=_seconds(self._start_index))]
        return []

    def _while_speaking(self, index: int) -> list[VADEvent]:
        if len(self._frames) >= self._max_frames:
            return [self._finish()]
        if self._silence_from is None:
            return []
        silent = index + 1 - self._silence_from
        if silent >= self._end:
            return [self._finish()]
        if silent >= self._pause and not self._paused:
            self._paused = True
            return [SpeechPaused(pcm=self._utterance(), at=_seconds(self._silence_from))]
        return []

    def _finish(self) -> SpeechEnded:
        end_index = self._silence_from if self._silence_from is not None else self._frame_index
        event = SpeechEnded(pcm=self._utterance(), start=_seconds(self._start_index), end=_seconds(end_index))
        ended_in_silence = self._silence_from is not None
        frames = self._frames
        self._reset_turn()
        if ended_in_silence:  # the silence is the next turn's pre-roll; speech cut at max_speech_s is not repeated
            self._pre_roll.extend(frames)
        return event

    def _utterance(self) -> np.ndarray:
        """Pre-roll, speech, and a little of the silence after it."""
        frames = self._frames
        if self._silence_from is not None:
            keep = len(frames) - (self._frame_index - self._silence_from) + self._pad_after
            frames = frames[:keep]
        return np.concatenate(frames) if frames else np.zeros(0, np.float32)


def _frames(milliseconds: float) -> int:
    return math.ceil(milliseconds / 1000 / FRAME_SECONDS)


def _seconds(frame_index: int) -> float:
    return round(frame_index * FRAME_SECONDS, 3)
