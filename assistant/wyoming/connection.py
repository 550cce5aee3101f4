"""One client's connection: its events read, answered in order, its mistakes answered with ``error``.

Events are read on one task and answered on another, so a client that
disconnects mid-request is noticed at once and its request (a Whisper pass,
Piper speaking, an LLM turn) is cancelled rather than left running for
nobody. A bad event gets an ``error`` naming the problem and the fix; the
connection keeps working.

An audio stream after ``detect`` is listened to for wake words; any other is
transcribed. Where the protocol defines streaming, words heard and sentences
answered are sent as they come (``transcript-chunk``, ``handled-chunk``),
and the whole ``transcript`` or ``handled`` still follows for clients that
do not stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.handle import Handled, HandledChunk, HandledStart, HandledStop, NotHandled
from wyoming.ping import Pong
from wyoming.tts import SynthesizeStopped, SynthesizeVoice
from wyoming.wake import Detect

from audio import Synthesizer, Transcriber
from audio.settings import VADSettings

from .asr import AudioFormat, BadAudio, Recording, spoken_language
from .handle import Conversations
from .info import voice_name
from .live import LiveTranscription
from .protocol import BadEvent, read_event
from .settings import WyomingSettings
from .tts import StreamingText, audio_start, audio_stop, speech_chunks, whole_text_chunks
from .wake import UnknownWakeWord, WakeListening, wake_models

log = logging.getLogger("assistant.wyoming")

QUEUED_EVENTS = 64
"""Events read ahead of the one being answered; beyond this the socket stops being read (TCP backpressure)."""
_ids = itertools.count(1)


@dataclass
class Services:
    """What the server offers, shared by every connection: None for a service that is switched off."""

    settings: WyomingSettings
    info: Event
    transcriber: Transcriber | None
    stt_model: str
    vad: VADSettings
    synthesizer: Synthesizer | None
    conversations: Conversations | None


class Connection:
    """One client: reads its events, answers them one after another, and says what was wrong with bad ones."""

    def __init__(self, services: Services, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.services = services
        self._reader = reader
        self._writer = writer
        self.name = f"client {next(_ids)}"
        self._queue: asyncio.Queue[Event | BadEvent] = asyncio.Queue(QUEUED_EVENTS)
        self._recording: LiveTranscription | None = None
        self._transcript_started = False
        self._language: str | None = None
        self._wake_request: list[str] | None = None
        self._listening: WakeListening | None = None
        self._refusing_stream = False
        self._speech: StreamingText | None = None
        self._busy = False
        self._draining = False
        self._answering: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Until the client leaves (or the server drains); never raises for anything the client does."""
        self._answering = asyncio.create_task(self._answer_events(), name=f"wyoming {self.name}")
        reading = asyncio.create_task(self._read_events(), name=f"wyoming {self.name} reader")
        try:
            await asyncio.wait({self._answering, reading}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reading, self._answering):
                task.cancel()
            await asyncio.gather(reading, self._answering, return_exceptions=True)
            self._forget_recording()
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()

    def _forget_recording(self) -> None:
        if self._recording is not None:
            self._recording.close()
            self._recording = None
        if self._listening is not None:
            self._listening.close()
            self._listening = None

    def drain(self) -> None:
        """Stop after the request being answered; an idle connection closes now."""
        self._draining = True
        if not self._busy and self._answering is not None:
            self._answering.cancel()

    async def _read_events(self) -> None:
        while (event := await read_event(self._reader, self.services.settings.max_payload_bytes)) is not None:
            await self._queue.put(event)

    async def _answer_events(self) -> None:
        while not self._draining:
            event = await self._queue.get()
            self._busy = True
            try:
                if isinstance(event, BadEvent):
                    await self._error(event.text, event.code)
                else:
                    await self._answer(event)
            except ConnectionError:
                return
            finally:
                self._busy = False

    async def _answer(self, event: Event) -> None:
        try:
            await self._dispatch(event)
        except (BadAudio, UnknownWakeWord) as exc:
            await self._error(exc.text, exc.code)
        except KeyError as exc:
            await self._error(f"{event.type} needs the field {exc.args[0]!r}", "missing-field")
        except (TypeError, ValueError, AttributeError) as exc:
            log.warning("%s: %s with data %r failed", self.name, event.type, event.data, exc_info=True)
            await self._error(f"{event.type} has a field of the wrong kind ({exc})", "bad-data")

    async def _dispatch(self, event: Event) -> None:
        handlers = {
            "describe": self._describe, "ping": self._ping,
            "transcribe": self._transcribe, "audio-start": self._audio_start, "audio-chunk": self._audio_chunk,
            "audio-stop": self._audio_stop,
            "synthesize": self._synthesize, "synthesize-start": self._synthesize_start,
            "synthesize-chunk": self._synthesize_chunk, "synthesize-stop": self._synthesize_stop,
            "detect": self._detect, "transcript": self._handle,
        }
        handler = handlers.get(event.type)
        if handler is None:
            await self._error(
                f"unknown event type '{event.type}'; this server answers {', '.join(sorted(handlers))}",
                "unknown-event",
            )
            return
        await handler(event)

    async def _describe(self, event: Event) -> None:
        await self._write(self.services.info)

    async def _ping(self, event: Event) -> None:
        await self._write(Pong(text=event.data.get("text")).event())

    async def _transcribe(self, event: Event) -> None:
        if not await self._offers("asr", self.services.transcriber):
            return
        self._wake_request = self._language = None
        request = Transcribe.from_event(event)
        if request.name not in (None, self.services.stt_model):
            await self._error(f"no speech model named '{request.name}'; this server has "
                              f"'{self.services.stt_model}'", "unknown-model")
        self._language = spoken_language(request.language, self.services.stt_model)

    async def _detect(self, event: Event) -> None:
        defaults = self._default_wake_words()
        if await self._offers("wake", defaults):
            self._wake_request = wake_models(Detect.from_event(event).names, defaults)

    def _default_wake_words(self) -> list[str] | None:
        """The wake words a ``detect`` naming none listens for; None when the server offers no wake words."""
        settings = self.services.settings
        return settings.wake_words if "wake" in settings.services else None

    async def _audio_start(self, event: Event) -> None:
        """The stream is for the wake words after a ``detect`` (or on a server with no speech to text)."""
        wake_request, self._wake_request = self._wake_request, None
        defaults = self._default_wake_words()
        if wake_request is None and (self.services.transcriber is not None or defaults is None):
            await self._start_recording(event)
            return
        self._refusing_stream = False
        self._forget_recording()
        self._listening = await WakeListening.start(AudioFormat.from_data(event.type, event.data),
                                                    wake_request or defaults, self.services.settings.wake_threshold)

    async def _start_recording(self, event: Event) -> None:
        if not await self._offers("asr", self.services.transcriber):
            return
        self._refusing_stream = False
        self._transcript_started = False
        self._forget_recording()
        recording = Recording(AudioFormat.from_data(event.type, event.data), self.services.settings.max_audio_seconds)
        language, self._language = self._language, None
        self._recording = LiveTranscription(self.services.transcriber, recording, self.services.vad,
                                            language=language)

    async def _audio_chunk(self, event: Event) -> None:
        if self._listening is not None:
            await self._listen_for_wake_words(event)
            return
        if self._refusing_stream:
            return
        if self._recording is None:
            await self._error("audio-chunk before audio-start: send audio-start with rate, width and channels first",
                              "no-audio-start")
            return
        try:
            self._recording.add(AudioFormat.from_data(event.type, event.data), event.payload or b"")
        except BadAudio as exc:
            if exc.code == "too-long":
                self._forget_recording()
                self._refusing_stream = True
            raise
        if (words := self._recording.new_words()) is not None:
            await self._transcript_words(words)

    async def _listen_for_wake_words(self, event: Event) -> None:
        timestamp = event.data.get("timestamp")
        heard = await self._listening.add(AudioFormat.from_data(event.type, event.data), event.payload or b"",
                                          timestamp if isinstance(timestamp, int) else None)
        for detection in heard:
            log.info("%s: heard the wake word %s at %d ms", self.name, detection.name, detection.timestamp)
            await self._write(detection.event())

    async def _transcript_words(self, words: str | None) -> None:
        """A ``transcript-chunk`` of ``words`` (if any), after the ``transcript-start`` if not sent yet."""
        if not self._transcript_started:
            self._transcript_started = True
            await self._write(TranscriptStart().event())
        if words:
            await self._write(TranscriptChunk(text=words).event())

    async def _audio_stop(self, event: Event) -> None:
        if self._listening is not None:
            listening, self._listening = self._listening, None
            listening.close()
            if (not_detected := listening.finish()) is not None:
                log.info("%s: the audio stream ended with no wake word heard", self.name)
                await self._write(not_detected.event())
            return
        if self._refusing_stream:
            self._refusing_stream = False
            return
        if self._recording is None or self.services.transcriber is None:
            await self._error("audio-stop before audio-start: send audio-start, the audio-chunks, then audio-stop",
                              "no-audio-start")
            return
        recording = self._recording
        started = time.perf_counter()
        try:
            heard, early = await recording.finish()
        finally:
            recording.close()
            self._recording = None
        log.info("%s: transcribed %.1f s of audio %.2f s after audio-stop (%s): %r", self.name,
                 heard.audio_seconds, time.perf_counter() - started,
                 "early pass" if early else "whole pass at audio-stop", heard.text)
        await self._transcript_words(recording.words_beyond_given(heard.text))
        await self._write(Transcript(text=heard.text, language=heard.language).event())
        await self._write(TranscriptStop().event())
        self._transcript_started = False

    async def _synthesize(self, event: Event) -> None:
        if self._speech is not None:
            return  # the whole text a streaming client also sends, for servers that cannot stream
        synthesizer = await self._voice(event)
        if synthesizer is None:
            return
        text = event.data["text"]
        started = time.perf_counter()
        await self._write(audio_start(synthesizer))
        await self._speak(whole_text_chunks(text))
        await self._write(audio_stop())
        log.info("%s: spoke %d characters in %.2f s", self.name, len(text), time.perf_counter() - started)

    async def _synthesize_start(self, event: Event) -> None:
        if await self._voice(event) is not None:
            self._speech = StreamingText()

    async def _synthesize_chunk(self, event: Event) -> None:
        if self._speech is None:
            await self._error("synthesize-chunk before synthesize-start: send synthesize-start first",
                              "no-synthesize-start")
            return
        await self._speak_streamed(self._speech.feed(event.data["text"]))

    async def _synthesize_stop(self, event: Event) -> None:
        if self._speech is None:
            await self._error("synthesize-stop before synthesize-start: send synthesize-start first",
                              "no-synthesize-start")
            return
        await self._speak_streamed(self._speech.finish())
        if not self._speech.started_audio:
            await self._write(audio_start(self.services.synthesizer))
        self._speech = None
        await self._write(audio_stop())
        await self._write(SynthesizeStopped().event())

    async def _speak_streamed(self, texts: list[str]) -> None:
        """``texts`` of the streamed text spoken, after the ``audio-start`` if this is its first audio."""
        if texts and not self._speech.started_audio:
            self._speech.started_audio = True
            await self._write(audio_start(self.services.synthesizer))
        await self._speak(texts)

    async def _speak(self, texts: list[str]) -> None:
        async for chunk in speech_chunks(self.services.synthesizer, texts):
            await self._write(chunk)

    async def _voice(self, event: Event) -> Synthesizer | None:
        """The synthesizer for the voice asked for; None (after saying why) when there is none."""
        synthesizer = self.services.synthesizer
        if not await self._offers("tts", synthesizer):
            return None
        voice = SynthesizeVoice.from_dict(event.data.get("voice") or {})
        ours = voice_name(synthesizer.voice_path)
        if voice is not None and voice.name not in (None, ours):
            await self._error(f"no voice named '{voice.name}'; this server speaks with '{ours}'", "unknown-voice")
            return None
        return synthesizer

    async def _handle(self, event: Event) -> None:
        conversations = self.services.conversations
        if not await self._offers("handle", conversations):
            return
        request = Transcript.from_event(event)
        if not request.text.strip():
            await self._error("the transcript is empty: there is nothing to answer", "empty-transcript")
            return
        context = request.context if isinstance(request.context, dict) else {}
        conversation_id = str(context.get("conversation_id") or self.name)
        reply_context = {"conversation_id": conversation_id}
        streaming = False

        async def stream(words: str) -> None:
            nonlocal streaming
            if not streaming:
                streaming = True
                await self._write(HandledStart(context=reply_context).event())
            await self._write(HandledChunk(text=words).event())

        started = time.perf_counter()
        answer = await conversations.answer(conversation_id, request.text.strip(), on_words=stream)
        log.info("%s: %s conversation %s in %.2f s", self.name, "answered" if answer.handled else "could not answer",
                 conversation_id, time.perf_counter() - started)
        reply = Handled if answer.handled else NotHandled
        await self._write(reply(text=answer.text, context=reply_context).event())
        if streaming:
            await self._write(HandledStop().event())

    async def _offers(self, service: str, part: object) -> bool:
        if part is None:
            await self._error(f"this server does not offer {service}; add it to wyoming.services", "not-offered")
            return False
        return True

    async def _error(self, text: str, code: str) -> None:
        log.info("%s: error %s: %s", self.name, code, text)
        await self._write(Error(text=text, code=code).event())

    async def _write(self, event: Event) -> None:
        await async_write_event(event, self._writer)
