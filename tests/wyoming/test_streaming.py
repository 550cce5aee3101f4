"""Streaming where the protocol defines it: words heard so far while the audio arrives, the answer as written."""

from __future__ import annotations

import asyncio

import numpy as np
from wyoming.asr import Transcribe, Transcript, TranscriptChunk
from wyoming.handle import Handled, HandledChunk, HandledStart

from audio import Synthesizer
from audio.types import SAMPLE_RATE
from tests.audio.speech import silence, spoken
from tests.wer import word_error_rate
from tests.wyoming.wire import HANG_GUARD, as_pcm16, audio_stream, is_type, read_until, send

CHUNK_FRAMES = 1024


async def test_words_heard_while_the_audio_still_arrives_come_before_audio_stop(
    wyoming_server, synthesizer: Synthesizer
) -> None:
    pcm = np.concatenate([spoken(synthesizer, "Turn on the kitchen light."), silence(2.0),
                          spoken(synthesizer, "And the fan."), silence(1.0)])
    stream = audio_stream(as_pcm16(pcm, channels=1), rate=SAMPLE_RATE, width=2, channels=1,
                          frames_per_chunk=CHUNK_FRAMES)
    stop_sent = asyncio.Event()
    async with wyoming_server.client() as client:

        async def satellite() -> None:
            """Streams the audio in real time, as a satellite's microphone does."""
            await send(client, Transcribe().event())
            for event in stream:
                if event.type == "audio-stop":
                    stop_sent.set()
                await client.write_event(event)
                if event.type == "audio-chunk":
                    await asyncio.sleep(CHUNK_FRAMES / SAMPLE_RATE)

        sending = asyncio.create_task(satellite())
        received: list[tuple[str, object, bool]] = []
        async with asyncio.timeout(HANG_GUARD):
            while not received or received[-1][0] not in ("transcript-stop", "error"):
                event = await client.read_event()
                received.append((event.type, event, stop_sent.is_set()))
        await sending

    types = [event_type for event_type, _, _ in received]
    assert types[0] == "transcript-start" and types[-2:] == ["transcript", "transcript-stop"], types
    first_chunk = next((event, after_stop) for event_type, event, after_stop in received
                       if event_type == "transcript-chunk")
    assert not first_chunk[1], "the first words came only after audio-stop"
    assert word_error_rate("Turn on the kitchen light.", TranscriptChunk.from_event(first_chunk[0]).text) <= 0.2
    transcript = Transcript.from_event(received[-2][1]).text
    assert word_error_rate("Turn on the kitchen light. And the fan.", transcript) <= 0.2, transcript


async def test_the_answer_arrives_sentence_by_sentence_then_whole(wyoming_server, scripted_openai) -> None:
    scripted_openai.reply("The **kitchen** light is on. The front door is locked.", pieces=6)
    async with wyoming_server.client() as client:
        await send(client, Transcript(text="Is the house ready for the night?",
                                      context={"conversation_id": "hall"}).event())
        events = await read_until(client, is_type("handled-stop", "not-handled", "error"))

    assert [event.type for event in events] == [
        "handled-start", "handled-chunk", "handled-chunk", "handled", "handled-stop"]
    assert HandledStart.from_event(events[0]).context == {"conversation_id": "hall"}
    chunks = [HandledChunk.from_event(event).text for event in events if event.type == "handled-chunk"]
    assert chunks == ["The kitchen light is on.", " The front door is locked."]
    assert Handled.from_event(events[3]).text == "".join(chunks)
