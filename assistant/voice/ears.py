"""The microphone as the voice loop hears it: echo taken out, speech found, barge-in and wake word watched.

    frame ─┬→ EchoCanceller (AEC3, minus what the speaker played) ─┬→ Endpointer → speech events
           │                                                       ├→ wake-word model (wake_word mode)
           │                                       a short pause ──┴→ end-of-turn model: finished?
           └→ EchoResidual (linear) → silero → barge-in watch (while the answer plays)
                          └ its output replaces AEC3's where a voice talks over the echo

Everything downstream sees only echo-cancelled signals, so the assistant's
own voice on laptop speakers neither interrupts it nor becomes a turn.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from audio import Endpointer, SpeechEnded, VADEvent
    from audio.aec import EchoCanceller, EchoReduction, FarEnd
    from audio.doubletalk import EchoResidual
    from audio.settings import TurnSettings
    from audio.turn import TurnDetector
    from audio.vad import SileroVAD
    from audio.wakeword import WakeWordDetector


_REALIGN_MS = 4.0
ASK_AFTER_MS = (0, 100, 300)
"""When the end-of-turn model is asked, after ``audio.turn.silence_ms`` of silence. A finished question
is more often heard as finished a little later (bench/turn_model.py: 85% of synthetic questions at the
first ask, 96% by the third), while each ask costs 80 ms or more of CPU that early transcription needs."""
_AUDIBLE = 1e-7
"""Mean square of an echo estimate below which nothing is playing (about -70 dBFS)."""
_NEAR_END_SHARE = 0.25
"""A voice over the echo leaves at least this share of the echo's energy (-6 dB) after linear cancellation."""
LEARNING_S = 1.5
"""Seconds of echo the cancellers hear before speech that begins over the answer is the person's. In its
first second or so AEC3 leaks syllables of the answer that silero calls speech and Whisper makes words of
("the key home.", "the cap." interrupted answers in CI); the linear canceller is still learning then too,
so nothing tells them apart. Exempting utterances that reach a clear voice (silero peak 0.85) spared 14 of
64 people in bench/echo_replay.py but let a long leak through in CI, so the gate holds for everyone."""
_ECHO_DELAY_S = 0.1
"""How long the speaker's sound takes to reach the microphone, at most (rooms measure 20-80 ms)."""
_BARGE_IN_LEAD_S = 0.5
"""How much earlier than the endpointer the barge-in watch may hear the same voice (AEC3 carves its start)."""
RUN_SPAN = 1.5
"""How many times ``barge_in_ms`` a barge-in run may stretch over frames that were mostly echo. A person's
first word over a loud syllable of the echo has such frames; when they broke the run, it began 512-704 ms
after the person's first sound (median, bench/echo_replay.py, three Piper renderings), against 64-256 ms
now; 2x gave one self-interruption in 360 replays, 1.5x none in 240."""
_REMEMBERED_S = 60.0
"""How far back barge-ins are kept: longer than any utterance."""


@dataclass(slots=True)
class FrameHeard:
    """What one microphone frame brought."""

    events: list[VADEvent] = field(default_factory=list)
    barge_in_at: float | None = None
    """Stream second where speech over the answer began, once it has lasted long enough to stop it."""
    wake_at: float | None = None
    """Stream second where the wake-word model heard its phrase end."""
    turn_finished: bool | None = None
    """The end-of-turn model's answer for the pause in progress, in the frame it arrived."""


class _BargeInWatch:
    """Speech over the answer: frames above the threshold in a row, long enough to mean it."""

    def __init__(self, threshold: float, frames_needed: int) -> None:
        self.threshold = threshold
        self.frames_needed = frames_needed
        self._run_started: float | None = None
        self._run = 0
        self._span = 0

    def frame(self, probability: float | None, at: float, speaking: bool) -> float | None:
        """The run's start when this frame completes one; else None.

        ``probability`` None: the frame was mostly echo and says nothing of a
        person; it neither counts nor breaks the run while the run can still
        complete within ``RUN_SPAN`` times its frames.
        """
        if speaking and probability is None and self._run_started is not None:
            self._span += 1
            if self._span + self.frames_needed - self._run <= RUN_SPAN * self.frames_needed:
                return None
        if not speaking or probability is None or probability < self.threshold:
            self._run_started, self._run, self._span = None, 0, 0
            return None
        if self._run_started is None:
            self._run_started = at
        self._run += 1
        self._span += 1
        if self._run < self.frames_needed:
            return None
        started, self._run_started, self._run, self._span = self._run_started, None, 0, 0
        return started


class Ears:
    """Cleans each microphone frame and reports what was heard in it.

    While the answer plays, a voice over it is judged on the linear
    canceller's output (``audio.doubletalk``): AEC3's residual suppressor,
    good for listening to a quiet room, carves up a voice that talks over an
    echo as loud as it. So frames where the linear canceller leaves much more
    than the echo it expects (someone is talking) go to the endpointer from
    it, and barge-in decides on it. The linear canceller needs the first two
    to four seconds the assistant ever speaks to learn the room; until then
    barge-in waits (speech over the answer still stops it when the utterance
    ends). Speech that begins in the first ``LEARNING_S`` of echo is marked
    ``echo_suspect``: AEC3 leaks words there. Without echo cancellation (headphones) barge-in listens to the
    microphone itself.
    """

    def __init__(
        self,
        endpointer: Endpointer,
        far_end: FarEnd | None,
        canceller: EchoCanceller | None,
        wake_word: WakeWordDetector | None,
        barge_in_threshold: float,
        barge_in_ms: int,
        turn: TurnDetector | None = None,
        turn_settings: TurnSettings | None = None,
    ) -> None:
        from audio import FRAME_SAMPLES, SAMPLE_RATE

        self.endpointer = endpointer
        self.far_end = far_end
        self.canceller = canceller
        self.wake_word = wake_word
        self.turn = turn
        self.turn_settings = turn_settings or (turn.settings if turn is not None else None)
        self._turn_check: asyncio.Task[float] | None = None
        self._asks = 0
        self._turn_probability: float | None = None
        self._rate = SAMPLE_RATE
        self._far_offset: int | None = None
        self._linear: EchoResidual | None = None
        self._linear_vad: SileroVAD | None = None
        if canceller is not None and canceller.settings.enabled:
            from audio.doubletalk import EchoResidual
            from audio.vad import SileroVAD

            self._linear, self._linear_vad = EchoResidual(), SileroVAD()
        self._speech_threshold = endpointer.settings.threshold
        self._echo_spans: deque[list[float]] = deque()
        """Stream seconds [start, end] when the speaker's echo could reach the microphone, while learning."""
        self._echo_heard_s = 0.0
        self._learnt_at: float | None = None
        """Stream second by which the canceller had heard ``LEARNING_S`` of echo."""
        self._barge_ins: deque[float] = deque()
        self._barge_in = _BargeInWatch(barge_in_threshold, max(1, round(barge_in_ms / 1000 * SAMPLE_RATE / FRAME_SAMPLES)))

    async def hear(self, frame: np.ndarray, wall: float, at: float, speaking: bool) -> FrameHeard:
        """One frame that began at stream second ``at`` (monotonic ``wall``); ``speaking``: the answer is playing."""
        heard = FrameHeard()
        far = self._far_window(wall, at, len(frame))
        clean = self._clean(frame, far)
        barge_in_probability: float | None = None
        judged_by_linear = False
        if self._linear is not None and self._linear_vad is not None and far is not None:
            judged_by_linear = True
            residual = self._linear.residual(frame, far)
            barge_in_probability = self._linear_vad.probability(residual)
            if self._voice_over_echo():
                clean = residual  # AEC3 would carve this voice up; the linear residual keeps it whole
            elif not self._linear.converged:
                barge_in_probability = 0.0  # a room not learnt yet
            elif self._linear.echo_energy > 0:
                barge_in_probability = None  # mostly echo (or between its words): no voice heard, none ruled out
        if self.wake_word is not None:
            heard.wake_at = await asyncio.to_thread(self.wake_word.feed, clean)
        learning = self._linear is not None and self._learnt_at is None
        if learning and far is not None and float(far.dot(far)) > _AUDIBLE * len(far):
            played_s = len(frame) / self._rate
            self._echo_heard(at, at + played_s + _ECHO_DELAY_S, played_s)
        if not judged_by_linear:  # no echo cancellation: the microphone is all there is
            barge_in_probability = self.endpointer.probability
        heard.events = self._judge_turn(self.endpointer.feed(clean), heard)
        heard.barge_in_at = self._barge_in.frame(barge_in_probability, at, speaking)
        if heard.barge_in_at is not None:
            self._barge_ins.append(heard.barge_in_at)
            while self._barge_ins[0] < at - _REMEMBERED_S:
                self._barge_ins.popleft()
        heard.events = self._echo_marked(heard.events)
        return heard

    def flush(self) -> list[VADEvent]:
        return self._echo_marked(self._annotated(self.endpointer.flush()))

    def echo_reduction(self) -> EchoReduction | None:
        """The echo removed since the last call (None without echo cancellation)."""
        return self.canceller.reduction() if self.canceller is not None else None

    def close(self) -> None:
        if self._turn_check is not None:
            self._turn_check.cancel()

    def end_turn(self) -> list[VADEvent]:
        """End the turn in progress now: the end-of-turn model and the voice loop agree it is finished."""
        return self._echo_marked(self._annotated(self.endpointer.end_turn()))

    def _echo_heard(self, start: float, end: float, played_s: float) -> None:
        """Echo may reach the microphone from ``start`` to ``end``; kept only until the room is learnt."""
        self._echo_heard_s += played_s
        if self._echo_heard_s >= LEARNING_S:
            self._learnt_at = start
        spans = self._echo_spans
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])

    def _echo_marked(self, events: list[VADEvent]) -> list[VADEvent]:
        """Mark each ``SpeechEnded`` that may be the echo leaking while the cancellers learn the room.

        Speech that begins in the first ``LEARNING_S`` of echo the loop ever
        hears is taken for the echo unless the barge-in watch found a voice in
        it: the leak there would otherwise interrupt the answer with words of
        its own.
        """
        from audio import SpeechEnded

        return [
            dataclasses.replace(event, echo_suspect=True)
            if isinstance(event, SpeechEnded) and self._echo_suspect(event) else event
            for event in events
        ]

    def _echo_suspect(self, event: SpeechEnded) -> bool:
        learning = self._learnt_at is None or event.start < self._learnt_at
        if not learning:
            return False
        began_over_echo = any(start <= event.start < end for start, end in self._echo_spans)
        barged_in = any(event.start - _BARGE_IN_LEAD_S <= at <= event.end for at in self._barge_ins)
        return began_over_echo and not barged_in

    def _judge_turn(self, events: list[VADEvent], heard: FrameHeard) -> list[VADEvent]:
        """Ask the end-of-turn model at a pause, on a worker thread; each answer goes into ``heard``.

        It is asked after ``audio.turn.silence_ms`` of silence and, while it
        says unfinished, twice more (``ASK_AFTER_MS``). Returns ``events``
        with every ``SpeechEnded`` carrying the model's last word on its turn.
        """
        from audio import SpeechEnded

        if self.turn is None or self.turn_settings is None:
            return events
        if any(isinstance(event, SpeechEnded) for event in events):
            if self._turn_check is not None and self._turn_check.done():
                self._turn_probability = self._turn_check.result()
            return self._annotated(events)
        silence_ms = self.endpointer.silence_ms
        if silence_ms == 0.0:
            self._forget_pause()  # speech went on: an answer still coming is about a pause that is over
        elif self._turn_check is not None and self._turn_check.done():
            self._turn_probability = self._turn_check.result()
            self._turn_check = None
            heard.turn_finished = self._said_finished()
        elif self._turn_check is None and self._asks < len(ASK_AFTER_MS) and not self._said_finished() and (
            silence_ms >= self.turn_settings.silence_ms + ASK_AFTER_MS[self._asks]
        ):
            self._asks += 1
            speech = self.endpointer.heard_so_far()
            self._turn_check = asyncio.ensure_future(asyncio.to_thread(self.turn.probability, speech))
        return events

    def _said_finished(self) -> bool:
        assert self.turn_settings is not None
        return self._turn_probability is not None and self._turn_probability >= self.turn_settings.threshold

    def _annotated(self, events: list[VADEvent]) -> list[VADEvent]:
        from audio import SpeechEnded

        if not any(isinstance(event, SpeechEnded) for event in events):
            return events
        probability = self._turn_probability
        self._forget_pause()
        return [
            dataclasses.replace(event, turn_probability=probability) if isinstance(event, SpeechEnded) else event
            for event in events
        ]

    def _forget_pause(self) -> None:
        if self._turn_check is not None:
            self._turn_check.cancel()
        self._turn_check, self._asks, self._turn_probability = None, 0, None

    def _far_window(self, wall: float, at: float, samples: int) -> np.ndarray | None:
        """What played during the frame, aligned to the sample and held there.

        The stream clock's estimate of when the microphone started moves by a
        millisecond now and then; following every such step would shift the
        reference under the adaptive filters, so the alignment is kept until
        it is off by more than ``_REALIGN_MS``.
        """
        if self.far_end is None:
            return None
        stream_index = round(at * self._rate)
        offset = self.far_end.index(wall) - stream_index
        if self._far_offset is None or abs(offset - self._far_offset) > _REALIGN_MS * self._rate / 1000:
            self._far_offset = offset
        return self.far_end.samples(stream_index + self._far_offset, samples)

    def _clean(self, frame: np.ndarray, far: np.ndarray | None) -> np.ndarray:
        if self.canceller is None or far is None:
            return frame
        person_may_speak = self.endpointer.probability >= self._speech_threshold
        return self.canceller.process(frame, far, echo_only=not person_may_speak)

    def _voice_over_echo(self) -> bool:
        """The linear canceller knows the room, and what it left of this frame is more than echo it missed."""
        linear = self._linear
        assert linear is not None
        playing = linear.echo_energy > _AUDIBLE * len(linear.last_block)
        return linear.converged and playing and linear.residual_energy >= _NEAR_END_SHARE * linear.echo_energy
