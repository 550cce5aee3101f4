"""The end-of-turn model: a finished question ends the turn, speech that stops mid-thought does not.

Material the model was never tuned on, the same every run: espeak-ng voices
and the JFK recording cut at word ends (times from Whisper's word
timestamps). Text-to-speech voices finish every phrase with a falling
melody, so unfinished speech in them is a hesitation ("..., um"); plain
unfinished sentences come from the human recording.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from audio.errors import ModelNotFound
from audio.settings import TurnSettings
from audio.turn import TurnDetector, smart_turn_path
from audio.types import SAMPLE_RATE
from tests.audio.speech import espeak, silence

VOICES = ["en-us", "en-us+f3", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp+f2"]
"""US, UK, Scottish and Caribbean English; male and female."""
PAUSE = silence(0.2)
"""The short silence after which the endpointer asks the model."""

JFK_END_OF_SENTENCE_S = 10.50
"""Just after "... ask what you can do for your country."."""
JFK_MID_SENTENCE_S = 7.24
"""Just after "... ask not what your country can do for"."""


@pytest.fixture(scope="module")
def detector() -> Iterator[TurnDetector]:
    detector = TurnDetector()
    detector.warm()
    yield detector


def jfk_until(jfk: np.ndarray, seconds: float) -> np.ndarray:
    return np.concatenate([jfk[: round(seconds * SAMPLE_RATE)], PAUSE])


@pytest.mark.parametrize("voice", VOICES)
def test_a_finished_question_ends_the_turn_in_every_voice(detector: TurnDetector, voice: str) -> None:
    question = np.concatenate([espeak("What is the capital of France?", voice), PAUSE])

    assert detector.is_complete(question)


@pytest.mark.parametrize("voice", VOICES)
def test_a_question_trailing_off_into_um_does_not_end_the_turn(detector: TurnDetector, voice: str) -> None:
    hesitation = np.concatenate([espeak("What is the capital of, um", voice), PAUSE])

    assert not detector.is_complete(hesitation)


def test_a_person_stopping_mid_sentence_has_not_finished(detector: TurnDetector, jfk: np.ndarray) -> None:
    assert not detector.is_complete(jfk_until(jfk, JFK_MID_SENTENCE_S))
    assert detector.is_complete(jfk_until(jfk, JFK_END_OF_SENTENCE_S))


def test_the_threshold_decides_how_sure_the_model_must_be(jfk: np.ndarray) -> None:
    sentence = jfk_until(jfk, JFK_END_OF_SENTENCE_S)
    lenient, strict = TurnDetector(TurnSettings(threshold=0.05)), TurnDetector(TurnSettings(threshold=0.99))

    assert 0.05 < lenient.probability(sentence) == strict.probability(sentence) < 0.99
    assert lenient.is_complete(sentence) and not strict.is_complete(sentence)


def test_a_long_turn_is_judged_by_its_last_eight_seconds(detector: TurnDetector, jfk: np.ndarray) -> None:
    long_turn = np.concatenate([jfk, espeak("What is the capital of France?", "en-us"), PAUSE])

    assert detector.probability(long_turn) == detector.probability(long_turn[-8 * SAMPLE_RATE :])


def test_stereo_audio_is_refused_with_the_shape_it_got(detector: TurnDetector) -> None:
    with pytest.raises(ValueError, match=r"mono 16 kHz.*\(2, 16000\)"):
        detector.probability(np.zeros((2, SAMPLE_RATE), np.float32))


def test_the_bundled_model_is_found_without_importing_pipecat() -> None:
    path = smart_turn_path()

    assert path.name == "smart-turn-v3.2-cpu.onnx" and path.is_file()
    assert "pipecat" not in sys.modules


def test_a_missing_bundled_model_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)

    with pytest.raises(ModelNotFound, match=r'pip install --no-deps "pipecat-ai>=1\.14".*audio\.turn\.model'):
        smart_turn_path()


def test_a_pipecat_without_the_model_file_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stripped = importlib.machinery.ModuleSpec("pipecat", None, is_package=True)
    stripped.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: stripped)

    with pytest.raises(ModelNotFound, match=r'smart-turn-v3\.2-cpu\.onnx is missing: pip install --no-deps "pipecat-ai'):
        smart_turn_path()


def test_a_wrong_model_path_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=r"audio\.turn\.model: .*nowhere\.onnx does not exist"):
        TurnDetector(TurnSettings(model=tmp_path / "nowhere.onnx"))


def test_a_file_that_is_not_a_model_names_the_setting(tmp_path: Path) -> None:
    not_a_model = tmp_path / "notes.onnx"
    not_a_model.write_text("shopping list")

    with pytest.raises(ModelNotFound, match=r"audio\.turn\.model: cannot load .*notes\.onnx"):
        TurnDetector(TurnSettings(model=not_a_model))
