"""What `assistant transcribe`, `assistant say -o` and `assistant doctor` get from the audio package."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio.commands import say, transcribe_file
from audio.doctor import check_audio
from audio.errors import AudioFileError
from audio.settings import AudioSettings
from audio.stt import Transcriber
from tests.audio.speech import JFK_PATH, JFK_TEXT
from tests.wer import word_error_rate, words


def test_transcribe_prints_what_the_recording_says() -> None:
    transcript = transcribe_file(JFK_PATH)
    assert word_error_rate(JFK_TEXT, transcript.text) <= 0.1


def test_transcribe_names_a_file_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no such file"):
        transcribe_file(tmp_path / "nothing.mp3")


async def test_say_with_an_output_file_writes_the_speech_there(transcriber: Transcriber, tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    seconds = await say("Good evening. Your pizza arrives in 30 minutes.", output=out)
    assert seconds > 2.0
    heard = words(transcriber.transcribe_file(out).text)
    assert {"evening", "pizza", "30", "minutes"} <= set(heard)


def test_doctor_finds_the_bundled_models_without_loading_them(tmp_path: Path) -> None:
    checks = {check.name: check for check in check_audio(AudioSettings(cache_dir=tmp_path))}
    assert checks["speech recognition (Whisper tiny.en)"].ok
    assert checks["speech recognition, fallback (Whisper base)"].ok
    assert checks["speech (Piper voice)"].ok
    assert checks["end of turn (Smart Turn v3)"].ok and checks["end of turn (Smart Turn v3)"].detail.endswith(".onnx")
    base = check_audio(AudioSettings.model_validate({"stt": {"model": "base"}, "cache_dir": tmp_path}))[0]
    assert base.ok and base.detail == f"assembled into {tmp_path / 'whisper-base-ct2'} on first use"


def test_doctor_says_how_to_choose_another_microphone() -> None:
    checks = {check.name: check for check in check_audio(AudioSettings(input_device="no such microphone"))}
    microphone = checks["microphone"]
    assert not microphone.ok
    assert "'no such microphone'" in microphone.detail
    assert "python -m sounddevice" in microphone.fix and "audio.input_device" in microphone.fix
