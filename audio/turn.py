"""Whether the speech so far is a finished turn: the Smart Turn v3 model on onnxruntime.

Silence alone cannot tell "What is the capital of France?" from "What is the
capital of ... " followed by a pause to think; Smart Turn listens to the
words and the melody of the last 8 seconds and gives the probability that
the speaker is done. The endpointer asks it at a short pause, so a finished
question ends quickly and an unfinished one waits for more.

The model file ships in the ``pipecat-ai`` wheel (installed with
``--no-deps``); it is found on disk and pipecat itself is never imported.
Its input is Whisper's log-mel spectrogram of the waveform normalized to
zero mean and unit variance; faster-whisper's feature extractor computes
exactly that spectrogram.

The model was trained on human speech. It hears text-to-speech voices end
every phrase, cut or not, with a finished melody, so it calls their
unfinished phrases complete unless they hesitate ("um"); recorded human
speech cut mid-sentence it calls unfinished (bench/turn_model.py).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelNotFound
from .settings import TurnSettings
from .types import SAMPLE_RATE

BUNDLED_MODEL = "smart-turn-v3.2-cpu.onnx"
WINDOW_SAMPLES = 8 * SAMPLE_RATE
"""The model hears the last 8 s; shorter speech is preceded by silence."""
_INPUT = "input_features"
_NORMALIZE_EPSILON = 1e-7


def smart_turn_path(model: Path | None = None) -> Path:
    """``audio.turn.model``, or the bundled file found without importing pipecat (it would pull in its own stack)."""
    if model is not None:
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelNotFound(
                f"audio.turn.model: {path} does not exist; give a Smart Turn .onnx file, "
                "or leave it empty for the bundled one"
            )
        return path
    fix = 'pip install --no-deps "pipecat-ai>=1.14", or set audio.turn.model to a Smart Turn .onnx file'
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"the bundled Smart Turn model is missing: {fix}")
    path = Path(next(iter(spec.submodule_search_locations))) / "audio" / "turn" / "smart_turn" / "data" / BUNDLED_MODEL
    if not path.is_file():
        raise ModelNotFound(f"the bundled Smart Turn model {path} is missing: {fix}")
    return path


class TurnDetector:
    """The probability that a speaker has finished, from the audio of their utterance.

    Every call is blocking (about 0.1-0.2 s on a shared 2-core machine, nearly all
    of it in onnxruntime): run it on a worker thread, never on the event loop.
    One intra-op thread is the default: on 2 cores a second one made it no
    faster (bench/turn_model.py) and would take the core Whisper and Piper need.
    """

    def __init__(self, settings: TurnSettings | None = None, threads: int = 1) -> None:
        import onnxruntime
        from faster_whisper.feature_extractor import FeatureExtractor

        self.settings = settings or TurnSettings()
        path = smart_turn_path(self.settings.model)
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.log_severity_level = 4
        try:
            self._session: Any = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelNotFound(
                f"audio.turn.model: cannot load {path} ({exc}); give a Smart Turn v3 .onnx file"
            ) from None
        inputs = [tensor.name for tensor in self._session.get_inputs()]
        if inputs != [_INPUT]:
            raise ModelNotFound(
                f"audio.turn.model: {path.name} takes inputs {inputs}, not the {_INPUT} of Smart Turn v3; "
                "give a Smart Turn v3 .onnx file"
            )
        self._features = FeatureExtractor(chunk_length=WINDOW_SAMPLES // SAMPLE_RATE)

    def probability(self, pcm: np.ndarray) -> float:
        """How likely the turn is over, given 16 kHz mono float32 speech including the silence after it."""
        if pcm.ndim != 1:
            raise ValueError(f"the turn detector takes mono 16 kHz audio (one dimension), not shape {pcm.shape}")
        window = np.asarray(pcm[-WINDOW_SAMPLES:], np.float32)
        window = np.pad(window, (WINDOW_SAMPLES - len(window), 0))
        window = (window - window.mean()) / np.sqrt(window.var() + _NORMALIZE_EPSILON)
        features = self._features(window, padding=0)
        (output,) = self._session.run(None, {_INPUT: features[np.newaxis]})
        return float(output.item())

    def is_complete(self, pcm: np.ndarray) -> bool:
        """Whether the turn is over by ``audio.turn.threshold``."""
        return self.probability(pcm) >= self.settings.threshold

    def warm(self) -> None:
        """One inference on silence, so that the first real question does not pay onnxruntime's setup."""
        self.probability(np.zeros(SAMPLE_RATE, np.float32))
