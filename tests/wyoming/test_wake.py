"""Home Assistant using Rosey to listen for a wake word (``detect`` + audio in, ``detection`` out)."""

from __future__ import annotations

import asyncio

import numpy as np
from wyoming.audio import AudioChunk
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.wake import Detect, Detection

from audio import Synthesizer
from audio.resample import resample
from audio.types import SAMPLE_RATE
from audio.wakeword import WAKE_WORD_MODELS
from tests.audio.speech import silence, spoken
from tests.wyoming.wire import HANG_GUARD, as_pcm16, audio_stream, is_type, read_one, read_until, send


def said(synthesizer: Synthesizer, text: str) -> np.ndarray:
    """``text`` as Piper says it, with the pauses a room has around it, at 16 kHz."""
    return np.concatenate([silence(0.5), spoken(synthesizer, text), silence(1.0)])


def satellite_audio(pcm: np.ndarray, rate: int = 48_000, channels: int = 2) -> list:
    """``pcm`` as a satellite's microphone streams it: 48 kHz stereo here, so the server has to convert it."""
    return audio_stream(as_pcm16(resample(pcm, SAMPLE_RATE, rate), channels), rate=rate, width=2, channels=channels,
                        frames_per_chunk=1024)


async def listen(server, detect: Detect, pcm: np.ndarray) -> list:
    """Every event the server sends for one detect and audio stream, up to the info of a describe sent after."""
    async with server.client() as client:
        await send(client, detect.event(), *satellite_audio(pcm), Describe().event())
        return await read_until(client, is_type("info"))


async def test_describe_lists_the_bundled_wake_words_with_their_phrases(wyoming_server) -> None:
    async with wyoming_server.client() as client:
        await send(client, Describe().event())
        info = Info.from_event(await read_one(client))

    [wake] = info.wake
    assert {model.name: model.phrase for model in wake.models} == WAKE_WORD_MODELS
    assert all(model.languages == ["en"] and model.installed for model in wake.models)


async def test_hey_jarvis_is_detected_where_it_is_said(wyoming_server, synthesizer: Synthesizer) -> None:
    pcm = said(synthesizer, "Hey Jarvis, turn on the kitchen light.")

    events = await listen(wyoming_server, Detect(names=["hey_jarvis"]), pcm)

    assert [event.type for event in events] == ["detection", "info"], [event.data for event in events]
    detection = Detection.from_event(events[0])
    assert detection.name == "hey_jarvis"
    assert 500 <= detection.timestamp <= 500 + 2_500, "heard at the phrase, not the end of the command"


async def test_a_detection_carries_the_timestamp_of_the_clients_chunk_it_was_heard_in(
    wyoming_server, synthesizer: Synthesizer
) -> None:
    stream = satellite_audio(said(synthesizer, "Hey Jarvis, what time is it?"), rate=SAMPLE_RATE, channels=1)
    chunks = [AudioChunk.from_event(event) for event in stream[1:-1]]
    stamped = [AudioChunk(rate=c.rate, width=c.width, channels=c.channels, audio=c.audio, timestamp=1_000_000 + 64 * n)
               for n, c in enumerate(chunks)]
    async with wyoming_server.client() as client:
        await send(client, Detect(names=["hey_jarvis"]).event(), stream[0],
                   *(chunk.event() for chunk in stamped), stream[-1])
        [detection] = await read_until(client, is_type("detection", "not-detected", "error"))

    assert detection.type == "detection"
    assert detection.data["timestamp"] in {chunk.timestamp for chunk in stamped}


async def test_ordinary_speech_is_not_detected(wyoming_server, synthesizer: Synthesizer) -> None:
    events = await listen(wyoming_server, Detect(names=["hey_jarvis"]), said(synthesizer, "Turn on the kitchen light."))

    assert [event.type for event in events] == ["not-detected", "info"]


async def test_a_detect_naming_no_wake_word_listens_for_the_configured_ones(
    wyoming_server, synthesizer: Synthesizer
) -> None:
    assert wyoming_server.server.services.settings.wake_words == ["okay_nabu"]

    events = await listen(wyoming_server, Detect(), said(synthesizer, "Okay Nabu, turn off the lights."))

    assert [(event.type, event.data.get("name")) for event in events] == [("detection", "okay_nabu"), ("info", None)]


async def test_an_unknown_wake_word_gets_an_error_and_the_connection_keeps_working(
    wyoming_server, synthesizer: Synthesizer
) -> None:
    async with wyoming_server.client() as client:
        await send(client, Detect(names=["hey_siri"]).event())
        error = Error.from_event(await read_one(client))
        await send(client, Detect(names=["Hey Jarvis"]).event(),
                   *satellite_audio(said(synthesizer, "Hey Jarvis, lock the front door.")))
        [detection] = await read_until(client, is_type("detection", "not-detected", "error"))

    assert error.code == "unknown-wake-word"
    assert "hey_siri" in error.text and "hey_jarvis" in error.text
    assert (detection.type, detection.data["name"]) == ("detection", "hey_jarvis")


async def test_a_satellite_that_leaves_mid_stream_leaves_nothing_running(
    wyoming_server, synthesizer: Synthesizer
) -> None:
    stream = satellite_audio(said(synthesizer, "Turn on the kitchen light."))
    async with wyoming_server.client() as client:
        await send(client, Detect(names=["hey_jarvis", "alexa"]).event(), *stream[:len(stream) // 2])

    async with asyncio.timeout(HANG_GUARD):
        while wyoming_server.server.connections:
            await asyncio.sleep(0.05)
    events = await listen(wyoming_server, Detect(names=["hey_jarvis"]), said(synthesizer, "Hey Jarvis, lights on."))
    assert [event.type for event in events] == ["detection", "info"]
