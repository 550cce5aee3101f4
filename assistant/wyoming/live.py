"""Transcribing while the audio still arrives, so the transcript is ready soon after ``audio-stop``.

A satellite streams a spoken command in real time and sends ``audio-stop``
only after its own silence detection has waited out the end of speech. Each
time silero hears the speech pause, a Whisper pass over everything so far
starts in the background; at ``audio-stop`` that pass is the answer when no
speech came after the audio it covers, and only otherwise is a whole pass
run then. Every 32 ms frame's speech probability is checked, not just the
endpointer's events, so a short word after the pause is never lost.

Each early pass that finishes while the audio still arrives is also given
out as it is heard (``transcript-chunk``): the words it adds to those
already given, when it agrees with them. Whisper may revise earlier words
once it hears more; the whole ``transcript`` at the end is the one to trust.

Audio that arrives faster than it plays (a client sending a recording it
already has) is not listened to from the moment it runs ahead: early passes
would only keep Whisper busy with passes the end of the audio makes stale,
and silero's per-frame cost would only delay the one whole pass it gets at
``audio-stop``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

from audio import Endpointer, SpeechPaused, Transcriber, Transcript
from audio.settings import VADSettings
from audio.types import FRAME_SAMPLES, SAMPLE_RATE

from .asr import AudioFormat, Recording

LIVE_LEAD_SECONDS = 1.0
"""How far audio may run ahead of the clock and still count as live (network buffers send it in bursts)."""


class LiveTranscription:
    """One recording, heard frame by frame, with Whisper started early at its pauses."""

    def __init__(
        self,
        transcriber: Transcriber,
        recording: Recording,
        vad: VADSettings,
        *,
        language: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``language``: the one the client named (None: the configured one)."""
        self._transcriber = transcriber
        self._language = language
        self._clock = clock
        self._started = clock()
        self.recording = recording
        self._endpointer = Endpointer(vad)
        self._threshold = vad.threshold
        self._unheard = np.zeros(0, np.float32)
        self._heard_samples = 0
        self._ahead_of_clock = False
        self._speech_until = 0
        self._early: asyncio.Task[Transcript] | None = None
        self._early_until = 0
        self._reported: asyncio.Task[Transcript] | None = None
        self._given = ""

    def add(self, chunk_format: AudioFormat, pcm: bytes) -> None:
        """Keep one chunk and listen to it; ``BadAudio`` as ``Recording.add``."""
        self._listen(self.recording.add(chunk_format, pcm))

    async def finish(self) -> tuple[Transcript, bool]:
        """The transcript, and whether the early pass was it (no whole pass after ``audio-stop``)."""
        self._listen(self.recording.flush())
        if self._unheard.size:
            self._listen(np.zeros(FRAME_SAMPLES - self._unheard.size, np.float32))
        if not self._ahead_of_clock and self._early is not None and self._early_until >= self._speech_until:
            return await self._early, True
        self.close()
        return await self._transcriber.transcribe_async(self.recording.audio(), self._language), False

    def new_words(self) -> str | None:
        """The words an early pass finished since the last call heard beyond those given out so far."""
        early = self._early
        if early is None or early is self._reported or not early.done() or early.cancelled() or early.exception():
            return None
        self._reported = early
        return self.words_beyond_given(early.result().text)

    def words_beyond_given(self, text: str) -> str | None:
        """What ``text`` adds to the words given out so far (now given too); None when it adds nothing or
        revises them."""
        if len(text) <= len(self._given) or not text.startswith(self._given):
            return None
        words, self._given = text[len(self._given):], text
        return words

    def close(self) -> None:
        """Forget the early pass (the stream was replaced, or the client left)."""
        if self._early is not None:
            self._early.cancel()
            self._early = None

    def _listen(self, pcm: np.ndarray) -> None:
        self._ahead_of_clock = self._ahead_of_clock or not self._live()
        if self._ahead_of_clock:
            return
        samples = np.concatenate([self._unheard, pcm])
        whole = len(samples) - len(samples) % FRAME_SAMPLES
        self._unheard = samples[whole:]
        for start in range(0, whole, FRAME_SAMPLES):
            events = self._endpointer.feed(samples[start:start + FRAME_SAMPLES])
            self._heard_samples += FRAME_SAMPLES
            if self._endpointer.probability >= self._threshold:
                self._speech_until = self._heard_samples
            if any(isinstance(event, SpeechPaused) for event in events):
                self._start_early()

    def _live(self) -> bool:
        """Whether the audio received so far has come no faster than it plays (give or take network bursts)."""
        return self.recording.samples / SAMPLE_RATE <= self._clock() - self._started + LIVE_LEAD_SECONDS

    def _start_early(self) -> None:
        """A pass over the audio up to now; the earlier one is stale (if Whisper already runs it, it
        finishes unheard, as a decode cannot be stopped half way)."""
        self.close()
        self._early_until = self._heard_samples
        pcm = self.recording.audio()[:self._heard_samples]
        self._early = asyncio.ensure_future(self._transcriber.transcribe_async(pcm, self._language))
