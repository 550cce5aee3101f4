"""Wake words: openWakeWord models bundled in ``pyopen-wakeword``, nothing downloaded.

    detector = WakeWordDetector("hey_jarvis", threshold=0.5)
    for frame in frames:                       # 16 kHz mono float32, any length
        if (at := detector.feed(frame)) is not None:
            print("heard it, ending at stream second", at)

The models score 80 ms steps; one step costs a few milliseconds of CPU
(TensorFlow Lite), so callers run ``feed`` on a worker thread.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .errors import ModelNotFound
from .settings import WAKE_WORD_MODELS
from .types import SAMPLE_RATE


class WakeWordDetector:
    """One wake-word model over a stream; ``feed`` returns the stream time of a detection."""

    def __init__(self, model: str, threshold: float = 0.5) -> None:
        try:
            from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures
        except ImportError:
            raise ModelNotFound("wake words need pyopen-wakeword: pip install pyopen-wakeword") from None
        if model not in WAKE_WORD_MODELS:
            raise ModelNotFound(f"no bundled wake word '{model}'; choose one of {', '.join(WAKE_WORD_MODELS)}")
        self.model = model
        self.phrase = WAKE_WORD_MODELS[model]
        self.threshold = threshold
        self._features: Any = OpenWakeWordFeatures.from_builtin()
        self._detector: Any = OpenWakeWord.from_builtin(Model(model))
        self._samples = 0
        self._lock = threading.Lock()
        """``feed`` runs on worker threads: ``close`` must not free the models under one."""
        self._closed = False
        self.probability = 0.0
        """The highest score of the last ``feed``."""

    def feed(self, pcm: np.ndarray) -> float | None:
        """Stream seconds at the end of the step that crossed the threshold, or None."""
        audio = (np.clip(pcm, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        with self._lock:
            if self._closed:
                return None
            self._samples += len(pcm)
            scores = [score for features in self._features.process_streaming(audio)
                      for score in self._detector.process_streaming(features)]
            self.probability = max(scores, default=0.0)
            if self.probability < self.threshold:
                return None
            self._reset()
            return self._samples / SAMPLE_RATE

    def reset(self) -> None:
        """Forget the audio so far, so one utterance of the phrase is one detection."""
        with self._lock:
            self._reset()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._features.close()
            self._detector.close()

    def _reset(self) -> None:
        self._features.reset()
        self._detector.reset()
