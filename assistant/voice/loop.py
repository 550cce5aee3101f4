"""The voice loop: listen, answer out loud while the answer is still being written, yield to the person.

    microphone → Endpointer → Transcriber → Session.run_turn → SpeechChunker → Synthesizer → speaker

Everything streams: the first sentence is spoken while the model writes the
second. Two things make it feel quick and polite:

* **Early start.** When the person pauses (``SpeechPaused``), the utterance
  so far is transcribed and answered at once, behind a closed gate: nothing
  is shown, saved or played. If the pause turns out to be the end of the
  turn, the gate opens and the answer is already under way; if they go on
  speaking, the early work is thrown away.
* **Barge-in.** Speech from the person while the assistant talks stops the
  speaker, the model and the synthesizer; the conversation keeps only the
  words that were actually heard, marked as interrupted, and what the person
  says becomes the next turn. Input that repeats the assistant's own recent
  words (its voice leaking into the microphone) is ignored.

The microphone is heard through ``Ears``: the speaker's echo is cancelled
before anything listens, so on laptop speakers the loop neither interrupts
nor answers itself. In ``wake_word`` mode a ``WakeGate`` decides which
utterances are turns and takes the wake word off them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from ..config import Config
from ..events import TurnDone, TurnError, TurnEvent, TurnText
from .ears import Ears
from .echo_guard import EchoGuard
from .end_of_turn import words_may_end_turn
from .events import (
    EventSink,
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
from .models import SpeechModels
from .settings import VoiceSettings
from .stream_clock import StreamClock
from .wake import WakeGate

if TYPE_CHECKING:
    import numpy as np

    from audio import AudioInput, AudioOutput, SpeechEnded, Synthesizer, Transcriber, Transcript, VADEvent

    from ..session import Session


class _Reply:
    """One spoken answer: model → chunker → synthesizer → speaker, held behind a gate until committed.

    Until ``commit()`` the answer is a tentative turn: its messages are held by
    the orchestrator, its events here, its audio waits at the gate;
    ``discard()`` throws all of it away.
    """

    def __init__(self, loop: VoiceLoop, text: str, latency: Latency) -> None:
        from audio import SpeechChunker

        self.loop = loop
        self.latency = latency
        limit_ms = loop.settings.first_chunk_limit_ms
        self.chunker = SpeechChunker(first_chunk_limit=limit_ms / 1000 if limit_ms else None)
        self.gate = asyncio.Event()
        self.pending_events: list[TurnEvent] = []
        self.spoken_parts: list[str] = []
        self.first_audio_at: float | None = None
        self.speech_end: float | None = None
        self.answered = False
        self.done = False
        self.turn = loop.session.tentative_turn(text, spoken=lambda: " ".join(self.spoken_parts))
        self.started = time.monotonic()
        self.task = asyncio.create_task(self._run())

    @property
    def committed(self) -> bool:
        return self.gate.is_set()

    @property
    def speaking(self) -> bool:
        return self.first_audio_at is not None and not self.done

    def commit(self) -> None:
        """The person's turn really ended: this is the answer; show, save and play it."""
        self.turn.commit()
        for event in self.pending_events:
            self.loop.emit(event)
        self.pending_events.clear()
        self.gate.set()

    async def discard(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def interrupt(self, speech_began: float | None = None) -> str:
        """Stop talking now; returns what was heard, which is all the conversation keeps.

        ``speech_began`` is the monotonic time the person's interrupting speech began.
        """
        playback = self.loop.speaker.stop()
        if speech_began is not None and self.speaking:
            self.latency.barge_in_ms = (time.monotonic() - speech_began) * 1000
        self.latency.interrupted = True  # before the task ends: its end counts only uninterrupted turns
        heard = playback.spoken_text
        self.spoken_parts = [heard] if heard else []
        answered = self.answered
        if not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if answered and self.committed:
            self.loop.session.amend_last_answer(heard)
        return heard

    def _emit(self, event: TurnEvent) -> None:
        if self.committed:
            self.loop.emit(event)
        else:
            self.pending_events.append(event)

    async def _run(self) -> None:
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        speaker = asyncio.create_task(self._speak(sentences))
        first_token_at: float | None = None
        try:
            async for event in self.turn.events:
                self._emit(event)
                if isinstance(event, TurnText):
                    if first_token_at is None:
                        first_token_at = time.monotonic()
                        self.latency.ttft_ms = (first_token_at - self.started) * 1000
                    for chunk in self.chunker.feed(event.text):
                        self._first_chunk(first_token_at)
                        sentences.put_nowait(chunk)
                elif isinstance(event, TurnDone):
                    self.answered = True
                    self.latency.reply = event.text
                elif isinstance(event, TurnError):
                    self.answered = True
                    sentences.put_nowait(f"Sorry, {event.message}")
            for chunk in self.chunker.flush():
                self._first_chunk(first_token_at or time.monotonic())
                sentences.put_nowait(chunk)
            sentences.put_nowait(None)
            await speaker
        finally:
            speaker.cancel()
            self.done = True
            if self.committed:
                self.loop.reply_finished(self)

    def _first_chunk(self, first_token_at: float) -> None:
        if self.latency.first_chunk_ms is None:
            self.latency.first_chunk_ms = (time.monotonic() - first_token_at) * 1000

    async def _speak(self, sentences: asyncio.Queue[str | None]) -> None:
        loop = self.loop
        while (sentence := await sentences.get()) is not None:
            synthesis_started = time.monotonic()
            async for audio in loop.synthesizer.stream(sentence):
                if self.latency.tts_first_ms is None:
                    self.latency.tts_first_ms = (time.monotonic() - synthesis_started) * 1000
                await self.gate.wait()
                if self.first_audio_at is None:
                    self.first_audio_at = time.monotonic()
                    loop.first_audio(self)
                await loop.speaker.play(audio)
                if audio.text:
                    self.spoken_parts.append(audio.text)
                    loop.echo.said(audio.text)
        playback = await loop.speaker.drain()
        self.spoken_parts = [playback.spoken_text] if playback.spoken_text else self.spoken_parts


@dataclass(frozen=True, slots=True)
class _EarlyStart:
    """An answer begun at a pause, for the utterance of ``samples`` samples heard until then."""

    task: asyncio.Task[tuple[_Reply | None, Transcript]]
    samples: int


class VoiceLoop:
    """Turns of speech in, spoken answers out, over any microphone and speaker.

    It owns the turn-taking: when an utterance is a turn, when an answer starts,
    when the person's speech stops it. The conversation belongs to the
    ``Session`` (the loop only asks it for turns), the models to ``SpeechModels``,
    and the devices to whoever opened them; the loop never draws anything and
    reports through ``on_event``.
    """

    def __init__(
        self,
        session: Session,
        transcriber: Transcriber,
        synthesizer: Synthesizer,
        ears: Ears,
        microphone: AudioInput,
        speaker: AudioOutput,
        settings: VoiceSettings | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        self.session = session
        self.transcriber = transcriber
        self.synthesizer = synthesizer
        self.ears = ears
        self.microphone = microphone
        self.speaker = speaker
        self.settings = settings or VoiceSettings()
        self.on_event = on_event
        self.echo = EchoGuard(self.settings.echo_overlap)
        self.wake = WakeGate(self.settings)
        self.clock = StreamClock()
        self.reply: _Reply | None = None
        self.turns: list[Latency] = []
        self.talk_armed = False
        self._early: _EarlyStart | None = None
        self._turn_finished = False
        """The end-of-turn model called the pause in progress the end of the turn."""
        self._utterances_ended = 0
        self._shown_so_far = 0
        """Samples of the utterance in progress whose transcript was last shown as ``HeardSoFar``."""
        self._utterance_start = 0.0
        self._max_turns: int | None = None
        self._enough = asyncio.Event()
        self.early_discarded = 0
        """Answers begun during a pause and thrown away because the person went on speaking."""

    @classmethod
    def from_config(
        cls,
        config: Config,
        session: Session,
        models: SpeechModels,
        microphone: AudioInput,
        speaker: AudioOutput,
        on_event: EventSink | None = None,
    ) -> VoiceLoop:
        """The loop every face uses (the TUI, `assistant voice`, `assistant listen`), so they behave alike."""
        from audio import Endpointer
        from audio.aec import EchoCanceller
        from audio.settings import WAKE_WORD_MODELS

        voice, aec, turn = config.voice, config.audio.aec, config.audio.turn
        canceller = EchoCanceller(aec) if aec.enabled or aec.noise_suppression else None
        wake_model = voice.mode == "wake_word" and voice.wake_word in WAKE_WORD_MODELS
        ears = Ears(
            Endpointer(config.audio.vad), speaker.far_end, canceller,
            models.wake_word_detector(voice.wake_word, voice.wake_threshold) if wake_model else None,
            voice.barge_in_threshold, voice.barge_in_ms,
            models.turn_detector() if turn.enabled else None, turn,
        )
        return cls(session, models.transcriber, models.synthesizer, ears, microphone, speaker, voice, on_event)

    @property
    def answering(self) -> bool:
        """An answer is being written or spoken."""
        return self.reply is not None and not self.reply.task.done()

    def emit(self, event: VoiceEvent | TurnEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def arm_push_to_talk(self) -> None:
        """In push-to-talk mode, take the next utterance as a turn."""
        self.talk_armed = True

    async def run(self, max_turns: int | None = None) -> list[Latency]:
        """Listen until the microphone ends, or until ``max_turns`` answers were spoken to the end.

        Returns each turn's timeline.
        """
        self._max_turns = max_turns
        self._enough = asyncio.Event()
        self._listening()
        reader = asyncio.create_task(self._listen())
        enough = asyncio.create_task(self._enough.wait())
        try:
            await asyncio.wait({reader, enough}, return_when=asyncio.FIRST_COMPLETED)
            if self.reply is not None:
                await asyncio.wait({self.reply.task})  # the answer under way is finished, even if the mic died
            if reader.done():
                reader.result()
        finally:
            for task in (reader, enough):
                task.cancel()
            await asyncio.gather(reader, enough, return_exceptions=True)
            await self._drop_early()
            if self.reply is not None and not self.reply.task.done():
                await self.reply.discard()
            self.ears.close()
        return self.turns

    def _listening(self) -> None:
        waiting = self.wake.waiting(self.clock.heard)
        self.emit(Listening(self.wake.phrase if waiting else None))

    async def _listen(self) -> None:
        from audio import SAMPLE_RATE

        async for frame in self.microphone:
            self.clock.frame_arrived(len(frame), SAMPLE_RATE)
            at = (self.clock.samples - len(frame)) / SAMPLE_RATE
            reply = self.reply
            speaking = reply is not None and reply.speaking and self.settings.barge_in
            heard = await self.ears.hear(frame, self.clock.wall(at), at, speaking)
            if heard.wake_at is not None:
                self.wake.detected(heard.wake_at)
                self.emit(WakeWordHeard(self.wake.phrase))
            if heard.barge_in_at is not None and reply is not None and reply.speaking:
                spoken = await reply.interrupt(self.clock.wall(heard.barge_in_at))
                self.emit(Interrupted(spoken))
            for event in heard.events:
                await self._on_vad(event)
            if heard.turn_finished is not None:
                self._turn_finished = heard.turn_finished
            if self._turn_finished and words_may_end_turn(self._early.task if self._early else None):
                for event in self.ears.end_turn():
                    await self._on_vad(event)
        for event in self.ears.flush():
            await self._on_vad(event)

    def reply_finished(self, reply: _Reply) -> None:
        """A committed answer ended, spoken to its end or interrupted."""
        reduction = self.ears.echo_reduction()
        if reduction is not None and reduction.erle_db is not None:
            reply.latency.erle_db = round(reduction.erle_db, 1)
            reply.latency.echo_delay_ms = reduction.delay_ms
        self.wake.reply_ended(self.clock.heard)
        self.emit(reply.latency)
        answered = [turn for turn in self.turns if not turn.interrupted]
        if self._max_turns is not None and len(answered) >= self._max_turns:
            self._enough.set()

    async def _on_vad(self, event: VADEvent) -> None:
        from audio import SpeechEnded, SpeechPaused, SpeechResumed, SpeechStarted

        if not isinstance(event, SpeechPaused):
            self._turn_finished = False  # the model's word was on a pause that is over
        if isinstance(event, SpeechStarted):
            self._utterance_start = event.at
            await self._speech_started()
        elif isinstance(event, SpeechPaused):
            if self.settings.early_start and self._takes_turn():
                answer = self._answer(event.pcm, early=True, start=self._utterance_start, end=event.at)
                self._early = _EarlyStart(asyncio.create_task(answer), len(event.pcm))
        elif isinstance(event, SpeechResumed):
            await self._drop_early()
        elif isinstance(event, SpeechEnded):
            await self._speech_ended(event)

    def _takes_turn(self) -> bool:
        return self.settings.mode != "push_to_talk" or self.talk_armed

    async def _speech_started(self) -> None:
        self.emit(Hearing())
        reply = self.reply
        if reply is None or reply.task.done() or not self.settings.barge_in or reply.speaking:
            return  # over a spoken answer, the barge-in watch decides (on the echo-free signal)
        spoken = await reply.interrupt()
        self.emit(Interrupted(spoken))

    async def _answer(self, pcm: np.ndarray, early: bool, start: float, end: float) -> tuple[_Reply | None, Transcript]:
        """Transcribe an utterance and start answering it behind the gate; no reply when it is not a turn."""
        transcribing = asyncio.ensure_future(self.transcriber.transcribe_async(pcm))
        if early:
            transcribing.add_done_callback(partial(self._heard_so_far, self._utterances_ended, len(pcm)))
        transcript = await asyncio.shield(transcribing)  # a resumed utterance still shows its words so far
        return self._reply_to(transcript, early, start, end), transcript

    def _heard_so_far(self, utterances_ended: int, samples: int, transcribing: asyncio.Future[Transcript]) -> None:
        """Show an early transcript while the person may still be speaking, unless something newer was shown."""
        if transcribing.cancelled() or transcribing.exception() is not None:
            return
        if utterances_ended != self._utterances_ended or samples <= self._shown_so_far:
            return
        text = transcribing.result().text
        if text and not self.echo.is_echo(text) and not self.wake.waiting(self.clock.heard):
            self._shown_so_far = samples
            self.emit(HeardSoFar(text))

    def _reply_to(self, transcript: Transcript, early: bool, start: float, end: float) -> _Reply | None:
        if not transcript.text or self.echo.is_echo(transcript.text):
            return None
        text = self.wake.turn_text(transcript.text, start, end)
        if not text:
            return None
        latency = Latency(
            transcript=text, stt_ms=transcript.seconds * 1000, stt_model=transcript.model, early_start=early
        )
        return _Reply(self, text, latency)

    async def _drop_early(self) -> None:
        """Throw away the answer begun at the last pause: the person went on, or the turn was not theirs."""
        early, self._early = self._early, None
        if early is None:
            return
        self.early_discarded += 1
        early.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            reply, _ = await early.task
            if reply is not None:
                await reply.discard()

    async def _speech_ended(self, event: SpeechEnded) -> None:
        self._utterances_ended += 1
        self._shown_so_far = 0
        heard_at = time.monotonic()
        endpoint_wait_ms = (heard_at - self.clock.wall(event.end)) * 1000
        if not self._takes_turn():
            await self._drop_early()
            return
        self.talk_armed = False
        reply, transcript = await self._early_or_fresh(event.pcm, event.start, event.end)
        if reply is not None and event.echo_suspect:
            await reply.discard()
            reply = None
        if reply is None:
            self._not_a_turn(transcript, event)
            self._listening()
            return
        if self.reply is not None and not self.reply.task.done():
            spoken = await self.reply.interrupt()
            self.emit(Interrupted(spoken))
            # The new answer began while the conversation still held the whole old one: ask again
            # on what the person heard of it.
            await reply.discard()
            text = reply.latency.transcript
            heard = reply.latency
            reply = _Reply(self, text, Latency(transcript=text, stt_ms=heard.stt_ms, stt_model=heard.stt_model))
        reply.latency.endpoint_wait_ms = endpoint_wait_ms
        reply.latency.turn_probability = event.turn_probability
        reply.latency.ended_by = "silence" if event.by_silence else "turn model"
        reply.speech_end = self.clock.wall(event.end)
        self.emit(Heard(reply.latency.transcript))
        self.reply = reply
        self.wake.reply_started()
        reply.commit()
        self.turns.append(reply.latency)

    def _not_a_turn(self, transcript: Transcript, event: SpeechEnded) -> None:
        if not transcript.text:
            if transcript.dropped:
                self.emit(Ignored(transcript.dropped, "noise"))
        elif event.echo_suspect or self.echo.is_echo(transcript.text):
            self.emit(Ignored(transcript.text, "own voice"))
        elif self.wake.turn_text(transcript.text, event.start, event.end) == "":
            if self.wake.model is None:  # a model's detection was announced as it happened
                self.emit(WakeWordHeard(self.wake.phrase))
            self.emit(Ignored(transcript.text, "wake word"))  # only the call: the next utterance is the turn
        else:
            self.emit(Ignored(transcript.text, "no wake word"))

    async def _early_or_fresh(self, pcm: np.ndarray, start: float, end: float) -> tuple[_Reply | None, Transcript]:
        """The early answer when it heard exactly this utterance; else transcribe and answer now.

        An early transcript the wake gate turned down is judged again: the wake
        word's detection may have come in since.
        """
        early = self._early
        if early is not None and early.samples == len(pcm):
            self._early = None
            reply, transcript = await early.task
            if reply is None:
                reply = self._reply_to(transcript, early=False, start=start, end=end)
            return reply, transcript
        await self._drop_early()
        return await self._answer(pcm, early=False, start=start, end=end)

    def first_audio(self, reply: _Reply) -> None:
        if reply.speech_end is not None and reply.first_audio_at is not None:
            reply.latency.first_audio_ms = (reply.first_audio_at - reply.speech_end) * 1000
        self.ears.echo_reduction()  # the answer's echo figures start with its first sound
        self.emit(Speaking())
