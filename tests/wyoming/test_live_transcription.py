"""Whisper starts while the audio arrives, and the words after its last early start are never lost."""

from __future__ import annotations

import asyncio

import numpy as np

from assistant.wyoming.asr import AudioFormat, Recording
from assistant.wyoming.live import LiveTranscription
from audio import Synthesizer, Transcriber
from audio.settings import VADSettings
from audio.types import SAMPLE_RATE
from tests.audio.speech import silence, spoken
from tests.wer import word_error_rate
from tests.wyoming.wire import as_pcm16

MONO_16K = AudioFormat(rate=SAMPLE_RATE, width=2, channels=1)


class StreamClock:
    """The time a live stream would show: as much time has passed as audio has been sent."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def hear(transcriber: Transcriber, pcm: np.ndarray, live_pace: bool = True) -> tuple[str, bool]:
    """Stream ``pcm`` in 64 ms chunks, letting early passes run between chunks as a live stream would."""
    clock = StreamClock()
    live = LiveTranscription(transcriber, Recording(MONO_16K, max_seconds=60), VADSettings(), clock=clock)
    data = as_pcm16(pcm, channels=1)
    step = 1024 * 2
    for start in range(0, len(data), step):
        live.add(MONO_16K, data[start:start + step])
        if live_pace:
            clock.now += 1024 / SAMPLE_RATE
        await asyncio.sleep(0)
    transcript, early = await live.finish()
    live.close()
    return transcript.text, early


def without_trailing_silence(pcm: np.ndarray) -> np.ndarray:
    """Cut where the voice last sounds: the stream stops mid-speech, as a satellite's can."""
    return pcm[: np.flatnonzero(np.abs(pcm) > 0.02)[-1] + 1]


async def test_a_command_followed_by_silence_is_answered_by_the_early_pass(
    transcriber: Transcriber, synthesizer: Synthesizer
) -> None:
    text, early = await hear(transcriber, np.concatenate([spoken(synthesizer, "Turn on the kitchen light."),
                                                          silence(1.0)]))

    assert early
    assert word_error_rate("Turn on the kitchen light.", text) <= 0.2, text


async def test_a_recording_that_ends_in_speech_after_a_pause_gets_a_whole_pass(
    transcriber: Transcriber, synthesizer: Synthesizer
) -> None:
    said = np.concatenate([spoken(synthesizer, "Turn on the kitchen light."), silence(0.6),
                           without_trailing_silence(spoken(synthesizer, "And the fan."))])

    text, early = await hear(transcriber, said)

    assert not early
    assert word_error_rate("Turn on the kitchen light. And the fan.", text) <= 0.2, text


async def test_a_recording_sent_faster_than_it_plays_gets_one_whole_pass(
    transcriber: Transcriber, synthesizer: Synthesizer
) -> None:
    command = np.concatenate([spoken(synthesizer, "Turn on the kitchen light."), silence(1.0)])

    text, early = await hear(transcriber, command, live_pace=False)

    assert not early
    assert word_error_rate("Turn on the kitchen light.", text) <= 0.2, text
