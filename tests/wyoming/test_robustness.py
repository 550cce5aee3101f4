"""Bad events get an ``error`` that says what to send instead, and nothing else is disturbed."""

from __future__ import annotations

import asyncio
import json

import pytest
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart
from wyoming.error import Error
from wyoming.event import Event, async_read_event
from wyoming.info import Describe
from wyoming.tts import Synthesize

from tests.wyoming.wire import HANG_GUARD, is_type, read_one, read_until, send

BAD_EVENTS = {
    "an unknown type": ([Event(type="make-coffee")], "unknown-event", "make-coffee"),
    "a synthesize without text": ([Event(type="synthesize", data={"voice": {}})], "missing-field", "'text'"),
    "an audio-start without a rate": ([Event(type="audio-start", data={"width": 2, "channels": 1})],
                                      "missing-field", "rate"),
    "audio before audio-start": ([AudioChunk(rate=16000, width=2, channels=1, audio=bytes(640)).event()],
                                 "no-audio-start", "send audio-start"),
    "a 24-bit sample width": ([AudioStart(rate=16000, width=3, channels=1).event()], "bad-width", "width 3"),
    "a chunk of half a sample": ([AudioStart(rate=16000, width=2, channels=1).event(),
                                  AudioChunk(rate=16000, width=2, channels=1, audio=bytes(641)).event()],
                                 "bad-audio", "641 bytes"),
    "a huge payload": ([AudioStart(rate=16000, width=2, channels=1).event(),
                        AudioChunk(rate=16000, width=2, channels=1, audio=bytes(3 << 20)).event()],
                       "too-large", "smaller chunks"),
}


@pytest.mark.parametrize("case", BAD_EVENTS, ids=list(BAD_EVENTS))
async def test_a_bad_event_gets_an_error_and_the_connection_keeps_working(wyoming_server, case: str) -> None:
    events, code, words = BAD_EVENTS[case]
    async with wyoming_server.client() as client:
        await send(client, *events, Describe().event())
        replies = await read_until(client, is_type("info"))

    errors = [Error.from_event(event) for event in replies if event.type == "error"]
    assert [error.code for error in errors] == [code]
    assert words in errors[0].text
    assert [event.type for event in replies] == ["error", "info"]


async def test_a_line_that_is_not_json_gets_an_error_and_the_connection_keeps_working(wyoming_server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", wyoming_server.port)
    writer.write(b"this is not json\n" + json.dumps({"type": "describe"}).encode() + b"\n")
    await writer.drain()
    async with asyncio.timeout(HANG_GUARD):
        first, second = await async_read_event(reader), await async_read_event(reader)
    writer.close()

    assert first.type == "error" and "not JSON" in first.data["text"]
    assert second.type == "info"


async def test_one_clients_bad_events_do_not_disturb_another(wyoming_server) -> None:
    async with wyoming_server.client() as rude, wyoming_server.client() as polite:
        await send(rude, AudioStart(rate=16000, width=2, channels=1).event(),
                   AudioChunk(rate=16000, width=2, channels=1, audio=bytes(3 << 20)).event())
        await send(polite, Synthesize(text="Hello there.").event())
        [error] = await read_until(rude, is_type("error"))
        spoken = await read_until(polite, is_type("audio-stop", "error"))

    assert error.data["code"] == "too-large"
    assert spoken[0].type == "audio-start" and spoken[-1].type == "audio-stop"


async def test_a_client_that_leaves_mid_answer_leaves_nothing_running(wyoming_server, scripted_openai) -> None:
    scripted_openai.reply("An answer that would take ten minutes to arrive.", pieces=20, piece_delay=30)
    async with wyoming_server.client() as client:
        await send(client, Transcript(text="Tell me a long story.").event())
        async with asyncio.timeout(HANG_GUARD):
            while not scripted_openai.requests:
                await asyncio.sleep(0.05)

    async with asyncio.timeout(HANG_GUARD):
        while wyoming_server.server.connections or _connection_tasks():
            await asyncio.sleep(0.05)
    async with wyoming_server.client() as client:
        await send(client, Describe().event())
        assert (await read_one(client)).type == "info"


def _connection_tasks() -> list[asyncio.Task]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith("wyoming client")]
