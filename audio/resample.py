"""Sample-rate conversion with libswresample (through PyAV, which faster-whisper already needs).

Whisper and silero want 16 kHz, Piper voices speak at 16 or 22.05 kHz and
sound cards prefer 44.1 or 48 kHz; PyAV's resampler filters properly and
keeps its state between blocks, so a live stream can be converted piece by
piece without clicks at the block edges.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class StreamResampler:
    """Converts one mono float32 stream block by block; ``flush()`` returns what the filter still holds."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        import av

        self._from_rate = from_rate
        self._av = av
        self._resampler: Any = av.AudioResampler(format="flt", layout="mono", rate=to_rate)

    def convert(self, pcm: np.ndarray) -> np.ndarray:
        if pcm.size == 0:
            return np.zeros(0, np.float32)
        frame = self._av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = self._from_rate
        return _join(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        return _join(self._resampler.resample(None))


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """A whole mono float32 buffer at another rate."""
    if from_rate == to_rate:
        return np.asarray(pcm, dtype=np.float32)
    resampler = StreamResampler(from_rate, to_rate)
    return np.concatenate([resampler.convert(pcm), resampler.flush()])


def _join(frames: list[Any]) -> np.ndarray:
    if not frames:
        return np.zeros(0, np.float32)
    return np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames]).astype(np.float32, copy=False)
