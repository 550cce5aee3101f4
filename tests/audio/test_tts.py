"""Synthesizer: real Piper with the bundled voice, sentence by sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import soundfile

from audio.errors import ModelNotFound
from audio.settings import TTSSettings
from audio.stt import Transcriber
from audio.tts import Synthesizer
from audio.types import AudioChunk
from tests.wer import word_error_rate, words


def test_in_slices_each_sentence_starts_with_a_short_piece_so_playback_starts_early(synthesizer: Synthesizer) -> None:
    chunks = list(synthesizer.synthesize("Good morning. It is 7 degrees outside! Will it rain today?", in_slices=True))
    sentences = _sentences(chunks)
    assert [pieces[0].text for pieces in sentences] == [
        "Good morning.",
        "It is 7 degrees outside!",
        "Will it rain today?",
    ]
    assert all(chunk.sample_rate == synthesizer.sample_rate == 22050 for chunk in chunks)
    assert all(chunk.pcm.dtype == np.float32 for chunk in chunks)
    assert all(0.1 < pieces[0].seconds < 0.25 for pieces in sentences), [p[0].seconds for p in sentences]
    assert all(sum(piece.seconds for piece in pieces) > 0.6 for pieces in sentences)


def _sentences(chunks: list[AudioChunk]) -> list[list[AudioChunk]]:
    """Chunks grouped by sentence: a sentence's first piece carries its text, the rest continue it."""
    sentences: list[list[AudioChunk]] = []
    for chunk in chunks:
        if chunk.text:
            sentences.append([chunk])
        else:
            sentences[-1].append(chunk)
    return sentences


def test_for_a_speaker_each_sentence_comes_whole(synthesizer: Synthesizer) -> None:
    chunks = list(synthesizer.synthesize("Good morning. Will it rain today?"))
    assert [chunk.text for chunk in chunks if chunk.text] == ["Good morning.", "Will it rain today?"]
    assert [chunk.text != "" for chunk in chunks] == [True, False, True, False]  # each sentence, then its pause


async def test_a_stream_abandoned_after_its_first_sentence_leaves_the_voice_ready(synthesizer: Synthesizer) -> None:
    sentences = ["First sentence.", "Second sentence.", "Third sentence."]
    stream = synthesizer.stream(" ".join(sentences))
    first = await anext(stream)
    assert first.text == "First sentence."
    await stream.aclose()  # a barge-in: the rest is never synthesized
    rest = [chunk.text async for chunk in synthesizer.stream("Next answer.") if chunk.text]
    assert rest == ["Next answer."]


def test_numbers_survive_a_round_trip_through_speech(
    synthesizer: Synthesizer, transcriber: Transcriber, tmp_path: Path
) -> None:
    said = "Your meeting is at 3 o'clock. It will take 45 minutes. Room 12 is on the second floor."
    wav = tmp_path / "said.wav"
    seconds = synthesizer.write_wav(said, wav)
    info = soundfile.info(wav)
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert info.duration == pytest.approx(seconds, abs=0.01)
    heard = transcriber.transcribe_file(wav).text
    assert word_error_rate(said, heard) <= 0.2, heard
    assert {"3", "45", "12"} <= set(words(heard)), heard


def test_markdown_is_spoken_as_words(synthesizer: Synthesizer, transcriber: Transcriber, tmp_path: Path) -> None:
    wav = tmp_path / "md.wav"
    synthesizer.write_wav("## Tomorrow\n\n**Sunny** with a [light breeze](https://example.com/wind).", wav)
    heard = words(transcriber.transcribe_file(wav).text)
    assert {"tomorrow", "sunny", "light", "breeze"} <= set(heard)
    assert not {"asterisk", "hash", "https", "example"} & set(heard)


def seconds_spoken(settings: TTSSettings, text: str) -> float:
    """Piper draws each sound's length at random: a voice loaded after the same seed makes the same draw."""
    onnxruntime.set_seed(0)
    synthesizer = Synthesizer(settings)
    try:
        return sum(chunk.seconds for chunk in synthesizer.synthesize(text))
    finally:
        synthesizer.close()


def test_speed_makes_speech_faster() -> None:
    text = "This sentence is spoken at two different speeds."
    normal = seconds_spoken(TTSSettings(), text)
    quick = seconds_spoken(TTSSettings(speed=1.5), text)
    assert quick < normal * 0.8


def test_a_missing_voice_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="audio.tts.voice: .*nope.onnx does not exist"):
        Synthesizer(TTSSettings(voice=tmp_path / "nope.onnx"))
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(b"\0")
    with pytest.raises(ModelNotFound, match=r"has no lonely.onnx.json beside it"):
        Synthesizer(TTSSettings(voice=lonely))
