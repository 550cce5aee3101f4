"""Is the person talking while the speaker plays? A linear echo canceller that keeps their voice intact.

AEC3 (``audio.aec``) cleans the microphone for listening, but when the echo
is as loud as the person its residual-echo suppressor also carves up their
voice: silero finds almost no speech in its output while both talk (see
BENCHMARKS.md, "Room"). Barge-in has to decide in exactly that moment. So
it listens to the output of this purely linear canceller instead, which
subtracts an estimate of the echo and leaves everything else untouched.

A partitioned-block frequency-domain adaptive filter (one 32 ms frame per
block, covering ``tail_ms`` of room), in the two-path form: a background
filter always adapts; the foreground filter, whose residual is the output,
takes the background's coefficients only while they cancel better. When the
person talks the background filter is misled and cancels worse, so the
foreground keeps the room it learnt.
"""

from __future__ import annotations

import numpy as np

from .types import SAMPLE_RATE

_BLOCK = 512
"""One microphone frame (32 ms): smaller blocks cost more and learn the room no faster (BENCHMARKS.md)."""
_STEP = 1.0
"""Normalised step of the background filter: the fastest stable choice: it learns a room in two to four seconds of speech."""
_REGULARISATION = 1e-3
_COPY_MARGIN = 0.8
"""The background must leave less than this share of the foreground's residual to replace it ..."""
_COPY_ERLE = 0.25
"""... and less than this share of what the microphone heard (10 dB): a filter misled by the person cannot ..."""
_COPY_AFTER_BLOCKS = 3
"""... for this many blocks in a row."""
CONVERGED_DB = 12.0
CONVERGED_BLOCKS = 16
"""The room counts as learnt once ``CONVERGED_DB`` of echo has been removed for half a second. Reaching
12 dB once was too early: its residual echo in the next second passed for a voice over the answer and
stopped it, in 3 to 14 of 96-120 replayed rooms (bench/echo_replay.py; tests/assistant/test_ears_in_a_room.py
keeps three); held for half a second, in none. 15 dB held stopped none either but, in a room whose echo
is barely above the noise (-10 dB), never counted the room as learnt: 1 of 8 people barged in, against 5."""
_ERLE_SMOOTHING = 0.9
"""About a third of a second of 32 ms frames."""
_PLAYING = 1e-7
_AUDIBLE = 1e-7
"""Mean square below which the microphone heard nothing (about -70 dBFS)."""


class EchoResidual:
    """``residual(near, far)``: the microphone minus the linear echo of what played, frame by frame."""

    def __init__(self, tail_ms: float = 500.0, block: int = _BLOCK) -> None:
        self._block = block
        self._partitions = max(1, int(np.ceil(tail_ms / 1000 * SAMPLE_RATE / self._block)))
        bins = self._block + 1
        self._far_spectra = np.zeros((self._partitions, bins), np.complex128)
        self._background = np.zeros((self._partitions, bins), np.complex128)
        self._foreground = np.zeros((self._partitions, bins), np.complex128)
        self._previous_far = np.zeros(self._block, np.float64)
        self._better_blocks = 0
        self._converging_blocks = 0
        self._heard_energy = 0.0
        self._residual_energy = 0.0
        self.last_block = np.zeros(self._block, np.float32)
        self.echo_energy = 0.0
        """Energy of the echo the filter took out of the last block ..."""
        self.residual_energy = 0.0
        """... and of what it left."""
        self.converged = False
        """The filter has learnt the room (``CONVERGED_DB`` of echo removed); until then its output still echoes."""

    def residual(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """``near`` heard by the microphone while ``far`` played (a whole number of blocks), minus the echo."""
        block = self._block
        parts = [self._block_residual(near[i : i + block], far[i : i + block]) for i in range(0, len(near), block)]
        self.last_block = parts[-1]
        return np.concatenate(parts)

    def _block_residual(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        far = np.asarray(far, np.float64)
        spectrum = np.fft.rfft(np.concatenate([self._previous_far, far]))
        self._previous_far = far
        self._far_spectra = np.roll(self._far_spectra, 1, axis=0)
        self._far_spectra[0] = spectrum
        near = np.asarray(near, np.float64)
        echo = self._estimate(self._foreground)
        foreground_error = near - echo
        self.echo_energy = float(np.sum(echo**2))
        background_error = near - self._estimate(self._background)
        self._adapt(background_error)
        background, foreground, heard = (float(np.sum(e**2)) for e in (background_error, foreground_error, near))
        better = background < _COPY_MARGIN * foreground and background < _COPY_ERLE * heard
        self._better_blocks = self._better_blocks + 1 if better else 0
        self.residual_energy = foreground
        if self._better_blocks >= _COPY_AFTER_BLOCKS:
            self._foreground = self._background.copy()
        if float(np.mean(far**2)) > _PLAYING:
            self._heard_energy = _ERLE_SMOOTHING * self._heard_energy + heard
            self._residual_energy = _ERLE_SMOOTHING * self._residual_energy + foreground
            self._converging_blocks = self._converging_blocks + 1 if self.erle_db >= CONVERGED_DB else 0
            self.converged = self.converged or self._converging_blocks >= CONVERGED_BLOCKS
        return foreground_error.astype(np.float32)

    @property
    def erle_db(self) -> float:
        """Echo removed over the last second or so of playback."""
        if self._heard_energy < _AUDIBLE * self._block or self._residual_energy <= 0:
            return 0.0  # nothing has reached the microphone yet
        return 10 * float(np.log10(self._heard_energy / self._residual_energy))

    def _estimate(self, weights: np.ndarray) -> np.ndarray:
        echo = np.fft.irfft(np.sum(weights * self._far_spectra, axis=0))
        return echo[self._block :]

    def _adapt(self, error: np.ndarray) -> None:
        power = np.sum(np.abs(self._far_spectra) ** 2, axis=0)
        error_spectrum = np.fft.rfft(np.concatenate([np.zeros(self._block), error]))
        gradient = self._far_spectra.conj() * (error_spectrum / (power + _REGULARISATION))
        constrained = np.fft.irfft(gradient, axis=1)
        constrained[:, self._block :] = 0.0
        self._background += _STEP * np.fft.rfft(constrained, axis=1)
