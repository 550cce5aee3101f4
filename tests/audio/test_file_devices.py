"""WAV files as microphone and speaker: headless runs hear and speak like the real devices."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import soundfile

from audio.devices import AudioInput, WavFileInput
from audio.output import AudioOutput, WavFileOutput
from audio.stt import Transcriber
from audio.tts import Synthesizer
from audio.types import FRAME_SAMPLES, SAMPLE_RATE, AudioChunk
from audio.vad import Endpointer, SpeechEnded
from tests.audio.speech import JFK_PATH, JFK_TEXT
from tests.wer import word_error_rate, words


async def test_a_recording_is_heard_through_the_endpointer_like_a_microphone(transcriber: Transcriber) -> None:
    mic = WavFileInput(JFK_PATH, trailing_silence=2.0)
    assert isinstance(mic, AudioInput)
    endpointer = Endpointer()
    frames, turns = 0, []
    async for frame in mic:
        assert frame.shape == (FRAME_SAMPLES,) and frame.dtype == np.float32
        frames += 1
        turns += [event for event in endpointer.feed(frame) if isinstance(event, SpeechEnded)]
    assert frames * FRAME_SAMPLES == len(mic.pcm) >= 13 * SAMPLE_RATE
    heard = " ".join(transcriber.transcribe(turn.pcm).text for turn in turns)
    assert word_error_rate(JFK_TEXT, heard) <= 0.15, heard


async def test_a_realtime_recording_arrives_no_faster_than_it_was_spoken() -> None:
    mic = WavFileInput(JFK_PATH, realtime=True)
    started, frames = time.monotonic(), 0
    async for _ in mic:
        frames += 1
        if frames == 16:
            break
    await mic.close()
    assert time.monotonic() - started >= 16 * FRAME_SAMPLES / SAMPLE_RATE


async def test_the_speaker_file_holds_the_reply_after_the_silence_before_it(
    synthesizer: Synthesizer, transcriber: Transcriber, tmp_path: Path
) -> None:
    speaker = WavFileOutput(tmp_path / "speaker.wav")
    assert isinstance(speaker, AudioOutput)
    await asyncio.sleep(0.3)  # the assistant is still thinking
    async for chunk in synthesizer.stream("The oven is at 200 degrees. Dinner in 20 minutes."):
        await speaker.play(chunk)
    playback = await speaker.drain()
    await speaker.close()
    assert not playback.interrupted
    assert playback.spoken_text == "The oven is at 200 degrees. Dinner in 20 minutes."
    audio, rate = soundfile.read(tmp_path / "speaker.wav", dtype="float32")
    first_sound = np.flatnonzero(np.abs(audio) > 0.01)[0] / rate
    assert first_sound >= 0.3
    heard = transcriber.transcribe_file(tmp_path / "speaker.wav").text
    assert {"200", "20", "dinner", "oven"} <= set(words(heard)), heard


async def test_chunks_play_back_to_back_without_gaps(tmp_path: Path) -> None:
    tone = np.full(2205, 0.5, np.float32)
    speaker = WavFileOutput(tmp_path / "tones.wav")
    for _ in range(3):
        await speaker.play(AudioChunk(tone, 22050, "beep"))
    await speaker.drain()
    await speaker.close()
    audio, _ = soundfile.read(tmp_path / "tones.wav", dtype="float32")
    sounding = np.flatnonzero(audio > 0.25)
    assert len(sounding) == 3 * len(tone)
    assert sounding[-1] - sounding[0] + 1 == 3 * len(tone)


async def test_stop_cuts_the_reply_and_reports_only_the_words_heard(
    synthesizer: Synthesizer, tmp_path: Path
) -> None:
    first = "This is the first sentence of a long answer that goes on for a while."
    second = "Nobody will ever hear this second sentence."
    speaker = WavFileOutput(tmp_path / "cut.wav")
    async for chunk in synthesizer.stream(f"{first} {second}"):
        await speaker.play(chunk)
    while speaker.played_seconds < 1.0:
        await asyncio.sleep(0.02)
    playback = speaker.stop()  # the user barged in
    await speaker.close()
    assert playback.interrupted
    assert 1.0 <= playback.played_seconds < playback.queued_seconds
    spoken = playback.spoken_text.split()
    assert 0 < len(spoken) < len(first.split())
    assert first.startswith(playback.spoken_text)
    audio, rate = soundfile.read(tmp_path / "cut.wav", dtype="float32")
    assert len(audio) / rate < playback.queued_seconds
