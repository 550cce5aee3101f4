"""Audio settings: the documented defaults, clear errors for wrong values, and a light ``import audio``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from audio.models import tiny_en_dir, whisper_model_dir
from audio.settings import AudioSettings

DOCUMENTED = Path(__file__).resolve().parents[2] / "config.yaml"
REPO = Path(__file__).resolve().parents[2]


def test_the_documented_section_is_valid_and_says_what_the_defaults_are() -> None:
    section = yaml.safe_load(DOCUMENTED.read_text())["audio"]
    assert AudioSettings.model_validate(section) == AudioSettings()


def test_a_misspelt_key_is_named() -> None:
    with pytest.raises(ValidationError, match="beam_sise"):
        AudioSettings.model_validate({"stt": {"beam_sise": 5}})


def test_the_english_only_model_refuses_another_language() -> None:
    with pytest.raises(ValidationError, match="tiny.en understands English only; set audio.stt.model: base"):
        AudioSettings.model_validate({"stt": {"model": "tiny.en", "language": "de"}})
    assert AudioSettings.model_validate({"stt": {"model": "base", "language": "de"}}).stt.language == "de"


def test_the_pause_must_come_before_the_end_of_the_turn() -> None:
    with pytest.raises(ValidationError, match="pause_ms .* must be shorter than min_silence_ms"):
        AudioSettings.model_validate({"vad": {"pause_ms": 800, "min_silence_ms": 700}})


def test_an_empty_voice_means_the_bundled_voice() -> None:
    assert AudioSettings.model_validate({"tts": {"voice": ""}}).tts.voice is None


def test_the_default_speech_model_is_the_bundled_tiny_en() -> None:
    model_dir = whisper_model_dir(AudioSettings().stt.model)
    assert model_dir == tiny_en_dir()
    assert (model_dir / "model.bin").stat().st_size > 70_000_000


def test_importing_audio_loads_no_speech_engine_or_sound_library() -> None:
    heavy = ["faster_whisper", "ctranslate2", "piper", "onnxruntime", "sounddevice", "av", "numpy"]
    script = (
        "import sys, audio, audio.settings\n"
        "from audio import SpeechChunker, AudioSettings\n"
        f"print([name for name in {heavy!r} if name in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
