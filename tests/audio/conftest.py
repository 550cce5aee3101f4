"""Real speech parts for the audio tests: the bundled Whisper models and Piper voice, loaded once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from audio.settings import STTSettings
from audio.stt import Transcriber, read_audio
from audio.tts import Synthesizer
from tests.audio.speech import JFK_PATH


@pytest.fixture(scope="session")
def jfk() -> np.ndarray:
    """11 s of real human speech, 16 kHz mono float32."""
    return read_audio(JFK_PATH)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where Whisper base is assembled during the tests, away from the user's cache."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def transcriber() -> Iterator[Transcriber]:
    """Whisper tiny.en alone (the default's first model), warm."""
    transcriber = Transcriber(STTSettings(model="tiny.en", fallback_model=None))
    transcriber.warm()
    yield transcriber
    transcriber.close()


@pytest.fixture(scope="session")
def synthesizer() -> Iterator[Synthesizer]:
    """The bundled Piper voice, warm, its random draws seeded so that what it says sounds the same every run."""
    onnxruntime.set_seed(0)
    synthesizer = Synthesizer()
    synthesizer.warm()
    yield synthesizer
    synthesizer.close()
