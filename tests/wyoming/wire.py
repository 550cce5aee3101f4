"""Talking to the server as Home Assistant does, with the ``wyoming`` package's own client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.event import Event

HANG_GUARD = 120.0
"""Seconds after which a test that got no answer fails instead of hanging the suite."""


async def send(client: AsyncClient, *events: Event) -> None:
    for event in events:
        await client.write_event(event)


async def read_until(client: AsyncClient, last: Callable[[Event], bool]) -> list[Event]:
    """Every event up to and including the first for which ``last`` is true."""
    events: list[Event] = []
    async with asyncio.timeout(HANG_GUARD):
        while True:
            event = await client.read_event()
            assert event is not None, f"the server closed the connection after {[e.type for e in events]}"
            events.append(event)
            if last(event):
                return events


async def read_one(client: AsyncClient) -> Event:
    return (await read_until(client, lambda event: True))[0]


def is_type(*types: str) -> Callable[[Event], bool]:
    return lambda event: event.type in types


def as_pcm16(mono: np.ndarray, channels: int) -> bytes:
    """Float audio as interleaved 16-bit samples on ``channels`` identical channels."""
    samples = (np.clip(mono, -1, 1) * 32767).astype("<i2")
    return np.repeat(samples[:, None], channels, axis=1).tobytes()


def audio_stream(pcm: bytes, rate: int, width: int, channels: int, frames_per_chunk: int = 4096) -> list[Event]:
    """``audio-start``, the audio in chunks, ``audio-stop``, as a satellite streams a recording."""
    step = frames_per_chunk * width * channels
    return [
        AudioStart(rate=rate, width=width, channels=channels).event(),
        *(AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[i:i + step]).event()
          for i in range(0, len(pcm), step)),
        AudioStop().event(),
    ]


def received_audio(events: list[Event]) -> tuple[np.ndarray, int]:
    """The mono float audio of the ``audio-chunk`` events, and its rate."""
    chunks = [AudioChunk.from_event(event) for event in events if event.type == "audio-chunk"]
    assert chunks, f"no audio in {[e.type for e in events]}"
    pcm = np.frombuffer(b"".join(chunk.audio for chunk in chunks), "<i2").astype(np.float32) / 32768
    return pcm, chunks[0].rate
